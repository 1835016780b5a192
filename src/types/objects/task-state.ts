/**
 * Task states with SwarmKit's numbering (gaps leave room for new states). A task's observed
 * state only moves forward; the manager moves it up to ASSIGNED, the agent owns the rest.
 */
export const TaskState = {
  NEW: 0,
  PENDING: 64,
  ASSIGNED: 192,
  ACCEPTED: 256,
  PREPARING: 320,
  READY: 384,
  STARTING: 448,
  RUNNING: 512,
  COMPLETE: 576,
  SHUTDOWN: 640,
  FAILED: 704,
  REJECTED: 768,
  REMOVE: 800,
  ORPHANED: 832,
} as const;

/** One of the TaskState numbers. */
export type TaskStateValue = (typeof TaskState)[keyof typeof TaskState];

const names = new Map<number, string>(Object.entries(TaskState).map(([k, v]) => [v, k.toLowerCase()]));

/** The lower-case name of a task state ("running"), as `docker service ps` prints it. */
export function taskStateName(state: number): string {
  return names.get(state) ?? `state-${state}`;
}

/** True for a number that is one of the defined task states. */
export function isTaskState(n: number): n is TaskStateValue {
  return names.has(n);
}

/** A task in this observed state has stopped for good (completed, failed, shut down, ...). */
export function isTerminal(state: number): boolean {
  return state > TaskState.RUNNING;
}
