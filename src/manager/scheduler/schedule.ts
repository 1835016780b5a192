import { TaskState, type Node, type Task } from '../../types/objects';
import type { MemoryStore } from '../store/memory-store';
import { addTask, dynamicFilter, nodeInfoOf, type NodeInfo } from './node-info';
import { constraintsOf, nodeAttribute, staticFilter } from './node-filter';
import { NodeHeap } from './node-heap';
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
 * of pending tasks, then places each task on the node with the fewest tasks of its service (each picker books the task on the node it picks), then
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
  const picker = spreads.length <= 1 ? heapPicker(first.serviceId, candidates, spreads[0]) : null;
  for (const t of group) {
    const best = picker !== null ? picker(t) : pickNode(t, candidates, spreads);
    if (best.info !== null) {
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

/**
 * The fast path for groups with at most one spread preference: a heap of nodes per label value.
 * The tasks of a group are identical, so a node that fails the dynamic filters once fails them
 * for the rest of the group (resources and ports only fill up) and is dropped for good.
 */
function heapPicker(serviceId: string, candidates: readonly NodeInfo[], spread: string | undefined): (t: Task) => { info: NodeInfo | null; reasons: Map<string, number> } {
  const heaps = new Map<string, NodeHeap>();
  const counts = new Map<string, number>();
  const valueOf = new Map<NodeInfo, string>();
  for (const c of candidates) {
    const v = spread === undefined ? '' : nodeAttribute(c.node, spread) ?? '';
    valueOf.set(c, v);
    let h = heaps.get(v);
    if (h === undefined) heaps.set(v, (h = new NodeHeap(serviceId)));
    h.push(c);
    counts.set(v, (counts.get(v) ?? 0) + (c.perService.get(serviceId) ?? 0));
  }
  const reasons = new Map<string, number>();
  return (t) => {
    for (;;) {
      let bestValue: string | undefined;
      for (const [v, h] of heaps) {
        if (h.size === 0) continue;
        if (bestValue === undefined || (counts.get(v) ?? 0) < (counts.get(bestValue) ?? 0) || ((counts.get(v) ?? 0) === (counts.get(bestValue) ?? 0) && v < bestValue)) bestValue = v;
      }
      if (bestValue === undefined) return { info: null, reasons };
      const heap = heaps.get(bestValue) as NodeHeap;
      const c = heap.pop() as NodeInfo;
      const why = dynamicFilter(c, t);
      if (why !== null) {
        reasons.set(why, (reasons.get(why) ?? 0) + 1);
        continue;
      }
      addTask(c, t);
      heap.push(c);
      counts.set(bestValue, (counts.get(bestValue) ?? 0) + 1);
      return { info: c, reasons };
    }
  };
}

function pickNode(t: Task, candidates: readonly NodeInfo[], spreads: readonly string[]): { info: NodeInfo | null; reasons: Map<string, number> } {
  const reasons = new Map<string, number>();
  const trees = spreads.map((k) => spreadCounts(t.serviceId, candidates, k));
  const key = new Array<number>(trees.length + 2).fill(0);
  const bestKey = new Array<number>(trees.length + 2).fill(0);
  let best: NodeInfo | null = null;
  for (const c of candidates) {
    const why = dynamicFilter(c, t);
    if (why !== null) {
      reasons.set(why, (reasons.get(why) ?? 0) + 1);
      continue;
    }
    for (let i = 0; i < trees.length; i++) key[i] = trees[i].get(nodeAttribute(c.node, spreads[i]) ?? '') ?? 0;
    key[trees.length] = c.perService.get(t.serviceId) ?? 0;
    key[trees.length + 1] = c.total;
    if (best === null || less(key, bestKey, c.node, best.node)) {
      best = c;
      for (let i = 0; i < key.length; i++) bestKey[i] = key[i];
    }
  }
  if (best !== null) addTask(best, t);
  return { info: best, reasons };
}

function less(a: readonly number[], b: readonly number[], na: Node, nb: Node): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] < b[i];
  return na.id < nb.id;
}
