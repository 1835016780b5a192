import type { Labels, Meta } from './common';

/** What a node is for in the cluster. */
export type NodeRole = 'worker' | 'manager';
/** Whether the scheduler may place tasks on a node: pause takes no new tasks, drain moves tasks off. */
export type NodeAvailability = 'active' | 'pause' | 'drain';
/** What the dispatcher knows of a node's agent. */
export type NodeState = 'unknown' | 'down' | 'ready' | 'disconnected';

/** What the operator asks of a node. */
export interface NodeSpec {
  readonly name: string;
  readonly labels: Labels;
  readonly role: NodeRole;
  readonly availability: NodeAvailability;
}

/** CPU and memory, in SwarmKit's units. */
export interface Resources {
  readonly nanoCPUs: number;
  readonly memoryBytes: number;
}

/** What the agent reports about its host. */
export interface NodeDescription {
  readonly hostname: string;
  readonly platform: { readonly os: string; readonly architecture: string };
  readonly resources: Resources;
  /** Engine labels given to the agent (`shoald --label k=v`); unlike spec.labels, the node sets them. */
  readonly labels?: Labels;
  /** The host's own IP addresses, as the agent sees them. */
  readonly addresses?: readonly string[];
}

/** The node's state as the dispatcher sees it. */
export interface NodeStatus {
  readonly state: NodeState;
  readonly addr: string;
  readonly message: string;
}

/** A manager's place in the Raft group. */
export interface ManagerStatus {
  readonly raftId: number;
  readonly addr: string;
  readonly leader: boolean;
  readonly reachability: 'unknown' | 'unreachable' | 'reachable';
}

/** A member host of the cluster. */
export interface Node {
  readonly id: string;
  readonly meta: Meta;
  readonly spec: NodeSpec;
  readonly description: NodeDescription;
  readonly status: NodeStatus;
  readonly managerStatus?: ManagerStatus;
}
