// The simulated cluster: which nodes exist, which are up, when they crash, restart or are shut
// down after removal, and how messages and ticks reach them.
import type { RaftStatus } from '../../../src/raft/core/raw-node';
import { RawNode } from '../../../src/raft/core/raw-node';
import type { ConfState, Message, NodeId, RaftConfig } from '../../../src/raft/core/types';
import type { SeededRandom } from '../../../src/types/random';
import type { SimNetwork } from './sim-network';
import { type NodeObserver, SimNode } from './sim-node';

/** What the cluster tells the rest of the simulation. */
export interface ClusterHooks {
  trace(text: string): void;
  /** A node lost its volatile state (crash or shutdown). */
  crashed(node: SimNode): void;
}

/** Counts of cluster-level events. */
export interface ClusterStats {
  crashes: number;
  restarts: number;
  shutdowns: number;
  nodesAdded: number;
}

/** Every member of a configuration, voter or learner, in either half. */
export function members(cs: ConfState): Set<NodeId> {
  return new Set([...cs.voters, ...cs.votersOutgoing, ...cs.learners, ...cs.learnersNext]);
}

/** Nodes, their lifecycles, message delivery and ticks. */
export class SimCluster {
  /** Nodes that exist (removed ones are shut down and forgotten). */
  readonly nodes = new Map<NodeId, SimNode>();
  readonly stats: ClusterStats = { crashes: 0, restarts: 0, shutdowns: 0, nodesAdded: 0 };
  /** The configuration as of the highest applied index anywhere. */
  frontierConf: ConfState = { voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
  private frontierApplied = -1;
  private readonly everMember = new Set<NodeId>();
  private readonly tickPhase = new Map<NodeId, number>();
  private readonly crashAt = new Map<NodeId, { at: number; downSteps: number }>();
  private readonly restartAt = new Map<NodeId, number>();
  private readonly shutdownAt = new Map<NodeId, number>();
  private nextIdValue = 1;
  now = 0;

  constructor(
    private readonly random: SeededRandom,
    readonly network: SimNetwork,
    private readonly makeConfig: (id: NodeId) => RaftConfig,
    private readonly observer: NodeObserver,
    private readonly hooks: ClusterHooks,
    readonly tickSteps: number,
    private readonly appsBeforeWrite = false,
  ) {}

  /** A node id never used before. */
  freshId(): NodeId {
    return this.nextIdValue++;
  }

  /** Creates the founding voters from RawNode.bootstrap, persisted before they start. */
  bootstrap(founders: number): void {
    const ids = Array.from({ length: founders }, () => this.freshId());
    const ps = RawNode.bootstrap(ids);
    for (const id of ids) this.create(id).disk.format(ps);
    for (const id of ids) this.nodes.get(id)!.start();
  }

  /** Creates a node about to be added by a membership change; it starts empty. */
  addNode(id: NodeId): void {
    const node = this.create(id);
    node.disk.format(RawNode.empty());
    node.start();
    this.stats.nodesAdded++;
  }

  private create(id: NodeId): SimNode {
    const node = new SimNode(id, this.makeConfig(id), this.observer, this.appsBeforeWrite);
    this.nodes.set(id, node);
    this.tickPhase.set(id, this.random.int(this.tickSteps));
    return node;
  }

  /** Crashes a node now; it restarts after `downSteps` (never, if null). */
  crash(node: SimNode, downSteps: number | null): void {
    if (!node.alive) return;
    node.crash();
    this.stats.crashes++;
    this.hooks.crashed(node);
    if (downSteps !== null) this.restartAt.set(node.id, this.now + downSteps);
    const hs = node.disk.hardState;
    this.hooks.trace(`crash n${node.id} (disk: term ${hs.term} vote ${hs.vote} commit ${hs.commit} last ${node.disk.lastIndex()} snap ${node.disk.snapshotIndex()})`);
  }

  /** Crashes a node at a later step (at most one pending crash per node). */
  scheduleCrash(id: NodeId, at: number, downSteps: number): void {
    if (!this.crashAt.has(id)) this.crashAt.set(id, { at, downSteps });
  }

  /** Restarts a crashed node from its disk. */
  restart(node: SimNode): void {
    this.restartAt.delete(node.id);
    if (node.alive) return;
    node.start();
    this.stats.restarts++;
    this.hooks.trace(`restart n${node.id} (term ${node.disk.hardState.term} commit ${node.disk.hardState.commit} snap ${node.disk.snapshotIndex()})`);
  }

  /** Runs the crashes, restarts and shutdowns due now. */
  runScheduled(): void {
    for (const [id, c] of this.crashAt) {
      if (c.at > this.now) continue;
      this.crashAt.delete(id);
      const node = this.nodes.get(id);
      if (node !== undefined) this.crash(node, c.downSteps);
    }
    for (const [id, at] of this.restartAt) {
      const node = this.nodes.get(id);
      if (node === undefined) this.restartAt.delete(id);
      else if (at <= this.now) this.restart(node);
    }
    for (const [id, at] of this.shutdownAt) if (at <= this.now) this.shutdown(id);
  }

  /** The healing phase: no more crashes, every crashed node back up. */
  restartAll(): void {
    this.crashAt.clear();
    for (const node of this.nodes.values()) if (!node.alive) this.restart(node);
  }

  /** A removed node is shut down for good; its id is never used again. */
  private shutdown(id: NodeId): void {
    this.shutdownAt.delete(id);
    const node = this.nodes.get(id);
    if (node === undefined) return;
    if (node.alive) node.crash();
    this.hooks.crashed(node);
    this.nodes.delete(id);
    this.stats.shutdowns++;
    this.hooks.trace(`shut down removed n${id}`);
  }

  /** Delivers the messages due now to the nodes that are up. */
  deliver(): void {
    for (const m of this.network.due(this.now, (lost) => this.undelivered(lost))) {
      const to = this.nodes.get(m.to);
      if (to === undefined || !to.alive) {
        this.network.dropped++;
        this.undelivered(m);
      } else {
        to.core().step(m);
      }
    }
  }

  /** A transport notices some failed sends and tells the core (thesis §4.2.1 snapshots, probes). */
  private undelivered(m: Message): void {
    const from = this.nodes.get(m.from);
    if (from === undefined || !from.alive) return;
    if (m.type === 'snap' && this.random.chance(0.7)) from.core().reportSnapshot(m.to, false);
    else if (m.type === 'app' && this.random.chance(0.05)) from.core().reportUnreachable(m.to);
  }

  /** Ticks every node that is up whose tick falls on this step. */
  tick(): void {
    for (const node of this.nodes.values()) {
      if (node.alive && (this.now + this.tickPhase.get(node.id)!) % this.tickSteps === 0) node.core().tick();
    }
  }

  /** Runs every node's Ready loop; a node that crashed before a write stays down `downSteps()`. */
  processAll(downSteps: () => number): void {
    for (const node of this.nodes.values()) {
      node.processReady();
      if (node.crashedMidWrite) {
        this.hooks.trace(`n${node.id} crashes after sending its appends, before its write`);
        this.crash(node, downSteps());
      }
    }
  }

  /** The node that is up, believes it leads, and has the highest term. */
  leader(): SimNode | null {
    let best: SimNode | null = null;
    for (const node of this.nodes.values()) {
      if (node.alive && node.role === 'leader' && (best === null || node.term > best.term)) best = node;
    }
    return best;
  }

  /** Nodes that are up. */
  alive(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.alive);
  }

  /** Follows the configuration at the highest applied index; members removed from it get shut down. */
  noteStatus(st: RaftStatus): void {
    if (st.applied <= this.frontierApplied) return;
    this.frontierApplied = st.applied;
    this.frontierConf = st.confState;
    const now = members(st.confState);
    for (const id of now) this.everMember.add(id);
    for (const id of this.everMember) {
      // A removed member lingers a little, as a real one would before its operator stops it.
      if (!now.has(id) && !this.shutdownAt.has(id) && this.nodes.has(id)) {
        this.shutdownAt.set(id, this.now + this.random.int(30 * this.tickSteps));
      }
    }
  }
}
