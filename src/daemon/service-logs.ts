import type * as grpc from '@grpc/grpc-js';
import type { ControlOps, ServiceLogLine, ServiceLogOptions } from '../api/backend';
import type { NodeIdentity } from '../pki/node-identity';
import { clusterChannelOptions } from '../pki/tls-credentials';
import type { Task } from '../types/objects';
import { LogsClientCtor, workerChannelCredentials } from '../worker/logs-server';
import type { DaemonLogger } from './daemon-types';

/** Lines buffered from all nodes before the reader takes them; a slow reader pauses the streams. */
const bufferedLinesMax = 10_000;

interface WireLine { stream?: string; time?: string; line?: string }

/** A simple async queue fed by many producers, read by one consumer. */
class LineQueue {
  private readonly items: ServiceLogLine[] = [];
  private wake: (() => void) | null = null;
  open = 0;

  push(l: ServiceLogLine): void {
    this.items.push(l);
    this.notify();
  }

  get full(): boolean {
    return this.items.length >= bufferedLinesMax;
  }

  notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  async *drain(signal: AbortSignal, onRead: () => void): AsyncGenerator<ServiceLogLine> {
    for (;;) {
      while (this.items.length > 0) {
        yield this.items.shift()!;
        onRead();
      }
      if (this.open === 0 || signal.aborted) return;
      await new Promise<void>((r) => { this.wake = r; });
    }
  }
}

/**
 * A service's logs from every node that ran its tasks (Docker's `service logs`): one stream per
 * task from the agent's logs service on the task's node (Node.status.addr), with this manager's
 * certificate. Without follow the lines are merged in time order; with follow, as they arrive.
 */
export async function* serviceLogs(ops: ControlOps, identity: NodeIdentity, idOrName: string, opts: ServiceLogOptions, signal: AbortSignal, logger: DaemonLogger): AsyncGenerator<ServiceLogLine> {
  const svc = await ops.getService(idOrName);
  const tasks = (await ops.listTasks({ serviceIds: [svc.id], nodeIds: [], desiredStates: [] })).filter((t) => t.nodeId !== '' && t.status.containerId !== '');
  const addrs = new Map((await ops.listNodes({ roles: [], names: [] })).map((n) => [n.id, n.status.addr]));
  const q = new LineQueue();
  const calls: grpc.ClientReadableStream<WireLine>[] = [];
  const clients: grpc.Client[] = [];
  const creds = workerChannelCredentials(identity);
  const onAbort = (): void => { for (const c of calls) c.cancel(); q.notify(); };
  signal.addEventListener('abort', onAbort);
  const open = (t: Task, addr: string): void => {
    const client = new LogsClientCtor(addr, creds, clusterChannelOptions);
    clients.push(client);
    const call = (client as unknown as { taskLogs(r: object): grpc.ClientReadableStream<WireLine> }).taskLogs({
      taskId: t.id, follow: opts.follow, tail: opts.tail ?? -1, sinceMs: opts.sinceMs ?? 0, timestamps: true,
    });
    calls.push(call);
    q.open++;
    let done = false;
    const finish = (): void => { if (!done) { done = true; q.open--; q.notify(); } };
    call.on('data', (m: WireLine) => {
      q.push({
        stream: m.stream === 'stderr' ? 'stderr' : 'stdout', time: m.time ?? '', line: m.line ?? '',
        taskId: t.id, nodeId: t.nodeId, serviceId: t.serviceId, slot: t.slot,
      });
      if (q.full) call.pause();
    });
    call.on('error', (err: Error) => {
      if (!signal.aborted) logger.warn({ taskId: t.id, node: t.nodeId, addr, err: err.message }, 'could not read a task\'s logs');
      finish();
    });
    call.on('end', finish);
  };
  try {
    for (const t of tasks) {
      const addr = addrs.get(t.nodeId);
      if (addr !== undefined && addr !== '') open(t, addr);
    }
    const resume = (): void => { if (!q.full) for (const c of calls) c.resume(); };
    if (opts.follow) {
      for await (const l of q.drain(signal, resume)) yield strip(l, opts.timestamps);
    } else {
      const all: ServiceLogLine[] = [];
      for await (const l of q.drain(signal, resume)) all.push(l);
      // RFC 3339 with fixed-width nanoseconds in UTC: string order is time order; the sort is stable per task.
      all.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
      for (const l of all) yield strip(l, opts.timestamps);
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    for (const c of calls) c.cancel();
    for (const c of clients) c.close();
  }
}

function strip(l: ServiceLogLine, timestamps: boolean): ServiceLogLine {
  return timestamps ? l : { ...l, time: '' };
}
