import { isTerminal, TaskState, type Node, type Service, type Task } from '../../types/objects';
import type { Random } from '../../types/random';
import type { MemoryStore } from '../store/memory-store';
import { newTask } from './new-task';
import type { Plan } from './plan';
import { restartDecision } from './restart-policy';

/** A task occupies its slot while it should run, or until it stopped for good without restart (desired COMPLETE). */
export function occupiesSlot(t: Task): boolean {
  return t.desiredState <= TaskState.COMPLETE;
}

/** The task should run. */
export function isRunnable(t: Task): boolean {
  return t.desiredState <= TaskState.RUNNING;
}

/** The node a task was placed on can no longer run it: gone, down, or drained. */
export function nodeLost(view: MemoryStore, t: Task): boolean {
  if (t.nodeId === '' || t.status.state < TaskState.ASSIGNED) return false;
  const n: Node | undefined = view.get('node', t.nodeId);
  return n === undefined || n.status.state === 'down' || n.spec.availability === 'drain';
}

/**
 * Restart supervision of one runnable task: replaces it when its node is lost, applies the restart
 * policy when it stopped. `where` says where its replacement goes (same slot; for global, same node).
 */
export function superviseTask(view: MemoryStore, plan: Plan, service: Service, t: Task, random: Random, nowMs: number, where: { slot: number; nodeId: string }): void {
  if (!isRunnable(t) || plan.has(t.id)) return;
  if (!isTerminal(t.status.state) && nodeLost(view, t)) {
    // A lost node's tasks are replaced at once and do not count as restart attempts (SwarmKit does the same).
    plan.updateTask({ ...t, desiredState: TaskState.SHUTDOWN });
    if (where.nodeId === '') plan.createTask(newTask(service, random, nowMs, where, t.restartHistoryMs));
    return;
  }
  if (!isTerminal(t.status.state)) return;
  const d = restartDecision(t, nowMs);
  if (d.kind === 'wait') plan.wakeAt(d.untilMs);
  else if (d.kind === 'no-restart') plan.updateTask({ ...t, desiredState: TaskState.COMPLETE });
  else {
    plan.updateTask({ ...t, desiredState: TaskState.SHUTDOWN });
    plan.createTask(newTask(service, random, nowMs, where, d.history));
  }
}
