import { TaskState, type Service, type Task } from '../../types/objects';
import type { Random } from '../../types/random';
import { constraintsOf, staticFilter } from '../scheduler/node-filter';
import type { MemoryStore } from '../store/memory-store';
import { newTask } from './new-task';
import type { Plan } from './plan';
import { isRunnable, occupiesSlot, superviseTask } from './slot-tasks';

/**
 * One reconcile step of a global service (pure): a task on every ready node that is active and
 * matches the constraints; tasks on nodes that are drained, down, removed or no longer matching
 * are shut down. A paused node keeps its task but gets no new one.
 */
export function reconcileGlobal(view: MemoryStore, plan: Plan, service: Service, random: Random, nowMs: number): void {
  const byNode = new Map<string, Task[]>();
  for (const t of view.tasksOfService(service.id)) {
    superviseTask(view, plan, service, t, random, nowMs, { slot: 0, nodeId: t.nodeId });
    if (!occupiesSlot(t)) continue;
    const list = byNode.get(t.nodeId);
    if (list === undefined) byNode.set(t.nodeId, [t]);
    else list.push(t);
  }
  const constraints = constraintsOf(service.spec.task);
  for (const node of view.nodes()) {
    if (!byNode.has(node.id) && staticFilter(node, constraints) === null) plan.createTask(newTask(service, random, nowMs, { slot: 0, nodeId: node.id }));
  }
  for (const [nodeId, tasks] of byNode) {
    const node = view.get('node', nodeId);
    const keep = node !== undefined && node.status.state !== 'down' && node.spec.availability !== 'drain' &&
      (staticFilter({ ...node, status: { ...node.status, state: 'ready' }, spec: { ...node.spec, availability: 'active' } }, constraints) === null);
    if (keep) continue;
    for (const t of tasks) if (isRunnable(t)) plan.updateTask({ ...t, desiredState: TaskState.SHUTDOWN });
  }
}
