import { isTerminal, TaskState, type Service, type Task } from '../../types/objects';
import type { Random } from '../../types/random';
import type { MemoryStore } from '../store/memory-store';
import { isTaskDirty, newTask } from './new-task';
import type { Plan } from './plan';
import { isRunnable, occupiesSlot, superviseTask } from './slot-tasks';

/**
 * One reconcile step of a replicated service (pure: store view and time in, plan out): one
 * runnable task per slot, restart supervision of every runnable task, then as many occupied
 * slots as replicas.
 */
export function reconcileReplicated(view: MemoryStore, plan: Plan, service: Service, random: Random, nowMs: number): void {
  const tasks = view.tasksOfService(service.id);
  const duplicates = shutDownDuplicates(plan, service, tasks);
  for (const t of tasks) superviseTask(view, plan, service, t, random, nowMs, { slot: t.slot, nodeId: '' });
  const slots = new Map<number, Task[]>();
  for (const t of tasks) {
    if (!occupiesSlot(t) || duplicates.has(t.id)) continue;
    const list = slots.get(t.slot);
    if (list === undefined) slots.set(t.slot, [t]);
    else list.push(t);
  }
  const want = service.spec.replicas;
  if (slots.size < want) {
    let slot = 1;
    for (let missing = want - slots.size; missing > 0; missing--) {
      while (slots.has(slot)) slot++;
      slots.set(slot, []);
      plan.createTask(newTask(service, random, nowMs, { slot, nodeId: '' }));
    }
  } else if (slots.size > want) {
    for (const slot of slotsToRemove(slots, slots.size - want)) {
      for (const t of slots.get(slot) ?? []) plan.updateTask({ ...t, desiredState: TaskState.REMOVE });
    }
  }
}

/**
 * A slot runs one task: when it holds more than one runnable task of the current spec (a new
 * leader that acted before applying its predecessor's last writes creates such twins), keep the
 * one furthest along (running first), then the newest, and shut the others down, as SwarmKit's
 * reconcile does. Runnable tasks of an older spec are left to the update supervisor, which runs
 * an old and a new task side by side in a start-first update. Returns the ids shut down.
 */
export function shutDownDuplicates(plan: Plan, service: Service, tasks: readonly Task[]): Set<string> {
  const bySlot = new Map<number, Task[]>();
  for (const t of tasks) {
    if (!isRunnable(t) || isTerminal(t.status.state) || isTaskDirty(service, t)) continue;
    const list = bySlot.get(t.slot);
    if (list === undefined) bySlot.set(t.slot, [t]);
    else list.push(t);
  }
  const out = new Set<string>();
  for (const list of bySlot.values()) {
    if (list.length < 2) continue;
    const ranked = [...list].sort((a, b) => b.status.state - a.status.state || b.meta.createdAt - a.meta.createdAt || (a.id < b.id ? -1 : 1));
    for (const t of ranked.slice(1)) if (plan.updateTask({ ...t, desiredState: TaskState.SHUTDOWN })) out.add(t.id);
  }
  return out;
}

/**
 * Which slots a scale-down removes: those on the nodes with the most instances of the service
 * first, preferring slots not running, then the highest slot numbers (Docker's behaviour).
 */
export function slotsToRemove(slots: ReadonlyMap<number, readonly Task[]>, count: number): number[] {
  const perNode = new Map<string, number>();
  const nodeOf = (ts: readonly Task[]): string => ts.find(isRunnable)?.nodeId ?? ts[0]?.nodeId ?? '';
  for (const ts of slots.values()) perNode.set(nodeOf(ts), (perNode.get(nodeOf(ts)) ?? 0) + 1);
  const running = (ts: readonly Task[]): boolean => ts.some((t) => t.status.state === TaskState.RUNNING && isRunnable(t));
  const left = new Map(slots);
  const out: number[] = [];
  while (out.length < count && left.size > 0) {
    let best: number | undefined;
    let bestKey: [number, number, number] = [Infinity, Infinity, Infinity];
    for (const [slot, ts] of left) {
      const key: [number, number, number] = [running(ts) ? 1 : 0, -(perNode.get(nodeOf(ts)) ?? 0), -slot];
      if (key[0] < bestKey[0] || (key[0] === bestKey[0] && (key[1] < bestKey[1] || (key[1] === bestKey[1] && key[2] < bestKey[2])))) {
        best = slot;
        bestKey = key;
      }
    }
    if (best === undefined) break;
    const node = nodeOf(left.get(best) ?? []);
    perNode.set(node, (perNode.get(node) ?? 1) - 1);
    left.delete(best);
    out.push(best);
  }
  return out;
}
