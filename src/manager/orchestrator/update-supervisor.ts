import { TaskState, type Service, type Task, type UpdateConfig, type UpdateStatus } from '../../types/objects';
import type { Random } from '../../types/random';
import type { MemoryStore } from '../store/memory-store';
import { isTaskDirty, newTask } from './new-task';
import type { Plan } from './plan';
import { taskFailed } from './restart-policy';
import { isRunnable } from './slot-tasks';
import { slotKey } from './stop-first';

/** True while an update or a rollback of the service is in progress. */
export function isRolling(s: Service): boolean {
  return s.updateStatus?.state === 'updating' || s.updateStatus?.state === 'rollback_started';
}


interface SlotView { key: string; dirty: Task[]; fresh: Task[] }

/** The runnable tasks of each slot split into dirty (old spec) and fresh (current spec). */
function slotViews(service: Service, tasks: readonly Task[]): SlotView[] {
  const slots = new Map<string, SlotView>();
  for (const t of tasks) {
    if (!isRunnable(t)) continue;
    const key = slotKey(t);
    let v = slots.get(key);
    if (v === undefined) slots.set(key, (v = { key, dirty: [], fresh: [] }));
    (isTaskDirty(service, t) ? v.dirty : v.fresh).push(t);
  }
  return [...slots.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** A fresh task has held RUNNING for the monitor period. */
function settled(t: Task, cfg: UpdateConfig, nowMs: number): boolean {
  return t.status.state === TaskState.RUNNING && nowMs >= t.status.timestamp + cfg.monitorMs;
}

function withStatus(s: Service, st: Partial<UpdateStatus>): Service {
  return { ...s, updateStatus: { state: 'updating', startedAt: 0, completedAt: 0, message: '', ...s.updateStatus, ...st } };
}

/**
 * One step of a rolling update or rollback (pure). All progress lives in the store: a slot is done
 * when it runs a task of the current spec, so a new leader resumes without updating a slot twice
 * or skipping one. Slots go in batches of `parallelism`; the next batch starts `delay` after the
 * last one's tasks run, as SwarmKit's updater does. `monitor` is the window in which a task
 * started by this update still counts as failed: the update completes only once the last task has
 * held RUNNING for it, and failures beyond `maxFailureRatio` trigger the failure action.
 */
export function superviseUpdate(view: MemoryStore, plan: Plan, service: Service, random: Random, nowMs: number): void {
  if (!isRolling(service) || plan.has(service.id)) return;
  const rollingBack = service.updateStatus?.state === 'rollback_started';
  const cfg = rollingBack ? service.spec.rollback : service.spec.update;
  const startedAt = service.updateStatus?.startedAt ?? 0;
  const tasks = view.tasksOfService(service.id);
  const slots = slotViews(service, tasks);
  const failed = tasks.filter((t) => t.meta.createdAt >= startedAt && taskFailed(t) && !isTaskDirty(service, t));
  if (failed.length > 0 && failed.length / Math.max(1, slots.length) > cfg.maxFailureRatio && cfg.failureAction !== 'continue') {
    failUpdate(plan, service, failed[failed.length - 1], cfg, nowMs);
    return;
  }
  // With failureAction continue, a slot whose new task failed counts as done: the update moves on.
  const failedSlots = new Set(cfg.failureAction === 'continue' ? failed.map(slotKey) : []);
  let inFlight = 0;
  let unsettled = false;
  let lastRunningMs = startedAt;
  const dirty: SlotView[] = [];
  for (const v of slots) {
    if (v.fresh.length === 0) {
      if (v.dirty.some((t) => t.status.state <= TaskState.RUNNING)) dirty.push(v);
      continue;
    }
    const done = v.fresh.some((t) => t.status.state === TaskState.RUNNING) || failedSlots.has(v.key);
    if (v.fresh.some((t) => t.desiredState === TaskState.READY)) {
      // stop-first: the replacement waits at READY for the old task, which must stop (a write lost to another decision is made again here).
      for (const t of v.dirty) plan.updateTask({ ...t, desiredState: TaskState.SHUTDOWN });
    }
    if (!done) {
      inFlight++;
      continue;
    }
    for (const t of v.fresh) {
      if (t.meta.createdAt < startedAt) continue;
      lastRunningMs = Math.max(lastRunningMs, t.status.timestamp);
      if (t.status.state === TaskState.RUNNING && !settled(t, cfg, nowMs)) {
        unsettled = true;
        plan.wakeAt(t.status.timestamp + cfg.monitorMs);
      }
    }
    // start-first: the old task stops only once its replacement runs.
    for (const t of v.dirty) plan.updateTask({ ...t, desiredState: TaskState.SHUTDOWN });
  }
  if (dirty.length === 0 && inFlight === 0) {
    if (unsettled) return;
    plan.updateService(withStatus(service, { state: rollingBack ? 'rollback_completed' : 'completed', completedAt: nowMs, message: rollingBack ? 'rollback completed' : 'update completed' }));
    return;
  }
  if (inFlight > 0 || dirty.length === 0) return;
  if (lastRunningMs > startedAt && nowMs < lastRunningMs + cfg.delayMs) {
    plan.wakeAt(lastRunningMs + cfg.delayMs);
    return;
  }
  const batch = dirty.slice(0, cfg.parallelism === 0 ? dirty.length : cfg.parallelism);
  for (const v of batch) startSlot(plan, service, v, cfg, random, nowMs);
}

function startSlot(plan: Plan, service: Service, v: SlotView, cfg: UpdateConfig, random: Random, nowMs: number): void {
  const old = v.dirty[0];
  const task = newTask(service, random, nowMs, { slot: old.slot, nodeId: old.slot === 0 ? old.nodeId : '' }, old.restartHistoryMs);
  if (cfg.order === 'start-first') {
    plan.createTask(task);
    return;
  }
  // stop-first: the new task is prepared but starts only once the old one stopped (see startReplacements).
  plan.createTask({ ...task, desiredState: TaskState.READY });
  for (const t of v.dirty) plan.updateTask({ ...t, desiredState: TaskState.SHUTDOWN });
}

function failUpdate(plan: Plan, service: Service, culprit: Task, cfg: UpdateConfig, nowMs: number): void {
  const why = `due to failure or early termination of task ${culprit.id}`;
  if (service.updateStatus?.state === 'rollback_started') {
    plan.updateService(withStatus(service, { state: 'rollback_paused', message: `rollback paused ${why}` }));
  } else if (cfg.failureAction === 'rollback' && service.previousSpec !== undefined) {
    plan.updateService({
      ...service, spec: service.previousSpec, previousSpec: service.spec,
      updateStatus: { state: 'rollback_started', startedAt: nowMs, completedAt: 0, message: `update rolled back ${why}` },
    });
  } else {
    plan.updateService(withStatus(service, { state: 'paused', message: `update paused ${why}` }));
  }
}
