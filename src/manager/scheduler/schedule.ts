import { TaskState, type Node, type Task } from '../../types/objects';
import type { MemoryStore } from '../store/memory-store';
import { addTask, dynamicFilter, nodeInfoOf, type NodeInfo } from './node-info';
import { constraintsOf, nodeAttribute, staticFilter } from './node-filter';
import { pendingReason } from './pending-reason';

/** What a scheduling pass decided: tasks to assign (already updated) and tasks to leave PENDING with a new reason. */
export interface SchedulePlan {
  readonly assigned: Task[];
  readonly unschedulable: Task[];
}

/** Tasks waiting for a node, in a stable order (oldest first) so passes are deterministic. */
function pendingTasks(view: MemoryStore): Task[] {
  return view.tasksWithState(TaskState.PENDING)
    .filter((t) => t.desiredState <= TaskState.RUNNING)
    .sort((a, b) => a.meta.createdAt - b.meta.createdAt || a.serviceId.localeCompare(b.serviceId) || a.slot - b.slot || a.id.localeCompare(b.id));
}

/** Groups tasks that share a service and a spec object, so static filters run once per group. */
function groups(tasks: readonly Task[]): Task[][] {
  const out = new Map<string, Task[]>();
  for (const t of tasks) {
    const key = `${t.serviceId}/${t.nodeId}/${JSON.stringify(t.spec.placement)}/${t.spec.resources.reservations.memoryBytes}/${t.spec.resources.reservations.nanoCPUs}`;
    const g = out.get(key);
    if (g === undefined) out.set(key, [t]);
    else g.push(t);
  }
  return [...out.values()];
}

/**
 * One scheduling pass (pure, Nomad-style: state in, plan out): filters every node for each group
 * of pending tasks, then places each task on the node with the fewest tasks of its service, then
 * the fewest tasks overall, after spreading over the values of any `spread=node.labels.X`
 * preference. A task that fits nowhere gets the aggregated reason.
 */
export function schedule(view: MemoryStore, nowMs: number): SchedulePlan {
  const infos = new Map<string, NodeInfo>();
  for (const n of view.nodes()) infos.set(n.id, nodeInfoOf(n, view.tasksOfNode(n.id)));
  const plan: SchedulePlan = { assigned: [], unschedulable: [] };
  for (const group of groups(pendingTasks(view))) placeGroup(group, infos, plan, nowMs);
  return plan;
}

function placeGroup(group: readonly Task[], infos: ReadonlyMap<string, NodeInfo>, plan: SchedulePlan, nowMs: number): void {
  const first = group[0];
  const constraints = constraintsOf(first.spec);
  const staticReasons = new Map<string, number>();
  const candidates: NodeInfo[] = [];
  const pool = first.nodeId !== '' ? [infos.get(first.nodeId)].filter((i) => i !== undefined) : [...infos.values()];
  for (const info of pool) {
    const why = staticFilter(info.node, constraints);
    if (why === null) candidates.push(info);
    else staticReasons.set(why, (staticReasons.get(why) ?? 0) + 1);
  }
  const spreads = first.spec.placement.preferences.map((p) => p.spread);
  for (const t of group) {
    const best = pickNode(t, candidates, spreads);
    if (best.info !== null) {
      addTask(best.info, t);
      plan.assigned.push({ ...t, nodeId: best.info.node.id, status: { ...t.status, state: TaskState.ASSIGNED, timestamp: nowMs, message: 'scheduler assigned task to node', err: '' } });
      continue;
    }
    // Dynamic reasons first, then static ones, each sorted so the text is the same on every pass.
    const byKey = (a: [string, number], b: [string, number]): number => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
    const counts = new Map<string, number>([...[...best.reasons].sort(byKey), ...[...staticReasons].sort(byKey)]);
    const reason = pendingReason(counts, pool.length);
    if (t.status.err !== reason) plan.unschedulable.push({ ...t, status: { ...t.status, err: reason } });
  }
}

/** Per spread preference: label value -> tasks of the service on nodes with that value. */
function spreadCounts(serviceId: string, candidates: readonly NodeInfo[], key: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const c of candidates) {
    const v = nodeAttribute(c.node, key) ?? '';
    m.set(v, (m.get(v) ?? 0) + (c.perService.get(serviceId) ?? 0));
  }
  return m;
}

function pickNode(t: Task, candidates: readonly NodeInfo[], spreads: readonly string[]): { info: NodeInfo | null; reasons: Map<string, number> } {
  const reasons = new Map<string, number>();
  const trees = spreads.map((k) => spreadCounts(t.serviceId, candidates, k));
  let best: NodeInfo | null = null;
  let bestKey: number[] = [];
  for (const c of candidates) {
    const why = dynamicFilter(c, t);
    if (why !== null) {
      reasons.set(why, (reasons.get(why) ?? 0) + 1);
      continue;
    }
    const key = [...trees.map((m, i) => m.get(nodeAttribute(c.node, spreads[i]) ?? '') ?? 0), c.perService.get(t.serviceId) ?? 0, c.total];
    if (best === null || less(key, bestKey, c.node, best.node)) {
      best = c;
      bestKey = key;
    }
  }
  return { info: best, reasons };
}

function less(a: readonly number[], b: readonly number[], na: Node, nb: Node): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] < b[i];
  return na.id < nb.id;
}
