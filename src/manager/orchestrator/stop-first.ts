import { isTerminal, TaskState, type Service, type Task } from '../../types/objects';
import type { MemoryStore } from '../store/memory-store';
import type { Plan } from './plan';
import { nodeLost } from './slot-tasks';

/** Where a task sits: its slot for replicated services, its node for global ones. */
export function slotKey(t: Task): string {
  return t.slot !== 0 ? `slot:${String(t.slot).padStart(10, '0')}` : `node:${t.nodeId}`;
}

/** The task may still have a container running: an agent has it and has not reported it stopped, and its node is not lost. */
function mayRun(view: MemoryStore, t: Task): boolean {
  return t.status.state >= TaskState.ASSIGNED && !isTerminal(t.status.state) && !nodeLost(view, t);
}

/**
 * Starts the replacements a stop-first update created (pure). Such a task is created with desired
 * state READY, so its agent prepares it (image, container) but does not start it; it gets desired
 * state RUNNING once no other task of its slot may still run: the old one reported a final state,
 * never reached an agent, or its node is lost. SwarmKit's updater does the same (DelayStart with
 * waitStop), so that two tasks of a slot never run at once and host ports or volumes are free.
 */
export function startReplacements(view: MemoryStore, plan: Plan, service: Service): void {
  const tasks = view.tasksOfService(service.id);
  const waiting = tasks.filter((t) => t.desiredState === TaskState.READY && !plan.has(t.id));
  if (waiting.length === 0) return;
  const live = new Set<string>();
  for (const t of tasks) if (t.desiredState !== TaskState.READY && mayRun(view, t)) live.add(slotKey(t));
  for (const t of waiting) {
    // A task reassigned to a node (global) sits in that node's slot; one not yet placed has no node to share.
    if (live.has(slotKey(t))) continue;
    plan.updateTask({ ...t, desiredState: TaskState.RUNNING });
  }
}
