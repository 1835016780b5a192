import type { DService, DTask, DUpdateStatus } from './docker-types';

// Convergence progress of `service create|update|scale|rollback` and `stack deploy`, as docker
// shows it. A pure core: observe() reduces polled services and tasks to rows, judge() decides
// (waiting, verifying, converged, failed) from the observation, the previous state and the time,
// and renderLive()/renderPlain() turn that into lines. The poller around it is in wait.ts.

/** Docker's progress numbers of the states a live task goes through; terminal states are 0. */
const numbered: Record<string, number> = { new: 1, allocated: 2, pending: 3, assigned: 4, accepted: 5, preparing: 6, ready: 7, starting: 8, running: 9 };
const maxProgress = 9;
/** Docker hides per-slot bars above this many tasks. */
export const maxProgressBars = 20;
const barWidth = 50;
const longestState = 'preparing'.length;

/** One row of the display: a slot (`2/3`) or a node (global), and what to show for it. */
export interface ProgressRow {
  readonly id: string;
  readonly state: string;
  /** When set, shown in place of the bar. */
  readonly err: string;
}

/** What one poll saw of a service. */
export interface Observation {
  readonly name: string;
  readonly rows: readonly ProgressRow[];
  readonly running: number;
  readonly total: number;
  /** The update status, unless it is the one seen before the operation started. */
  readonly update?: DUpdateStatus;
  readonly monitorMs: number;
}

/** What the caller is waiting for: a rollback expects a rolled-back state; anything else a completed one. */
export type Operation = 'create' | 'update' | 'scale' | 'rollback';

/** What the waiter remembers between polls. */
export interface JudgeState {
  readonly convergedAtMs?: number;
  readonly rollback: boolean;
}

/** The decision after a poll. */
export type Verdict =
  | { readonly kind: 'waiting' }
  | { readonly kind: 'verifying'; readonly leftSec: number }
  | { readonly kind: 'converged'; readonly note?: string }
  | { readonly kind: 'failed'; readonly message: string };

const taskTime = (t: DTask): number => Date.parse(t.Status.Timestamp ?? t.UpdatedAt ?? t.CreatedAt ?? '') || 0;

/** True when the task runs the service's current spec as far as the CLI can tell (image, args, env, forced updates). */
export function isUpToDate(t: DTask, s: DService): boolean {
  const a = t.Spec.ContainerSpec;
  const b = s.Spec.TaskTemplate.ContainerSpec;
  return a.Image === b.Image && (t.Spec.ForceUpdate ?? 0) === (s.Spec.TaskTemplate.ForceUpdate ?? 0)
    && JSON.stringify(a.Args ?? []) === JSON.stringify(b.Args ?? []) && JSON.stringify(a.Env ?? []) === JSON.stringify(b.Env ?? []);
}

/** Docker's choice among a slot's live tasks: the lowest desired state, then the furthest observed state. */
function pickLive(tasks: DTask[]): DTask | undefined {
  let best: DTask | undefined;
  for (const t of tasks) {
    if (!numbered[t.DesiredState] || !numbered[t.Status.State]) continue;
    if (best !== undefined) {
      const bd = numbered[best.DesiredState];
      const td = numbered[t.DesiredState];
      if (bd < td) continue;
      if (bd === td && numbered[best.Status.State] >= numbered[t.Status.State]) continue;
    }
    best = t;
  }
  return best;
}

function row(id: string, tasks: DTask[]): { row?: ProgressRow; running: boolean } {
  const live = pickLive(tasks);
  const running = live !== undefined && live.Status.State === 'running';
  if (live !== undefined && (live.Status.Err ?? '') !== '') return { row: { id, state: live.Status.State, err: live.Status.Err! }, running };
  if (!running) {
    // A slot whose last attempt failed shows that error until a newer task gets further.
    const failed = tasks.filter((t) => !numbered[t.Status.State] && (t.Status.Err ?? '') !== '').sort((a, b) => taskTime(b) - taskTime(a))[0];
    if (failed !== undefined && (live === undefined || taskTime(failed) >= taskTime(live))) return { row: { id, state: failed.Status.State, err: failed.Status.Err! }, running };
  }
  return { row: live === undefined ? undefined : { id, state: live.Status.State, err: '' }, running };
}

/**
 * Reduces a service and its tasks to display rows. `staleUpdate` is the update status seen before
 * the operation was sent: until it changes, it says nothing about this operation.
 */
export function observe(service: DService, tasks: readonly DTask[], staleUpdate?: DUpdateStatus): Observation {
  const mine = tasks.filter((t) => t.ServiceID === service.ID && isUpToDate(t, service));
  const rows: ProgressRow[] = [];
  let running = 0;
  let total: number;
  if (service.Spec.Mode?.Global !== undefined) {
    const byNode = new Map<string, DTask[]>();
    for (const t of mine) if (t.NodeID) byNode.set(t.NodeID, [...(byNode.get(t.NodeID) ?? []), t]);
    const nodes = [...byNode.keys()].filter((n) => byNode.get(n)!.some((t) => numbered[t.DesiredState] > 0)).sort();
    total = nodes.length;
    for (const n of nodes) {
      const r = row(n.slice(0, 12), byNode.get(n)!);
      if (r.running) running++;
      if (r.row) rows.push(r.row);
    }
  } else {
    total = service.Spec.Mode?.Replicated?.Replicas ?? 1;
    const bySlot = new Map<number, DTask[]>();
    for (const t of mine) bySlot.set(t.Slot ?? 0, [...(bySlot.get(t.Slot ?? 0) ?? []), t]);
    for (let slot = 1; slot <= total; slot++) {
      const r = row(`${slot}/${total}`, bySlot.get(slot) ?? []);
      if (r.running) running++;
      if (r.row) rows.push(r.row);
    }
  }
  const u = service.UpdateStatus;
  const fresh = u !== undefined && u.State !== undefined && !(staleUpdate !== undefined && staleUpdate.State === u.State && staleUpdate.StartedAt === u.StartedAt);
  const cfg = u?.State?.startsWith('rollback') === true ? service.Spec.RollbackConfig : service.Spec.UpdateConfig;
  const monitorMs = cfg?.Monitor === undefined ? 5000 : cfg.Monitor / 1e6;
  return { name: service.Spec.Name ?? service.ID, rows, running, total, ...(fresh ? { update: u } : {}), monitorMs };
}

/** Decides what a poll means: Docker's rules, with a failed or rolled-back update as a failure. */
export function judge(obs: Observation, prev: JudgeState, nowMs: number, op: Operation): { state: JudgeState; verdict: Verdict } {
  let rollback = prev.rollback || op === 'rollback';
  let inFlight = false;
  let note: string | undefined;
  const msg = obs.update?.Message ?? '';
  switch (obs.update?.State) {
    case 'updating': inFlight = true; break;
    case 'paused': return { state: prev, verdict: { kind: 'failed', message: `service update paused: ${msg}` } };
    case 'rollback_started': inFlight = true; rollback = true; break;
    case 'rollback_paused': return { state: prev, verdict: { kind: 'failed', message: `service rollback paused: ${msg}` } };
    case 'rollback_completed':
      rollback = true;
      if (op !== 'rollback') note = msg;
      break;
    default: break;
  }
  const converged = !inFlight && obs.running === obs.total;
  if (!converged) return { state: { rollback }, verdict: { kind: 'waiting' } };
  const convergedAtMs = prev.convergedAtMs ?? nowMs;
  const state = { rollback, convergedAtMs };
  const left = obs.monitorMs - (nowMs - convergedAtMs);
  if (left > 0) return { state, verdict: { kind: 'verifying', leftSec: Math.ceil(left / 1000) } };
  if (note !== undefined) return { state, verdict: { kind: 'failed', message: `service rolled back: ${note === '' ? 'the update failed' : note}` } };
  return { state, verdict: { kind: 'converged' } };
}

function bar(state: string): string {
  const filled = Math.floor((barWidth * (numbered[state] ?? 0)) / maxProgress);
  return `[${'='.repeat(filled)}>${' '.repeat(barWidth - filled)}]`;
}

function overall(obs: Observation, rollback: boolean): string {
  return `overall progress: ${rollback ? 'rolling back update: ' : ''}${obs.running} out of ${obs.total} tasks`;
}

function verifyLine(v: Verdict): string | undefined {
  if (v.kind === 'verifying') return `verify: Waiting ${v.leftSec} seconds to verify that tasks are stable...`;
  if (v.kind === 'converged') return 'verify: Service converged';
  return undefined;
}

/** The lines of the live (terminal) display: overall progress, a bar or an error per slot, the verify line. */
export function renderLive(obs: Observation, state: JudgeState, verdict: Verdict): string[] {
  const lines = [overall(obs, state.rollback)];
  if (obs.update?.State === 'rollback_started' && obs.update.Message) lines.unshift(`rollback: ${obs.update.Message}`);
  if (obs.total <= maxProgressBars) {
    for (const r of obs.rows) lines.push(r.err !== '' ? `${r.id}: ${r.err}` : `${r.id}: ${r.state.padEnd(longestState)} ${bar(r.state)}`);
  }
  const v = verifyLine(verdict);
  if (v !== undefined) lines.push(v);
  return lines;
}

/** What the plain (non-terminal) display has printed so far: the last text per line id. */
export type PlainMemory = ReadonlyMap<string, string>;

/**
 * The plain display: the lines that changed since the last poll (no bars, no redraws), so a log
 * of a non-terminal reads as a sequence of events. Returns the lines and the new memory.
 */
export function renderPlain(obs: Observation, state: JudgeState, verdict: Verdict, seen: PlainMemory): { lines: string[]; seen: PlainMemory } {
  const next = new Map(seen);
  const lines: string[] = [];
  const emit = (id: string, text: string): void => {
    if (next.get(id) === text) return;
    next.set(id, text);
    lines.push(text);
  };
  if (obs.update?.State === 'rollback_started' && obs.update.Message) emit('rollback', `rollback: ${obs.update.Message}`);
  if (obs.total <= maxProgressBars) for (const r of obs.rows) emit(r.id, `${r.id}: ${r.err !== '' ? r.err : r.state}`);
  emit('overall', overall(obs, state.rollback));
  if (verdict.kind === 'waiting') next.delete('verify');
  // The countdown would print a line a second; the plain display says it once.
  if (verdict.kind === 'verifying' && !next.has('verify')) emit('verify', `verify: Waiting ${verdict.leftSec} seconds to verify that tasks are stable...`);
  if (verdict.kind === 'converged') emit('verify', 'verify: Service converged');
  return { lines, seen: next };
}
