import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { InvalidArgumentError, ShoalError, UnauthenticatedError, UnavailableError } from '../../types/errors';
import { grpcStatusOf } from '../../types/grpc-status';
import type { NodeDescription, TaskStatus } from '../../types/objects';
import { verifiedPeer } from '../../pki/authz';
import type { AssignmentMessage } from './assignments';
import type { Dispatcher, ManagerPeer } from './dispatcher';

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

/** A node description from the wire, checked field by field before it reaches the store. */
export function parseDescription(field: string, v: unknown): NodeDescription {
  const d = parseJson<Record<string, unknown>>(field, v);
  const bad = (name: string, value: unknown, want: string): never => {
    throw new InvalidArgumentError(`${field}: ${name} must be ${want}, got ${JSON.stringify(value)}`);
  };
  if (typeof d !== 'object' || d === null || Array.isArray(d)) bad('the description', d, 'an object');
  if (typeof d.hostname !== 'string') bad('hostname', d.hostname, 'a string');
  const p = d.platform as Record<string, unknown> | undefined;
  if (typeof p !== 'object' || p === null || typeof p.os !== 'string' || typeof p.architecture !== 'string') bad('platform', p, '{os, architecture} strings');
  const r = d.resources as Record<string, unknown> | undefined;
  if (typeof r !== 'object' || r === null || typeof r.nanoCPUs !== 'number' || typeof r.memoryBytes !== 'number' || r.nanoCPUs < 0 || r.memoryBytes < 0) bad('resources', r, '{nanoCPUs, memoryBytes} non-negative numbers');
  const labels = d.labels as Record<string, unknown> | undefined;
  if (labels !== undefined && (typeof labels !== 'object' || labels === null || Array.isArray(labels) || Object.values(labels).some((x) => typeof x !== 'string'))) bad('labels', labels, 'a map of strings');
  const addresses = d.addresses;
  if (addresses !== undefined && (!Array.isArray(addresses) || addresses.some((x) => typeof x !== 'string'))) bad('addresses', addresses, 'a list of strings');
  return d as unknown as NodeDescription;
}

/** The calling node, from its verified certificate: a worker can only speak for itself. */
function callerNode(call: Call): string {
  const peer = verifiedPeer(call.getAuthContext());
  if (peer === undefined) throw new UnauthenticatedError('a worker session needs a node certificate');
  return peer.nodeId;
}

function toWire(sessionId: string, periodMs: number, m: AssignmentMessage, managers: readonly ManagerPeer[]): Record<string, unknown> {
  return {
    sessionId, sequence: m.sequence, type: m.type, heartbeatPeriodMs: periodMs, managers,
    changes: m.changes.map((c) => (c.action === 'update' ? { action: 'update', taskJson: JSON.stringify(c.task) } : { action: 'remove', taskId: c.taskId })),
  };
}

/**
 * Faults a test injects between the dispatcher and the wire, as a lossy network or a manager
 * failing at the wrong moment would: never set in production.
 */
export interface DispatcherFaults {
  /** True to drop an assignments message for a node instead of sending it (the agent sees a gap). */
  dropAssignment?(nodeId: string, m: AssignmentMessage): boolean;
  /** 'before' fails an UpdateTaskStatus call unprocessed, 'after' processes it and loses the acknowledgement. */
  failStatusUpdate?(nodeId: string): 'before' | 'after' | undefined;
  /** True while this manager and the node cannot reach each other: its stream goes silent and its calls get no answer. */
  partitioned?(nodeId: string): boolean;
}

/** Trailer of a session refused by a manager that does not lead: the managers as JSON ManagerPeer[]. */
export const MANAGERS_TRAILER = 'shoal-managers';

/** Options of the dispatcher's gRPC service. */
export interface DispatcherServiceOptions {
  readonly faults?: DispatcherFaults;
  /**
   * The managers as this manager's store knows them (its Dispatcher's managers(), which works on
   * a follower too): a session it refuses carries them, so an agent that joined through a
   * follower finds the leader.
   */
  readonly managers?: () => readonly ManagerPeer[];
}

/**
 * Registers shoal.dispatcher.Dispatcher: a thin gRPC shell over the leader's Dispatcher. A
 * manager that does not lead refuses with UNAVAILABLE; the worker tries the next manager.
 */
export function addDispatcherService(server: grpc.Server, leaderDispatcher: () => Dispatcher | undefined, opts: DispatcherServiceOptions = {}): void {
  const faults = opts.faults ?? {};
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
      let nodeId = '';
      let d: Dispatcher | undefined;
      const early: AssignmentMessage[] = [];
      const send = (m: AssignmentMessage): void => {
        if (sessionId === '') {
          if (early.length < EARLY_MESSAGES_MAX) early.push(m);
        } else if (!call.cancelled && faults.partitioned?.(nodeId) !== true && faults.dropAssignment?.(nodeId, m) !== true) {
          // The manager list rides on complete sets; heartbeats keep it current in between.
          call.write(toWire(sessionId, periodMs, m, m.type === 'complete' && d !== undefined ? d.managers() : []));
        }
      };
      const end = (): void => { if (!call.cancelled && faults.partitioned?.(nodeId) !== true) call.end(); };
      void (async () => {
        d = need();
        nodeId = callerNode(call);
        const description = parseDescription('description_json', call.request.descriptionJson);
        const r = await d.register(nodeId, description, typeof call.request.addr === 'string' ? call.request.addr : '', send, end);
        sessionId = r.sessionId;
        periodMs = r.heartbeatPeriodMs;
        // The agent went away (its connection closed) or gave the session up: the node has a short grace to come back.
        const gone = (): void => d?.disconnected(nodeId, r.sessionId);
        if (call.cancelled) gone();
        else call.once('cancelled', gone);
        for (const m of early.splice(0)) send(m);
      })().catch((err: unknown) => {
        // grpc-js turns an 'error' on a server stream into the call's status (and its metadata into trailers).
        const st = grpcStatusOf(err);
        const metadata = new grpc.Metadata();
        if (ShoalError.is(err, 'Unavailable') && opts.managers !== undefined) metadata.set(MANAGERS_TRAILER, JSON.stringify(opts.managers()));
        call.emit('error', Object.assign(new Error(st.details), st, { metadata }));
      });
    },
    Heartbeat: (call: grpc.ServerUnaryCall<Record<string, unknown>, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      try {
        if (faults.partitioned?.(callerNode(call)) === true) return;
        const r = need().heartbeat(callerNode(call), str(call.request.sessionId));
        cb(null, { periodMs: r.heartbeatPeriodMs, managers: r.managers });
      } catch (err) {
        cb(fail(err));
      }
    },
    UpdateTaskStatus: (call: grpc.ServerUnaryCall<Record<string, unknown>, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      try {
        const updates = Array.isArray(call.request.updates) ? (call.request.updates as Record<string, unknown>[]) : [];
        const reports = updates.map((u, i) => ({ taskId: str(u.taskId), status: parseJson<TaskStatus>(`updates[${i}].status_json`, u.statusJson) }));
        const nodeId = callerNode(call);
        if (faults.partitioned?.(nodeId) === true) return;
        const fault = faults.failStatusUpdate?.(nodeId);
        if (fault === 'before') throw new UnavailableError('injected fault: status update refused');
        need().reportStatus(nodeId, str(call.request.sessionId), reports);
        if (fault === 'after') throw new UnavailableError('injected fault: acknowledgement lost');
        cb(null, {});
      } catch (err) {
        cb(fail(err));
      }
    },
    UpdateDescription: (call: grpc.ServerUnaryCall<Record<string, unknown>, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      void (async () => {
        const description = parseDescription('description_json', call.request.descriptionJson);
        await need().updateDescription(callerNode(call), str(call.request.sessionId), description, str(call.request.addr));
      })().then(() => cb(null, {}), (err: unknown) => cb(fail(err)));
    },
  });
}
