// The JSON the CLI exchanges with shoald's local API: the Docker Engine API v1.41 shapes for
// swarm mode, as the Docker documentation gives them. Durations are nanoseconds, as in Docker.
// Only the fields the CLI reads or writes are declared; the server may send more.

/** Docker's object version (the Raft index of the last change). */
export interface DVersion { Index: number }

/** Docker's resources: nano CPUs and bytes. */
export interface DResources { NanoCPUs?: number; MemoryBytes?: number }

/** Docker's ContainerSpec (the fields shoal uses). */
export interface DContainerSpec {
  Image: string;
  Labels?: Record<string, string>;
  Command?: string[];
  Args?: string[];
  Hostname?: string;
  Env?: string[];
  Dir?: string;
  User?: string;
  StopGracePeriod?: number;
  Init?: boolean;
  Mounts?: { Type: string; Source?: string; Target: string; ReadOnly?: boolean }[];
}

/** Docker's RestartPolicy. */
export interface DRestartPolicy { Condition?: 'none' | 'on-failure' | 'any'; Delay?: number; MaxAttempts?: number; Window?: number }

/** Docker's Placement. */
export interface DPlacement {
  Constraints?: string[];
  Preferences?: { Spread: { SpreadDescriptor: string } }[];
  MaxReplicas?: number;
}

/** Docker's TaskTemplate. */
export interface DTaskSpec {
  ContainerSpec: DContainerSpec;
  Resources?: { Limits?: DResources; Reservations?: DResources };
  RestartPolicy?: DRestartPolicy;
  Placement?: DPlacement;
  ForceUpdate?: number;
}

/** Docker's UpdateConfig / RollbackConfig. */
export interface DUpdateConfig {
  Parallelism?: number;
  Delay?: number;
  FailureAction?: 'continue' | 'pause' | 'rollback';
  Monitor?: number;
  MaxFailureRatio?: number;
  Order?: 'stop-first' | 'start-first';
}

/** Docker's published port. */
export interface DPortConfig {
  Name?: string;
  Protocol?: 'tcp' | 'udp';
  TargetPort: number;
  PublishedPort?: number;
  PublishMode?: 'ingress' | 'host';
}

/** Docker's ServiceSpec: what `service create` sends and `service update` sends back, changed. */
export interface DServiceSpec {
  Name?: string;
  Labels?: Record<string, string>;
  TaskTemplate: DTaskSpec;
  Mode?: { Replicated?: { Replicas?: number }; Global?: Record<string, never> };
  UpdateConfig?: DUpdateConfig;
  RollbackConfig?: DUpdateConfig;
  EndpointSpec?: { Mode?: string; Ports?: DPortConfig[] };
}

/** Docker's UpdateStatus of a service. */
export interface DUpdateStatus {
  State?: 'updating' | 'paused' | 'completed' | 'rollback_started' | 'rollback_paused' | 'rollback_completed';
  StartedAt?: string;
  CompletedAt?: string;
  Message?: string;
}

/** Docker's Service object. */
export interface DService {
  ID: string;
  Version: DVersion;
  CreatedAt?: string;
  UpdatedAt?: string;
  Spec: DServiceSpec;
  PreviousSpec?: DServiceSpec;
  Endpoint?: { Spec?: { Ports?: DPortConfig[] }; Ports?: DPortConfig[] };
  UpdateStatus?: DUpdateStatus;
  /** Sent with `?status=true` (API 1.41). */
  ServiceStatus?: { RunningTasks: number; DesiredTasks: number; CompletedTasks?: number };
}

/** Docker's Task object. */
export interface DTask {
  ID: string;
  Version?: DVersion;
  CreatedAt?: string;
  UpdatedAt?: string;
  Name?: string;
  Labels?: Record<string, string>;
  Spec: DTaskSpec;
  ServiceID: string;
  Slot?: number;
  NodeID?: string;
  Status: {
    Timestamp?: string;
    State: string;
    Message?: string;
    Err?: string;
    ContainerStatus?: { ContainerID?: string; PID?: number; ExitCode?: number };
    PortStatus?: { Ports?: DPortConfig[] };
  };
  DesiredState: string;
}

/** Docker's NodeSpec. */
export interface DNodeSpec {
  Name?: string;
  Labels?: Record<string, string>;
  Role: 'worker' | 'manager';
  Availability: 'active' | 'pause' | 'drain';
}

/** Docker's Node object. */
export interface DNode {
  ID: string;
  Version: DVersion;
  CreatedAt?: string;
  UpdatedAt?: string;
  Spec: DNodeSpec;
  Description?: {
    Hostname?: string;
    Platform?: { Architecture?: string; OS?: string };
    Resources?: DResources;
    Engine?: { EngineVersion?: string; Labels?: Record<string, string> };
  };
  Status: { State: string; Message?: string; Addr?: string };
  ManagerStatus?: { Leader?: boolean; Reachability?: string; Addr?: string };
}

/** Docker's swarm Spec. */
export interface DSwarmSpec {
  Name?: string;
  Labels?: Record<string, string>;
  Orchestration?: { TaskHistoryRetentionLimit?: number };
  Raft?: Record<string, unknown>;
  Dispatcher?: { HeartbeatPeriod?: number };
  CAConfig?: { NodeCertExpiry?: number; [k: string]: unknown };
  [k: string]: unknown;
}

/** Docker's Swarm object (GET /swarm). */
export interface DSwarm {
  ID: string;
  Version: DVersion;
  CreatedAt?: string;
  UpdatedAt?: string;
  Spec: DSwarmSpec;
  JoinTokens: { Worker: string; Manager: string };
}

/** The Swarm section of GET /info. */
export interface DInfoSwarm {
  NodeID: string;
  NodeAddr: string;
  LocalNodeState: 'inactive' | 'pending' | 'active' | 'error' | 'locked';
  ControlAvailable: boolean;
  Error?: string;
  RemoteManagers?: { NodeID: string; Addr: string }[] | null;
  Nodes?: number;
  Managers?: number;
  Cluster?: { ID: string };
}

/** GET /info (the fields the CLI reads). */
export interface DInfo {
  Name?: string;
  ServerVersion?: string;
  Swarm: DInfoSwarm;
}

/** One event of GET /events. */
export interface DEvent {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes?: Record<string, string> };
  scope?: string;
  time: number;
  timeNano?: number;
}
