import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { InvalidArgumentError, UnauthenticatedError, UnavailableError } from '../../types/errors';
import { grpcStatusOf } from '../../types/grpc-status';
import type { NodeDescription, TaskStatus } from '../../types/objects';
import { verifiedPeer } from '../../pki/authz';
import type { AssignmentMessage } from './assignments';
import type { Dispatcher } from './dispatcher';

function protoDir(): string {
  const up = __dirname.includes(`${path.sep}dist${path.sep}`) ? '../../../..' : '../../..';
  return path.resolve(__dirname, up, 'proto');
}

/** The generated client constructor of shoal.dispatcher.Dispatcher (its `.service` is the server definition). */
export const DispatcherClientCtor = (grpc.loadPackageDefinition(loadSync(path.join(protoDir(), 'dispatcher.proto'), {
  longs: Number, defaults: true, keepCase: false,
})) as unknown as { shoal: { dispatcher: { Dispatcher: grpc.ServiceClientConstructor } } }).shoal.dispatcher.Dispatcher;

/** Bound on messages queued before a session's id is known (the complete set comes first). */
const EARLY_MESSAGES_MAX = 16;

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

type Call = grpc.ServerUnaryCall<Record<string, unknown>, unknown> | grpc.ServerWritableStream<Record<string, unknown>, unknown>;

function parseJson<T>(field: string, v: unknown): T {
  if (typeof v !== 'string' || v === '') throw new InvalidArgumentError(`${field} must be a JSON document, got ${JSON.stringify(v)}`);
  try {
    return JSON.parse(v) as T;
  } catch (err) {
    throw new InvalidArgumentError(`${field} is not valid JSON: ${(err as Error).message}`);
  }
}

/** The calling node, from its verified certificate: a worker can only speak for itself. */
function callerNode(call: Call): string {
  const peer = verifiedPeer(call.getAuthContext());
  if (peer === undefined) throw new UnauthenticatedError('a worker session needs a node certificate');
  return peer.nodeId;
}

function toWire(sessionId: string, periodMs: number, m: AssignmentMessage): Record<string, unknown> {
  return {
    sessionId, sequence: m.sequence, type: m.type, heartbeatPeriodMs: periodMs,
    changes: m.changes.map((c) => (c.action === 'update' ? { action: 'update', taskJson: JSON.stringify(c.task) } : { action: 'remove', taskId: c.taskId })),
  };
}

/**
 * Registers shoal.dispatcher.Dispatcher: a thin gRPC shell over the leader's Dispatcher. A
 * manager that does not lead refuses with UNAVAILABLE; the worker tries the next manager.
 */
export function addDispatcherService(server: grpc.Server, leaderDispatcher: () => Dispatcher | undefined): void {
  const need = (): Dispatcher => {
    const d = leaderDispatcher();
    if (d === undefined) throw new UnavailableError('this manager is not the leader', { hint: 'connect to another manager' });
    return d;
  };
  const fail = (err: unknown): grpc.ServiceError => ({ ...grpcStatusOf(err), metadata: new grpc.Metadata() } as grpc.ServiceError);
  server.addService(DispatcherClientCtor.service, {
    Session: (call: grpc.ServerWritableStream<Record<string, unknown>, unknown>) => {
      let sessionId = '';
      let periodMs = 0;
      const early: AssignmentMessage[] = [];
      const send = (m: AssignmentMessage): void => {
        if (sessionId === '') {
          if (early.length < EARLY_MESSAGES_MAX) early.push(m);
        } else if (!call.cancelled) call.write(toWire(sessionId, periodMs, m));
      };
      const end = (): void => { if (!call.cancelled) call.end(); };
      void (async () => {
        const d = need();
        const nodeId = callerNode(call);
        const description = parseJson<NodeDescription>('description_json', call.request.descriptionJson);
        const r = await d.register(nodeId, description, typeof call.request.addr === 'string' ? call.request.addr : '', send, end);
        sessionId = r.sessionId;
        periodMs = r.heartbeatPeriodMs;
        for (const m of early.splice(0)) send(m);
      })().catch((err: unknown) => {
        // grpc-js turns an 'error' on a server stream into the call's status.
        const st = grpcStatusOf(err);
        call.emit('error', Object.assign(new Error(st.details), st));
      });
    },
    Heartbeat: (call: grpc.ServerUnaryCall<Record<string, unknown>, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      try {
        const r = need().heartbeat(callerNode(call), str(call.request.sessionId));
        cb(null, { periodMs: r.heartbeatPeriodMs });
      } catch (err) {
        cb(fail(err));
      }
    },
    UpdateTaskStatus: (call: grpc.ServerUnaryCall<Record<string, unknown>, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      try {
        const updates = Array.isArray(call.request.updates) ? (call.request.updates as Record<string, unknown>[]) : [];
        const reports = updates.map((u, i) => ({ taskId: str(u.taskId), status: parseJson<TaskStatus>(`updates[${i}].status_json`, u.statusJson) }));
        need().reportStatus(callerNode(call), str(call.request.sessionId), reports);
        cb(null, {});
      } catch (err) {
        cb(fail(err));
      }
    },
  });
}
