import type { Random } from '../../types/random';
import { DEFAULT_CLUSTER_SPEC } from '../../types/objects';
import type { MemoryStore } from '../store/memory-store';
import { reconcileGlobal } from './global';
import { Plan } from './plan';
import { reconcileReplicated } from './replicated';
import { startReplacements } from './stop-first';
import { reapTasks } from './task-reaper';
import { superviseUpdate } from './update-supervisor';

/**
 * One full orchestration pass over the store (pure): for every service the replicated or global
 * reconcile (slots, restarts, lost nodes) and the start of stop-first replacements, then the update supervisor if the service's tasks are
 * otherwise settled in this pass, then the task reaper.
 */
export function orchestrate(view: MemoryStore, random: Random, nowMs: number): Plan {
  const plan = new Plan();
  for (const service of view.list('service')) {
    const before = plan.actions.length;
    if (service.spec.mode === 'global') reconcileGlobal(view, plan, service, random, nowMs);
    else reconcileReplicated(view, plan, service, random, nowMs);
    startReplacements(view, plan, service);
    if (plan.actions.length === before) superviseUpdate(view, plan, service, random, nowMs);
  }
  const limit = view.cluster()?.spec.orchestration.taskHistoryRetentionLimit ?? DEFAULT_CLUSTER_SPEC.orchestration.taskHistoryRetentionLimit;
  reapTasks(view, plan, limit, nowMs);
  return plan;
}
