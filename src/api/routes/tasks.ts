import { InvalidArgumentError } from '../../types/errors';
import { TaskState, type Service, type Task, type TaskSpec } from '../../types/objects';
import { taskToDocker } from '../convert/task';
import { qFilters, sendJson } from '../http/io';
import type { RequestContext, Route } from '../http/router';
import type { ControlOps } from '../backend';
import { findNode } from './nodes';
import { resolveRef } from './resolve';
import { parseLogQuery } from './logs-format';
import { findService, streamServiceLogs } from './services';
import { controlOf } from './swarm';

const TASK_FILTERS = ['id', 'name', 'service', 'node', 'label', 'desired-state', '_up-to-date'];

/** JSON with sorted keys, so that equal specs compare equal whatever their key order. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (typeof v === 'object' && v !== null) return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

/** True when the task runs its service's current task spec (Docker's `_up-to-date`, used by the CLI's progress). */
export function upToDate(t: Task, s: Service | undefined, specs: Map<string, string>): boolean {
  if (s === undefined) return false;
  let want = specs.get(s.id);
  if (want === undefined) specs.set(s.id, want = canonical(s.spec.task));
  return canonical(t.spec satisfies TaskSpec) === want;
}

/** A task's name as Docker forms it: `<service>.<slot>.<id>` (global tasks: `<service>.<node>.<id>`). */
export function taskName(t: Task, serviceName: string): string {
  return `${serviceName}.${t.slot > 0 ? t.slot : t.nodeId}.${t.id}`;
}

function desiredStates(values: readonly string[]): number[] {
  return values.map((v) => {
    const n = (TaskState as Record<string, number>)[v.toUpperCase()];
    if (n === undefined) throw new InvalidArgumentError(`Invalid desired-state filter: '${v}'`);
    return n;
  });
}

async function list(ctx: RequestContext): Promise<void> {
  const f = qFilters(ctx.query, TASK_FILTERS);
  const ops = controlOf(ctx.backend);
  const serviceIds = await Promise.all((f.get('service') ?? []).map(async (r) => (await findService(ops, r)).id));
  const nodeIds = await Promise.all((f.get('node') ?? []).map(async (r) => (await findNode(ops, r)).id));
  const desired = desiredStates(f.get('desired-state') ?? []);
  const tasks = await ops.listTasks({ serviceIds, nodeIds, desiredStates: desired });
  const services = new Map((await ops.listServices({ names: [], idPrefixes: [], labels: [] })).map((s) => [s.id, s]));
  const ids = f.get('id') ?? [];
  const names = f.get('name') ?? [];
  const wantUpToDate = (f.get('_up-to-date') ?? []).some((v) => v === 'true' || v === '1');
  const specs = new Map<string, string>();
  const out = tasks.filter((t) =>
    (ids.length === 0 || ids.some((p) => t.id.startsWith(p))) &&
    (names.length === 0 || names.some((n) => taskName(t, services.get(t.serviceId)?.spec.name ?? '').startsWith(n))) &&
    (f.get('label') ?? []).length === 0 &&
    (!wantUpToDate || upToDate(t, services.get(t.serviceId), specs)));
  sendJson(ctx.res, 200, out.map(taskToDocker));
}

/** A task by id or unique id prefix (the CLI shows 12 characters). */
function findTask(ops: ControlOps, ref: string): Promise<Task> {
  return resolveRef(ref, 'task', (r) => ops.getTask(r), () => ops.listTasks({ serviceIds: [], nodeIds: [], desiredStates: [] }));
}

async function inspect(ctx: RequestContext): Promise<void> {
  sendJson(ctx.res, 200, taskToDocker(await findTask(controlOf(ctx.backend), ctx.params[0])));
}

/** One task's logs (`docker service logs <task id>`): its service's, filtered to the task. */
async function logs(ctx: RequestContext): Promise<void> {
  parseLogQuery(ctx.query);
  const t = await findTask(controlOf(ctx.backend), ctx.params[0]);
  await streamServiceLogs(ctx, t.serviceId, (l) => l.taskId === t.id);
}

/** `/tasks`: list with filters, inspect, logs. */
export const taskRoutes: readonly Route[] = [
  { method: 'GET', path: /^\/tasks$/, handler: list },
  { method: 'GET', path: /^\/tasks\/([^/]+)$/, handler: inspect },
  { method: 'GET', path: /^\/tasks\/([^/]+)\/logs$/, handler: logs },
];
