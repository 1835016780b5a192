import { isTerminal, TaskState, type Task } from '../../types/objects';
import type { MemoryStore } from '../store/memory-store';
import type { Plan } from './plan';
import { isRunnable, occupiesSlot } from './slot-tasks';

/**
 * Task history retention and cleanup (pure): deletes tasks marked REMOVE once stopped (or never
 * assigned), marks tasks of deleted services REMOVE, closes tasks cancelled before they were
 * scheduled, and keeps at most `historyLimit` tasks per slot (oldest stopped ones go first).
 */
export function reapTasks(view: MemoryStore, plan: Plan, historyLimit: number, nowMs: number): void {
  // Only slots holding a task that is finished for good can have history to trim.
  const slotsWithHistory = new Map<string, Task>();
  for (const t of view.list('task')) {
    if (plan.has(t.id)) continue;
    if (view.get('service', t.serviceId) === undefined && t.desiredState < TaskState.REMOVE) {
      plan.updateTask({ ...t, desiredState: TaskState.REMOVE });
      continue;
    }
    const stopped = isTerminal(t.status.state) || t.status.state < TaskState.ASSIGNED;
    if (t.desiredState === TaskState.REMOVE && stopped) {
      plan.removeTask(t);
      continue;
    }
    if (!isRunnable(t) && t.status.state < TaskState.ASSIGNED) {
      // Never reached an agent: nobody else will move it to a final state.
      plan.updateTask({ ...t, status: { ...t.status, state: TaskState.SHUTDOWN, timestamp: nowMs, message: 'shut down before it was scheduled' } });
      continue;
    }
    if (!occupiesSlot(t) && isTerminal(t.status.state)) slotsWithHistory.set(`${t.serviceId}/${t.slot !== 0 ? t.slot : t.nodeId}`, t);
  }
  for (const sample of slotsWithHistory.values()) {
    const list = (sample.slot !== 0 ? view.tasksOfSlot(sample.serviceId, sample.slot)
      : view.tasksOfNode(sample.nodeId).filter((t) => t.serviceId === sample.serviceId && t.slot === 0)).filter((t) => !plan.removes(t.id));
    if (list.length <= historyLimit) continue;
    const dead = list.filter((t) => !plan.has(t.id) && !occupiesSlot(t) && isTerminal(t.status.state)).sort((a, b) => a.meta.createdAt - b.meta.createdAt || a.meta.version - b.meta.version);
    for (let excess = list.length - historyLimit, i = 0; excess > 0 && i < dead.length; excess--, i++) plan.removeTask(dead[i]);
  }
}
