import { TaskState, type TaskStatus } from '../types/objects';

/**
 * The decisions of one task controller as a pure function (DESIGN.md §2: pure core, thin shell):
 * the executor feeds it what happened and performs the actions it returns. Statuses come back in
 * order so that every transition is reported; the last one is the task's new status.
 */

/** What the executor observed or was told. */
export type ControllerEvent =
  | { readonly kind: 'assigned' }
  | { readonly kind: 'desired'; readonly desiredState: number }
  | { readonly kind: 'prepared'; readonly containerId: string }
  | { readonly kind: 'prepare-failed'; readonly message: string }
  | { readonly kind: 'started'; readonly pid: number }
  | { readonly kind: 'start-failed'; readonly message: string }
  | { readonly kind: 'exited'; readonly exit: ContainerExit }
  /** After an agent restart: what the runtime knows of the task's container (undefined: none). */
  | { readonly kind: 'attached'; readonly container: AttachedContainer | undefined };

/** How a container ended. */
export interface ContainerExit {
  readonly exitCode: number;
  readonly signal?: number;
  readonly oomKilled?: boolean;
  readonly error?: string;
}

/** A container found by the runtime when the agent starts again. */
export type AttachedContainer =
  | { readonly status: 'created'; readonly id: string }
  | { readonly status: 'running'; readonly id: string; readonly pid: number }
  | { readonly status: 'exited'; readonly id: string; readonly exit: ContainerExit };

/** What the executor must do next. */
export type ControllerAction =
  | { readonly kind: 'prepare' } // resolve the image and create the container
  | { readonly kind: 'start' }
  | { readonly kind: 'wait' } // watch the running container until it exits
  | { readonly kind: 'stop'; readonly graceMs: number }
  | { readonly kind: 'remove' }; // remove the container, if any

/** The controller's inputs besides the event. */
export interface ControllerState {
  readonly status: TaskStatus;
  readonly desiredState: number;
  readonly stopGraceMs: number;
  readonly now: number;
}

/** The outcome of one event. */
export interface Decision {
  /** New statuses in order (empty: unchanged); the last is the task's status from now on. */
  readonly statuses: readonly TaskStatus[];
  readonly actions: readonly ControllerAction[];
}

const NONE: Decision = { statuses: [], actions: [] };

const shutdownWanted = (desired: number): boolean => desired >= TaskState.SHUTDOWN;

function exitMessage(exit: ContainerExit): { err: string; failed: boolean } {
  if (exit.oomKilled === true) return { err: `container killed by the kernel OOM killer (exit code ${exit.exitCode})`, failed: true };
  if (exit.error !== undefined && exit.error !== '') return { err: exit.error, failed: true };
  if (exit.exitCode !== 0) return { err: `task: non-zero exit (${exit.exitCode})`, failed: true };
  return { err: '', failed: false };
}

/** Decides what a task's controller does on one event. */
export function decide(s: ControllerState, e: ControllerEvent): Decision {
  const cur = s.status;
  const to = (state: number, patch: Partial<TaskStatus> = {}, message = ''): TaskStatus => ({ ...cur, err: '', ...patch, state, timestamp: s.now, message: message || (patch.message ?? '') });
  const terminal = cur.state > TaskState.RUNNING;

  switch (e.kind) {
    case 'assigned': {
      if (terminal || cur.state >= TaskState.ACCEPTED) return NONE; // already under way (a re-sent assignment)
      if (shutdownWanted(s.desiredState)) return { statuses: [to(TaskState.SHUTDOWN, {}, 'shut down before start')], actions: [] };
      return { statuses: [to(TaskState.ACCEPTED, {}, 'accepted'), to(TaskState.PREPARING, {}, 'preparing')], actions: [{ kind: 'prepare' }] };
    }
    case 'desired': {
      // Held at READY (a stop-first replacement) until the manager says run.
      if (cur.state === TaskState.READY && e.desiredState === TaskState.RUNNING) return { statuses: [to(TaskState.STARTING, {}, 'starting')], actions: [{ kind: 'start' }] };
      if (terminal || !shutdownWanted(e.desiredState)) return NONE;
      if (cur.state >= TaskState.STARTING) return { statuses: [], actions: [{ kind: 'stop', graceMs: s.stopGraceMs }] };
      // Not started yet: nothing runs, the created container (if any) goes.
      return { statuses: [to(TaskState.SHUTDOWN, {}, 'shut down before start')], actions: [{ kind: 'remove' }] };
    }
    case 'prepared': {
      if (cur.state !== TaskState.PREPARING) return NONE;
      if (shutdownWanted(s.desiredState)) return { statuses: [to(TaskState.SHUTDOWN, { containerId: e.containerId }, 'shut down before start')], actions: [{ kind: 'remove' }] };
      const ready = to(TaskState.READY, { containerId: e.containerId }, 'prepared');
      if (s.desiredState < TaskState.RUNNING) return { statuses: [ready], actions: [] };
      return { statuses: [ready, { ...ready, state: TaskState.STARTING, message: 'starting' }], actions: [{ kind: 'start' }] };
    }
    case 'prepare-failed':
      if (cur.state !== TaskState.PREPARING) return NONE;
      return { statuses: [to(TaskState.REJECTED, { err: e.message }, 'rejected')], actions: [{ kind: 'remove' }] };
    case 'started':
      if (cur.state !== TaskState.STARTING) return NONE;
      return { statuses: [to(TaskState.RUNNING, { pid: e.pid }, 'started')], actions: [{ kind: 'wait' }] };
    case 'start-failed':
      if (cur.state !== TaskState.STARTING) return NONE;
      return { statuses: [to(TaskState.FAILED, { err: e.message }, 'start failed')], actions: [] };
    case 'exited':
      return exited(s, e.exit, to);
    case 'attached':
      return attached(s, e.container, to);
  }
}

type To = (state: number, patch?: Partial<TaskStatus>, message?: string) => TaskStatus;

function exited(s: ControllerState, exit: ContainerExit, to: To): Decision {
  if (s.status.state > TaskState.RUNNING || s.status.state < TaskState.STARTING) return NONE;
  const fields = { exitCode: exit.exitCode, pid: 0 };
  // A container stopped because the manager asked is SHUTDOWN whatever its exit code (SwarmKit).
  if (shutdownWanted(s.desiredState)) return { statuses: [to(TaskState.SHUTDOWN, fields, 'shutdown')], actions: [] };
  const { err, failed } = exitMessage(exit);
  return { statuses: [failed ? to(TaskState.FAILED, { ...fields, err }, 'failed') : to(TaskState.COMPLETE, fields, 'finished')], actions: [] };
}

function attached(s: ControllerState, c: AttachedContainer | undefined, to: To): Decision {
  const cur = s.status;
  if (cur.state > TaskState.RUNNING) return NONE;
  if (cur.state < TaskState.ACCEPTED) return decide(s, { kind: 'assigned' });
  if (c === undefined) {
    // Still preparing when the agent stopped: nothing was created, prepare again.
    if (cur.state <= TaskState.PREPARING) {
      if (shutdownWanted(s.desiredState)) return { statuses: [to(TaskState.SHUTDOWN, {}, 'shut down before start')], actions: [] };
      return { statuses: cur.state === TaskState.PREPARING ? [] : [to(TaskState.PREPARING, {}, 'preparing')], actions: [{ kind: 'prepare' }] };
    }
    return { statuses: [to(TaskState.FAILED, { err: `container ${cur.containerId} of the task is gone` }, 'container lost')], actions: [] };
  }
  switch (c.status) {
    case 'running': {
      const statuses = cur.state === TaskState.RUNNING && cur.pid === c.pid ? [] : [to(TaskState.RUNNING, { containerId: c.id, pid: c.pid }, 'started')];
      const actions: ControllerAction[] = [{ kind: 'wait' }];
      if (shutdownWanted(s.desiredState)) actions.push({ kind: 'stop', graceMs: s.stopGraceMs });
      return { statuses, actions };
    }
    case 'exited':
      // It ended while the agent was down: report its real exit.
      return exited({ ...s, status: cur.state < TaskState.STARTING ? { ...cur, state: TaskState.STARTING } : cur }, c.exit, to);
    case 'created': {
      if (shutdownWanted(s.desiredState)) return { statuses: [to(TaskState.SHUTDOWN, { containerId: c.id }, 'shut down before start')], actions: [{ kind: 'remove' }] };
      if (s.desiredState < TaskState.RUNNING) return { statuses: cur.state === TaskState.READY ? [] : [to(TaskState.READY, { containerId: c.id }, 'prepared')], actions: [] };
      const starting = to(TaskState.STARTING, { containerId: c.id }, 'starting');
      return { statuses: cur.state === TaskState.STARTING ? [] : [starting], actions: [{ kind: 'start' }] };
    }
  }
}
