// The fault phase's event source: partitions, crashes (random and right after a vote or an
// append, where they hurt most), membership changes, leadership transfers and snapshots.
import type { ConfChange, ConfChangeSingle, Message, NodeId } from '../../../src/raft/core/types';
import { ShoalError } from '../../../src/types/errors';
import type { SeededRandom } from '../../../src/types/random';
import type { SimCluster } from './sim-cluster';
import type { SimNode } from './sim-node';
import type { SimProfile } from './sim-profile';

/** Counts of injected events. */
export interface FaultStats {
  partitions: number;
  confChangesProposed: number;
  transfers: number;
  snapshotsTaken: number;
}

/** Voter counts the simulator keeps the configuration within. */
const VOTERS_MIN = 3;
const VOTERS_MAX = 7;

/** Injects faults while `active`. */
export class FaultInjector {
  active = true;
  readonly stats: FaultStats = { partitions: 0, confChangesProposed: 0, transfers: 0, snapshotsTaken: 0 };

  constructor(
    private readonly random: SeededRandom,
    private readonly cluster: SimCluster,
    private readonly profile: SimProfile,
    private readonly trace: (text: string) => void,
  ) {}

  /** A node to cut off from everyone at the next step (see onSend). */
  private isolateNext: NodeId | null = null;

  /** One step's worth of random events. */
  step(): void {
    if (!this.active) return;
    const r = this.random;
    const p = this.profile;
    if (this.isolateNext !== null) this.isolate(this.isolateNext);
    if (r.chance(p.partitionRate)) this.partition();
    if (this.cluster.network.blockedPairs() > 0 && r.chance(p.healRate)) {
      this.cluster.network.heal();
      this.trace('partition healed');
    }
    if (r.chance(p.crashRate)) this.crashOne();
    if (r.chance(p.confChangeRate)) this.changeMembership();
    if (r.chance(p.transferRate)) this.transfer();
    if (r.chance(p.snapshotRate)) this.snapshot();
  }

  /** Crashes right after the messages that make a crash most dangerous. */
  onSend(node: SimNode, m: Message): void {
    if (!this.active) return;
    const p = this.profile;
    const ticks = this.cluster.tickSteps;
    if (m.type === 'voteResp' && !m.reject && this.random.chance(p.crashAfterVoteRate)) {
      this.cluster.scheduleCrash(node.id, this.cluster.now + 1, 1 + this.random.int(3 * ticks));
    } else if (m.type === 'app' && m.entries.length > 0) {
      if (this.random.chance(p.crashLeaderAfterAppendRate)) {
        this.cluster.scheduleCrash(node.id, this.cluster.now + 1 + this.random.int(ticks), this.downSteps());
      } else if (this.isolateNext === null && this.random.chance(firstOfTerm(m) ? p.isolateNewLeaderRate : p.isolateAfterAppendRate)) {
        // Cut off before anything it sent arrives: its new entries stay on it alone, or (right
        // after a commit) its followers never learn of its next ones: Figure 8's moments.
        this.isolateNext = node.id;
      }
    }
  }

  /**
   * A leader's commit index just passed entries of earlier terms (§5.4.2): cut it off before its
   * followers hear more, so that a rival holding other entries there gets its chance (Figure 8).
   */
  onOldTermCommitted(node: SimNode): void {
    if (this.active && this.isolateNext === null && this.random.chance(this.profile.isolateAfterOldCommitRate)) this.isolateNext = node.id;
  }

  private isolate(x: NodeId): void {
    this.isolateNext = null;
    const net = this.cluster.network;
    if (this.random.chance(0.7)) net.heal();
    net.split([x], [...this.cluster.nodes.keys()].filter((id) => id !== x));
    this.stats.partitions++;
    this.trace(`partition isolate n${x} right after it sent entries: ${net.blockedPairs()} directed pairs cut`);
  }

  /** A node sent its appends ahead of its write: maybe it crashes before the write lands. */
  crashBeforeWrite(): boolean {
    return this.active && this.random.chance(this.profile.crashMidWriteRate);
  }

  /** How long a crashed node stays down. */
  downSteps(): number {
    return (1 + this.random.int(this.profile.restartDelayTicksMax)) * this.cluster.tickSteps;
  }

  private partition(): void {
    const r = this.random;
    const net = this.cluster.network;
    const ids = [...this.cluster.nodes.keys()];
    if (ids.length < 2) return;
    if (r.chance(0.7)) net.heal();
    const leader = this.cluster.leader();
    const x = leader !== null && r.chance(0.4) ? leader.id : r.pick(ids);
    const others = ids.filter((id) => id !== x);
    const kind = r.pick(['isolate', 'split', 'cannotReceive', 'cannotSend', 'pairs'] as const);
    switch (kind) {
      case 'isolate':
        net.split([x], others);
        break;
      case 'split': {
        const shuffled = shuffle(r, ids);
        const k = 1 + r.int(ids.length - 1);
        net.split(shuffled.slice(0, k), shuffled.slice(k));
        break;
      }
      case 'cannotReceive':
        for (const y of others) net.block(y, x);
        break;
      case 'cannotSend':
        for (const y of others) net.block(x, y);
        break;
      case 'pairs':
        for (const a of ids) for (const b of ids) if (a !== b && r.chance(0.3)) net.block(a, b);
        break;
    }
    this.stats.partitions++;
    this.trace(`partition ${kind} around n${x}: ${net.blockedPairs()} directed pairs cut`);
  }

  private crashOne(): void {
    const alive = this.cluster.alive();
    if (alive.length === 0) return;
    const leader = this.cluster.leader();
    const node = leader !== null && this.random.chance(0.3) ? leader : this.random.pick(alive);
    this.cluster.crash(node, this.downSteps());
  }

  private changeMembership(): void {
    const leader = this.cluster.leader();
    if (leader === null) return;
    const cs = leader.core().status().confState;
    let cc: ConfChange;
    const added: NodeId[] = [];
    if (cs.votersOutgoing.length > 0) {
      if (cs.autoLeave) return;
      cc = { changes: [] };
    } else {
      const changes = this.pickChanges(cs.voters, cs.learners, added);
      const multi = changes.filter((c) => c.type !== 'addLearner').length > 1;
      const transition = multi ? (this.random.chance(0.3) ? 'explicit' : 'auto') : this.random.chance(0.1) ? 'joint' : 'auto';
      cc = { changes, transition };
    }
    try {
      const at = leader.core().proposeConfChange(cc);
      this.stats.confChangesProposed++;
      for (const id of added) this.cluster.addNode(id);
      this.trace(`n${leader.id} proposes conf change ${describeChange(cc)} at index ${at.index} term ${at.term}`);
    } catch (err) {
      if (!ShoalError.is(err)) throw err;
    }
  }

  /** One membership change within the voter bounds; new ids go to `added`. */
  private pickChanges(voters: readonly NodeId[], learners: readonly NodeId[], added: NodeId[]): ConfChangeSingle[] {
    const r = this.random;
    const v = voters.length;
    const choices: string[] = ['replace'];
    if (v < VOTERS_MAX) choices.push('addVoter', 'addLearner');
    if (v > VOTERS_MIN) choices.push('removeVoter');
    if (learners.length > 0) choices.push('removeLearner');
    if (learners.length > 0 && v < VOTERS_MAX) choices.push('promote', 'promote');
    if (v + 2 <= VOTERS_MAX) choices.push('addTwo');
    if (v - 2 >= VOTERS_MIN) choices.push('removeTwo');
    const fresh = (): NodeId => {
      const id = this.cluster.freshId();
      added.push(id);
      return id;
    };
    switch (r.pick(choices)) {
      case 'addVoter': return [{ type: 'addVoter', nodeId: fresh() }];
      case 'addLearner': return [{ type: 'addLearner', nodeId: fresh() }];
      case 'removeVoter': return [{ type: 'removeNode', nodeId: r.pick(voters) }];
      case 'removeLearner': return [{ type: 'removeNode', nodeId: r.pick(learners) }];
      case 'promote': return [{ type: 'addVoter', nodeId: r.pick(learners) }];
      case 'addTwo': return [{ type: 'addVoter', nodeId: fresh() }, { type: 'addVoter', nodeId: fresh() }];
      case 'removeTwo': {
        const [a, b] = shuffle(r, voters);
        return [{ type: 'removeNode', nodeId: a }, { type: 'removeNode', nodeId: b }];
      }
      default: return [{ type: 'addVoter', nodeId: fresh() }, { type: 'removeNode', nodeId: r.pick(voters) }];
    }
  }

  private transfer(): void {
    const leader = this.cluster.leader();
    if (leader === null) return;
    const voters = leader.core().status().confState.voters.filter((id) => id !== leader.id);
    if (voters.length === 0) return;
    const to = this.random.pick(voters);
    // Sometimes ask a follower, which forwards the request to its leader.
    const via = this.random.chance(0.3) ? this.random.pick(this.cluster.alive()) : leader;
    via.core().transferLeadership(to);
    this.stats.transfers++;
    this.trace(`transfer leadership n${leader.id} -> n${to} (asked n${via.id})`);
  }

  private snapshot(): void {
    const alive = this.cluster.alive();
    if (alive.length === 0) return;
    const node = this.random.pick(alive);
    const s = node.takeSnapshot(this.random.int(this.profile.snapshotTailMax + 1));
    if (s === null) return;
    this.stats.snapshotsTaken++;
    this.trace(`n${node.id} snapshot at ${s.index} term ${s.term}, log from ${node.core().status().firstIndex}`);
  }
}

/** True for an append carrying the empty entry a new leader starts its term with. */
function firstOfTerm(m: Message): boolean {
  return m.entries.some((e) => e.term === m.term && e.type === 'normal' && e.data.length === 0);
}

/** A readable form of a membership change. */
export function describeChange(cc: ConfChange): string {
  if (cc.changes.length === 0) return 'leave joint';
  const sign = { addVoter: '+v', addLearner: '+l', removeNode: '-' } as const;
  return `${cc.changes.map((c) => `${sign[c.type]}${c.nodeId}`).join(' ')}${cc.transition !== undefined && cc.transition !== 'auto' ? ` (${cc.transition})` : ''}`;
}

function shuffle<T>(r: SeededRandom, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = r.int(i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
