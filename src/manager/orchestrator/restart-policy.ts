import { TaskState, type Task } from '../../types/objects';

/** Restart timestamps kept per slot; more than any sane maxAttempts. */
const RESTART_HISTORY_MAX = 32;

/** What to do with a task that stopped while it should run. */
export type RestartDecision = { readonly kind: 'restart'; readonly history: number[] } | { readonly kind: 'wait'; readonly untilMs: number } | { readonly kind: 'no-restart' };

/** True when a stopped task counts as a failure (anything but a clean exit). */
export function taskFailed(t: Task): boolean {
  const s = t.status.state;
  if (s === TaskState.COMPLETE) return t.status.exitCode !== 0;
  return s === TaskState.FAILED || s === TaskState.REJECTED || s === TaskState.ORPHANED || (s === TaskState.SHUTDOWN && t.desiredState <= TaskState.RUNNING);
}

/**
 * The restart policy applied to a stopped task (condition, delay, maxAttempts within window),
 * from the task's own restart history so the decision survives a leader change.
 */
export function restartDecision(t: Task, nowMs: number): RestartDecision {
  const rp = t.spec.restartPolicy;
  if (rp.condition === 'none') return { kind: 'no-restart' };
  if (rp.condition === 'on-failure' && !taskFailed(t)) return { kind: 'no-restart' };
  const recent = rp.windowMs > 0 ? t.restartHistoryMs.filter((at) => at > nowMs - rp.windowMs) : [...t.restartHistoryMs];
  if (rp.maxAttempts > 0 && recent.length >= rp.maxAttempts) return { kind: 'no-restart' };
  const untilMs = t.status.timestamp + rp.delayMs;
  if (nowMs < untilMs) return { kind: 'wait', untilMs };
  return { kind: 'restart', history: [...t.restartHistoryMs, nowMs].slice(-RESTART_HISTORY_MAX) };
}
