import type { Cluster, ClusterSpec, Node, NodeSpec, Service, ServiceSpec, SpecInput, Task } from '../types/objects';
import type { Backend as ContainerBackend } from './container-backend';
import type { EventFilter } from '../events/filter';
import type { ShoalEvent } from '../events/event';
import type { LogEntry } from '../runtime/container-logs';

// The seam between the local HTTP API (src/api) and shoald (src/daemon): the daemon implements
// ApiBackend; the API server translates Docker Engine API v1.41 JSON to and from these calls.
// Errors are ShoalErrors (src/types/errors); the API maps their code to an HTTP status once.

/** Filters of a service listing; empty lists match everything. */
export interface ServiceListFilter { readonly names: string[]; readonly idPrefixes: string[]; readonly labels: string[] }
/** Filters of a task listing; empty lists match everything. */
export interface TaskListFilter { readonly serviceIds: string[]; readonly nodeIds: string[]; readonly desiredStates: number[] }
/** Filters of a node listing; empty lists match everything. */
export interface NodeListFilter { readonly roles: string[]; readonly names: string[] }

/**
 * The cluster's control operations as seen from this node: served by the leader, forwarded there
 * by a follower. Only a manager has them; ApiBackend.control() throws a FailedPreconditionError
 * ("this node is not a swarm manager") otherwise, which the API turns into Docker's 503.
 */
export interface ControlOps {
  createService(spec: SpecInput<ServiceSpec>): Promise<Service>;
  getService(idOrName: string): Promise<Service>;
  listServices(f: ServiceListFilter): Promise<Service[]>;
  /** spec null with rollback true: roll back to previousSpec. version: the version the caller read. */
  updateService(idOrName: string, version: number, spec: SpecInput<ServiceSpec> | null, rollback: boolean): Promise<Service>;
  removeService(idOrName: string): Promise<void>;
  getTask(id: string): Promise<Task>;
  listTasks(f: TaskListFilter): Promise<Task[]>;
  getNode(idOrName: string): Promise<Node>;
  listNodes(f: NodeListFilter): Promise<Node[]>;
  updateNode(idOrName: string, version: number, spec: Partial<NodeSpec>): Promise<Node>;
  removeNode(idOrName: string, force: boolean): Promise<void>;
  getCluster(): Promise<Cluster>;
  /** spec null: keep the spec (token rotation only). */
  updateCluster(version: number, spec: ClusterSpec | null, rotate: { worker: boolean; manager: boolean }): Promise<Cluster>;
}

/** Where this node stands in a swarm (Docker's `Info.Swarm`). */
export interface LocalSwarmState {
  /** inactive: not in a swarm; pending: joining; active: in a swarm; error: see `error`. */
  readonly state: 'inactive' | 'pending' | 'active' | 'error' | 'locked';
  readonly nodeId: string;
  readonly nodeAddr: string;
  readonly clusterId: string;
  /** True on a manager. */
  readonly controlAvailable: boolean;
  readonly error: string;
  /** Managers this node knows of: node id and address (host:port). */
  readonly remoteManagers: readonly { nodeId: string; addr: string }[];
}

/** `docker swarm init`. */
export interface SwarmInitRequest {
  /** host:port this manager listens on for the cluster (default 0.0.0.0:2377). */
  readonly listenAddr: string;
  /** host or host:port other nodes reach it at (default: derived from listenAddr or the host's address). */
  readonly advertiseAddr: string;
  readonly forceNewCluster: boolean;
  readonly spec?: ClusterSpec;
}

/** `docker swarm join`. */
export interface SwarmJoinRequest {
  readonly remoteAddrs: readonly string[];
  readonly joinToken: string;
  readonly listenAddr: string;
  readonly advertiseAddr: string;
}

/** What `docker version` / `docker info` report about the daemon and host. */
export interface EngineInfo {
  readonly version: string;
  readonly hostname: string;
  readonly os: string;
  readonly kernelVersion: string;
  readonly architecture: string;
  readonly ncpu: number;
  readonly memTotal: number;
  readonly dataRoot: string;
  readonly containersRunning: number;
  readonly containersStopped: number;
  readonly images: number;
  readonly cgroupVersion: '1' | '2';
}

/** One line of a service's logs, with where it came from. */
export interface ServiceLogLine extends LogEntry {
  readonly taskId: string;
  readonly nodeId: string;
  readonly serviceId: string;
  readonly slot: number;
}

/** Options of `service logs`. */
export interface ServiceLogOptions {
  readonly follow: boolean;
  readonly tail?: number;
  readonly sinceMs?: number;
  readonly timestamps: boolean;
}

/** Options of an event stream. */
export interface EventStreamOptions {
  readonly sinceMs?: number;
  readonly untilMs?: number;
  readonly filter: EventFilter;
}

/** Everything the local API needs from shoald. */
export interface ApiBackend {
  engine(): Promise<EngineInfo>;
  swarmState(): LocalSwarmState;
  /** Resolves with the new node id once this node leads a swarm of one. */
  swarmInit(req: SwarmInitRequest): Promise<string>;
  /** Resolves once this node has joined (a manager: once it is a Raft member). */
  swarmJoin(req: SwarmJoinRequest): Promise<void>;
  /** Leaves the swarm; a manager needs force (and loses quorum safety if it was one of few). */
  swarmLeave(force: boolean): Promise<void>;
  /** The control operations, or a FailedPreconditionError on a node that is not a manager. */
  control(): ControlOps;
  /** A service's logs from every node that ran its tasks; ends when follow is false and all is read. */
  serviceLogs(idOrName: string, opts: ServiceLogOptions, signal: AbortSignal): AsyncIterable<ServiceLogLine>;
  /** The cluster's events (a manager's bus); with untilMs, ends there; otherwise until signal aborts. */
  events(opts: EventStreamOptions, signal: AbortSignal): AsyncIterable<ShoalEvent>;
  /** Single containers and images on this host (the runtime). */
  readonly containers: ContainerBackend;
}
