import type { Labels, Meta } from './common';
import type { Resources } from './node';

/** A mount into a container. */
export interface Mount {
  readonly type: 'bind' | 'volume' | 'tmpfs';
  readonly source: string;
  readonly target: string;
  readonly readOnly: boolean;
}

/** The container a task runs. */
export interface ContainerSpec {
  readonly image: string;
  readonly command: readonly string[];
  readonly args: readonly string[];
  readonly env: readonly string[];
  readonly user: string;
  readonly workdir: string;
  readonly mounts: readonly Mount[];
  readonly stopGraceMs: number;
  readonly hostname: string;
  /**
   * Run a small init as the container's PID 1 (Docker's `--init`): it forwards signals to the
   * command and reaps zombies, so a command that installs no SIGTERM handler still stops at once
   * instead of after the whole grace period. Present only when true, so that specs written
   * before the field existed compare equal to the same spec now.
   */
  readonly init?: true;
}

/** When a stopped task is replaced: condition, delay between attempts, attempts allowed in a window (0 = unbounded). */
export interface RestartPolicy {
  readonly condition: 'none' | 'on-failure' | 'any';
  readonly delayMs: number;
  readonly maxAttempts: number;
  readonly windowMs: number;
}

/** A placement preference; only spread over a node label, as in Docker. */
export interface PlacementPreference {
  /** `node.labels.<key>` */
  readonly spread: string;
}

/** Where tasks may go: constraints (`node.labels.zone==b`), preferences, replicas per node (0 = unbounded). */
export interface Placement {
  readonly constraints: readonly string[];
  readonly preferences: readonly PlacementPreference[];
  readonly maxReplicas: number;
}

/** What every task of a service runs. */
export interface TaskSpec {
  readonly container: ContainerSpec;
  readonly resources: { readonly limits: Resources; readonly reservations: Resources };
  readonly restartPolicy: RestartPolicy;
  readonly placement: Placement;
  /**
   * A counter with no meaning of its own: changing it makes every task of the service differ from
   * the spec, so an update replaces them all (Docker's `service update --force`). 0 by default.
   */
  readonly forceUpdate: number;
}

/** How a rolling update (or rollback) proceeds. parallelism 0 = all at once. */
export interface UpdateConfig {
  readonly parallelism: number;
  readonly delayMs: number;
  readonly failureAction: 'pause' | 'continue' | 'rollback';
  readonly monitorMs: number;
  readonly maxFailureRatio: number;
  readonly order: 'stop-first' | 'start-first';
}

/** A published port. Host mode binds the port on the node running the task. */
export interface PortConfig {
  readonly name: string;
  readonly protocol: 'tcp' | 'udp';
  readonly targetPort: number;
  readonly publishedPort: number;
  readonly publishMode: 'ingress' | 'host';
}

/** What the user asks of a service. */
export interface ServiceSpec {
  readonly name: string;
  readonly labels: Labels;
  readonly task: TaskSpec;
  readonly mode: 'replicated' | 'global';
  /** Replicated mode only; 0 for global services. */
  readonly replicas: number;
  readonly update: UpdateConfig;
  readonly rollback: UpdateConfig;
  readonly endpoint: { readonly ports: readonly PortConfig[] };
}

/** The state of a rolling update, as Docker's UpdateStatus. */
export type UpdateState = 'updating' | 'paused' | 'completed' | 'rollback_started' | 'rollback_paused' | 'rollback_completed';

/** Progress of the latest update or rollback of a service. */
export interface UpdateStatus {
  readonly state: UpdateState;
  readonly startedAt: number;
  readonly completedAt: number;
  readonly message: string;
}

/** A long-running service: a spec and, once updated, the spec before it. */
export interface Service {
  readonly id: string;
  readonly meta: Meta;
  readonly spec: ServiceSpec;
  readonly previousSpec?: ServiceSpec;
  readonly updateStatus?: UpdateStatus;
}
