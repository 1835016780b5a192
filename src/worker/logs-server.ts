import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { InvalidArgumentError, NotFoundError } from '../types/errors';
import { grpcStatusOf } from '../types/grpc-status';
import { clusterPolicy, type AuthzPolicy } from '../pki/authz';
import { checkPeerNode } from '../pki/tls-credentials';
import type { NodeIdentity } from '../pki/node-identity';
import type { ContainerRuntime } from '../runtime/container-runtime';

function protoDir(): string {
  const up = __dirname.includes(`${path.sep}dist${path.sep}`) ? '../../..' : '../..';
  return path.resolve(__dirname, up, 'proto');
}

/** The generated client constructor of shoal.worker.Logs (its `.service` is the server definition). */
export const LogsClientCtor = (grpc.loadPackageDefinition(loadSync(path.join(protoDir(), 'worker-logs.proto'), {
  longs: Number, defaults: true, keepCase: false,
})) as unknown as { shoal: { worker: { Logs: grpc.ServiceClientConstructor } } }).shoal.worker.Logs;

/** The cluster policy plus the agent's own service, which only managers may call. */
export const workerPolicy: AuthzPolicy = { ...clusterPolicy, 'shoal.worker.Logs': ['manager'] };

/** Credentials a manager uses to call an agent: its own certificate, and the agent must show a worker or manager certificate of this cluster. */
export function workerChannelCredentials(identity: NodeIdentity): grpc.ChannelCredentials {
  return grpc.experimental.createCertificateProviderChannelCredentials(identity, identity, {
    checkServerIdentity: checkPeerNode(identity.info.clusterId, ['worker', 'manager']),
  });
}

/** Registers shoal.worker.Logs: a task's logs from the runtime, found by its task id (the container is named after it). */
export function addLogsService(server: grpc.Server, runtime: ContainerRuntime, containerOf: (taskId: string) => string | undefined): void {
  server.addService(LogsClientCtor.service, {
    TaskLogs: (call: grpc.ServerWritableStream<Record<string, unknown>, unknown>) => {
      void (async () => {
        const r = call.request;
        const taskId = typeof r.taskId === 'string' ? r.taskId : '';
        if (taskId === '') throw new InvalidArgumentError('task_id is required');
        const tail = typeof r.tail === 'number' ? r.tail : -1;
        if (tail < -1) throw new InvalidArgumentError(`tail must be -1 (all) or a non-negative number of lines, got ${tail}`);
        const cid = containerOf(taskId);
        if (cid === undefined) throw new NotFoundError(`task ${taskId} has no container on this node`);
        const sinceMs = typeof r.sinceMs === 'number' && r.sinceMs > 0 ? r.sinceMs : undefined;
        for await (const e of runtime.logs(cid, { follow: r.follow === true, tail: tail >= 0 ? tail : undefined, sinceMs })) {
          if (call.cancelled) return;
          call.write({ stream: e.stream, time: r.timestamps === true ? e.time : '', line: e.line });
        }
        call.end();
      })().catch((err: unknown) => {
        const st = grpcStatusOf(err);
        call.emit('error', Object.assign(new Error(st.details), st));
      });
    },
  });
}
