import * as grpc from '@grpc/grpc-js';
import { ShoalError, UnavailableError } from '../../types/errors';
import { grpcStatusOf, shoalErrorOf } from '../../types/grpc-status';
import type { ControlApi } from './control-api';
import { CONTROL_METHODS, ControlClientCtor, type ControlMethod } from './control-proto';
import { serveWatch, type WireWatchEvent } from './watch';

/** Marks a call a follower forwarded, so a call is forwarded at most once. */
const FORWARDED = 'shoal-forwarded';
/** A forwarded call gives up after this long. */
const FORWARD_DEADLINE_MS = 10_000;

type Req = Record<string, unknown>;
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const strs = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
const num = (v: unknown): number => (typeof v === 'number' ? v : 0);
const one = (o: unknown): { json: string } => ({ json: JSON.stringify(o) });
const many = (os: readonly unknown[]): { json: string[] } => ({ json: os.map((o) => JSON.stringify(o)) });

/** The leader-side implementation of each method. */
function localHandlers(api: ControlApi): Record<ControlMethod, (r: Req) => Promise<unknown>> {
  return {
    CreateService: async (r) => one(await api.createService(str(r.specJson))),
    GetService: (r) => Promise.resolve(one(api.getService(str(r.id)))),
    ListServices: (r) => Promise.resolve(many(api.listServices({ names: strs(r.names), idPrefixes: strs(r.idPrefixes), labels: strs(r.labels) }))),
    UpdateService: async (r) => one(await api.updateService(str(r.id), num(r.version), str(r.specJson), r.rollback === true)),
    RemoveService: async (r) => { await api.removeService(str(r.id)); return {}; },
    GetTask: (r) => Promise.resolve(one(api.getTask(str(r.id)))),
    ListTasks: (r) => Promise.resolve(many(api.listTasks({ serviceIds: strs(r.serviceIds), nodeIds: strs(r.nodeIds), desiredStates: Array.isArray(r.desiredStates) ? r.desiredStates.map(num) : [] }))),
    GetNode: (r) => Promise.resolve(one(api.getNode(str(r.id)))),
    ListNodes: (r) => Promise.resolve(many(api.listNodes({ roles: strs(r.roles), names: strs(r.names) }))),
    UpdateNode: async (r) => one(await api.updateNode(str(r.id), num(r.version), { availability: str(r.availability), role: str(r.role), labelsJson: str(r.labelsJson) })),
    RemoveNode: async (r) => { await api.removeNode(str(r.id), r.force === true); return {}; },
    GetCluster: () => Promise.resolve(one(api.getCluster())),
    UpdateCluster: async (r) => one(await api.updateCluster(num(r.version), str(r.specJson), r.rotateWorkerToken === true, r.rotateManagerToken === true)),
  };
}

/** How the control service finds out who leads and reaches it. */
export interface ControlServerOptions {
  /** The leader's operations, used when this manager leads. */
  readonly api: ControlApi;
  readonly isLeader: () => boolean;
  /** A client of the leader's Control service (mTLS, this manager's certificate), or undefined if none is known. */
  readonly leaderClient: () => grpc.Client | undefined;
}

/** Calls method on a client, as a promise. */
export function callControl(client: grpc.Client, method: ControlMethod, req: Req, metadata = new grpc.Metadata(), deadlineMs = FORWARD_DEADLINE_MS): Promise<unknown> {
  const fn = (client as unknown as Record<string, (r: Req, m: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, v: unknown) => void) => void>)[method.charAt(0).toLowerCase() + method.slice(1)];
  return new Promise((resolve, reject) => {
    fn.call(client, req, metadata, { deadline: Date.now() + deadlineMs }, (err, v) => (err === null ? resolve(v) : reject(err)));
  });
}

/**
 * Registers shoal.control.Control on a gRPC server. The leader answers from its store; a follower
 * forwards the call to the leader once (marked in metadata) and relays the answer or the error.
 */
export function addControlService(server: grpc.Server, opts: ControlServerOptions): void {
  const local = localHandlers(opts.api);
  const impl: grpc.UntypedServiceImplementation = {};
  for (const method of CONTROL_METHODS) {
    impl[method] = (call: grpc.ServerUnaryCall<Req, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      serve(opts, local, method, call).then((v) => cb(null, v), (err: unknown) => cb({ ...grpcStatusOf(err), metadata: new grpc.Metadata() }));
    };
  }
  // Every manager serves Watch from its own replica: no forwarding, the order is the log's.
  impl.Watch = (call: grpc.ServerWritableStream<{ kinds?: unknown[] }, WireWatchEvent>) => serveWatch(opts.api.store, call);
  server.addService(ControlClientCtor.service, impl);
}

/** Opens a Watch stream on a client of the control service (kinds empty for all). */
export function openWatch(client: grpc.Client, kinds: readonly string[] = []): grpc.ClientReadableStream<WireWatchEvent> {
  return (client as unknown as { watch(r: { kinds: readonly string[] }): grpc.ClientReadableStream<WireWatchEvent> }).watch({ kinds });
}

async function serve(opts: ControlServerOptions, local: Record<ControlMethod, (r: Req) => Promise<unknown>>, method: ControlMethod, call: grpc.ServerUnaryCall<Req, unknown>): Promise<unknown> {
  if (opts.isLeader()) return local[method](call.request);
  if (call.metadata.get(FORWARDED).length > 0) throw new UnavailableError('this manager was told it leads, but it does not (leadership is changing)', { hint: 'retry' });
  const client = opts.leaderClient();
  if (client === undefined) throw new UnavailableError('no leader is known right now', { hint: 'retry once the managers have elected a leader' });
  const md = new grpc.Metadata();
  md.set(FORWARDED, '1');
  try {
    return await callControl(client, method, call.request, md);
  } catch (err) {
    // Relay the leader's answer as it was: its message already names the bad field or object.
    const e = shoalErrorOf(err as grpc.ServiceError, `forwarded ${method}`);
    const details = (err as Partial<grpc.ServiceError>).details;
    if (e.code === 'Unavailable' || e.code === 'DeadlineExceeded') {
      // The leader did not answer: most often this manager is cut off from the others, and then
      // no write can be committed here (no quorum) until the network heals.
      throw new UnavailableError(`the leader did not answer (this manager may have lost contact with a quorum of managers): ${typeof details === 'string' && details !== '' ? details : e.message}`,
        { cause: err, hint: 'retry on another manager, or once the managers can reach each other' });
    }
    throw new ShoalError(e.code, typeof details === 'string' && details !== '' ? details : e.message, { cause: err, hint: e.hint });
  }
}
