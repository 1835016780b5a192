import type { Meta } from './common';
import type { TaskSpec } from './service';

/** What is known of a task's container, reported by the agent (the manager writes up to ASSIGNED). */
export interface TaskStatus {
  readonly state: number;
  readonly timestamp: number;
  readonly message: string;
  readonly err: string;
  readonly exitCode: number;
  readonly containerId: string;
  readonly pid: number;
}

/** A port a task binds on its node (host publish mode), checked by the scheduler. */
export interface HostPort {
  readonly protocol: 'tcp' | 'udp';
  readonly publishedPort: number;
}

/** One instance of a service: a slot (replicated) or a node (global), with a copy of the spec it runs. */
export interface Task {
  readonly id: string;
  readonly meta: Meta;
  readonly serviceId: string;
  /** 1-based slot of a replicated service; 0 for global tasks. */
  readonly slot: number;
  /** Empty until the scheduler assigns the task (preset for global tasks). */
  readonly nodeId: string;
  readonly spec: TaskSpec;
  readonly hostPorts: readonly HostPort[];
  /** Only the manager writes it. */
  readonly desiredState: number;
  readonly status: TaskStatus;
  /** When earlier tasks of this slot were restarted, newest last (bounded), for maxAttempts in a window. */
  readonly restartHistoryMs: readonly number[];
}
