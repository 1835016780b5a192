import { InvalidArgumentError, ShoalError } from '../../types/errors';
import { TaskState, type Service, type Task } from '../../types/objects';
import type { ControlOps, ServiceLogLine } from '../backend';
import { dockerFieldMessage, serviceSpecFromDocker, serviceToDocker, type ServiceStatusCounts } from '../convert/service';
import { qBool, qFilters, qInt, readJson, sendJson } from '../http/io';
import type { RequestContext, Route } from '../http/router';
import { startStream, writeChunk } from '../http/stream';
import { logFrame, parseLogQuery } from './logs-format';
import { resolveRef } from './resolve';
import { controlOf } from './swarm';

const SERVICE_FILTERS = ['id', 'name', 'label', 'mode'];

/** A service by id, name or unique id prefix. */
export function findService(ops: ControlOps, ref: string): Promise<Service> {
  return resolveRef(ref, 'service', (r) => ops.getService(r), () => ops.listServices({ names: [], idPrefixes: [], labels: [] }));
}

/** Runs a write whose input shoal validates, answering its messages with Docker's field names. */
async function withDockerFields<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (ShoalError.is(err, 'InvalidArgument') && !err.message.startsWith('Spec.')) {
      throw new InvalidArgumentError(dockerFieldMessage(err.message), { cause: err, ...(err.hint !== undefined ? { hint: err.hint } : {}) });
    }
    throw err;
  }
}

function statusCounts(s: Service, tasks: readonly Task[]): ServiceStatusCounts {
  const mine = tasks.filter((t) => t.serviceId === s.id);
  const running = mine.filter((t) => t.status.state === TaskState.RUNNING && t.desiredState === TaskState.RUNNING).length;
  const completed = mine.filter((t) => t.status.state === TaskState.COMPLETE).length;
  // A global service wants one task per eligible node; the orchestrator has made them.
  const desired = s.spec.mode === 'replicated' ? s.spec.replicas : mine.filter((t) => t.desiredState === TaskState.RUNNING).length;
  return { RunningTasks: running, DesiredTasks: desired, CompletedTasks: completed };
}

/** Parts of a Docker service spec shoal has no place for: non-empty ones are reported in Warnings, not silently dropped. */
const UNSUPPORTED = ['TaskTemplate.ContainerSpec.Labels', 'TaskTemplate.ContainerSpec.Secrets', 'TaskTemplate.ContainerSpec.Configs', 'TaskTemplate.Networks', 'Networks', 'TaskTemplate.LogDriver'];

/** The value at a dotted path of decoded JSON, if any. */
function at(v: unknown, dotted: string): unknown {
  for (const k of dotted.split('.')) v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[k] : undefined;
  return v;
}

function nonEmpty(v: unknown): boolean {
  return Array.isArray(v) ? v.length > 0 : typeof v === 'object' && v !== null && Object.keys(v).length > 0;
}

/** Warnings for what shoal ignores. */
function specWarnings(body: unknown): string[] | null {
  const out = UNSUPPORTED.filter((field) => nonEmpty(at(body, field))).map((field) => `${field} is not supported by shoal and was ignored`);
  return out.length > 0 ? out : null;
}

async function list(ctx: RequestContext): Promise<void> {
  const f = qFilters(ctx.query, SERVICE_FILTERS);
  const modes = f.get('mode') ?? [];
  for (const m of modes) if (m !== 'replicated' && m !== 'global') throw new InvalidArgumentError(`invalid filter 'mode=${m}': expected replicated or global`);
  const ops = controlOf(ctx.backend);
  const all = await ops.listServices({ names: [], idPrefixes: f.get('id') ?? [], labels: f.get('label') ?? [] });
  const names = f.get('name') ?? [];
  const services = all.filter((s) => (names.length === 0 || names.some((n) => s.spec.name.startsWith(n))) && (modes.length === 0 || modes.includes(s.spec.mode)));
  const tasks = qBool(ctx.query, 'status') && services.length > 0 ? await ops.listTasks({ serviceIds: services.map((s) => s.id), nodeIds: [], desiredStates: [] }) : undefined;
  sendJson(ctx.res, 200, services.map((s) => serviceToDocker(s, tasks === undefined ? undefined : statusCounts(s, tasks))));
}

async function create(ctx: RequestContext): Promise<void> {
  const body = await readJson(ctx.req, ctx.opts.jsonBodyBytesMax);
  const spec = serviceSpecFromDocker(body);
  const ops = controlOf(ctx.backend);
  const s = await withDockerFields(() => ops.createService(spec));
  sendJson(ctx.res, 201, { ID: s.id, Warnings: specWarnings(body) });
}

async function inspect(ctx: RequestContext): Promise<void> {
  const s = await findService(controlOf(ctx.backend), ctx.params[0]);
  sendJson(ctx.res, 200, serviceToDocker(s));
}

async function update(ctx: RequestContext): Promise<void> {
  const version = qInt(ctx.query, 'version', 0);
  if (version === undefined) throw new InvalidArgumentError(`invalid service version '${ctx.query.get('version') ?? ''}': a version is required`);
  const rollback = ctx.query.get('rollback') ?? '';
  if (rollback !== '' && rollback !== 'previous') throw new InvalidArgumentError(`invalid value for rollback: ${JSON.stringify(rollback)}: expected "previous"`);
  const from = ctx.query.get('registryAuthFrom') ?? '';
  if (from !== '' && from !== 'spec' && from !== 'previous-spec') throw new InvalidArgumentError(`invalid value for registryAuthFrom: ${JSON.stringify(from)}: expected "spec" or "previous-spec"`);
  const body = await readJson(ctx.req, ctx.opts.jsonBodyBytesMax);
  // The body is checked even for a rollback (Docker's clients send the current spec along).
  const spec = rollback === 'previous' && body === undefined ? null : serviceSpecFromDocker(body);
  const ops = controlOf(ctx.backend);
  const s = await findService(ops, ctx.params[0]);
  await withDockerFields(() => ops.updateService(s.id, version, rollback === 'previous' ? null : spec, rollback === 'previous'));
  sendJson(ctx.res, 200, { Warnings: rollback === 'previous' ? null : specWarnings(body) });
}

async function remove(ctx: RequestContext): Promise<void> {
  const ops = controlOf(ctx.backend);
  const s = await findService(ops, ctx.params[0]);
  await ops.removeService(s.id);
  ctx.res.writeHead(200, { 'Content-Length': 0 });
  ctx.res.end();
}

/** Streams a service's log lines that pass keep, in Docker's multiplexed format with the swarm details. */
export async function streamServiceLogs(ctx: RequestContext, serviceId: string, keep: (l: ServiceLogLine) => boolean): Promise<void> {
  const q = parseLogQuery(ctx.query);
  const lines = ctx.backend.serviceLogs(serviceId, { follow: q.follow, timestamps: q.timestamps, ...(q.tail !== undefined ? { tail: q.tail } : {}), ...(q.sinceMs !== undefined ? { sinceMs: q.sinceMs } : {}) }, ctx.signal);
  const it = lines[Symbol.asyncIterator]();
  try {
    // Without follow the first line (or the end) comes before the headers, so a failure is still a proper
    // error answer; with follow the headers go at once, as a quiet task may print nothing for long.
    if (q.follow) startStream(ctx.res, 'application/vnd.docker.raw-stream');
    let next = await it.next();
    if (!q.follow) startStream(ctx.res, 'application/vnd.docker.raw-stream');
    while (next.done !== true && !ctx.signal.aborted) {
      const l = next.value;
      const f = keep(l) ? logFrame(l, q, { 'com.docker.swarm.node.id': l.nodeId, 'com.docker.swarm.service.id': l.serviceId, 'com.docker.swarm.task.id': l.taskId }) : undefined;
      if (f !== undefined) await writeChunk(ctx.res, f, ctx.signal);
      next = await it.next();
    }
  } finally {
    await it.return?.();
  }
  ctx.res.end();
}

async function logs(ctx: RequestContext): Promise<void> {
  parseLogQuery(ctx.query);
  const s = await findService(controlOf(ctx.backend), ctx.params[0]);
  await streamServiceLogs(ctx, s.id, () => true);
}

/** `/services`: list with filters (and task counts), create, inspect, update (with version, rollback), remove, logs. */
export const serviceRoutes: readonly Route[] = [
  { method: 'GET', path: /^\/services$/, handler: list },
  { method: 'POST', path: /^\/services\/create$/, handler: create },
  { method: 'GET', path: /^\/services\/([^/]+)$/, handler: inspect },
  { method: 'POST', path: /^\/services\/([^/]+)\/update$/, handler: update },
  { method: 'DELETE', path: /^\/services\/([^/]+)$/, handler: remove },
  { method: 'GET', path: /^\/services\/([^/]+)\/logs$/, handler: logs },
];
