import { RawNode, type Message, type NodeId, type Ready } from '../../../src/raft/core';
import type { ManualClock } from '../../../src/types/clock';
import { UnavailableError } from '../../../src/types/errors';
import type { SeededRandom } from '../../../src/types/random';
import type { LogMember, ReplicatedLog, StateMachine } from '../../../src/manager/replicated-log';
import { ReachabilityTracker } from '../../../src/manager/reachability';

interface Pending { term: number; resolve: (v: unknown) => void; reject: (e: Error) => void }

/** One member: a RawNode, its state machine, and proposals waiting to be applied. */
class Member implements ReplicatedLog {
  readonly pending = new Map<number, Pending>();
  readonly listeners = new Set<(leader: boolean) => void>();
  leader = false;
  up = true;
  /** While leading: the applied index from which this member reports leadership. */
  caughtUpAt = Infinity;
  private barriers: { at: number; resolve: () => void }[] = [];
  /** While leading: the members heard from recently (sampled every tick, as the RaftNode adapter does). */
  readonly reach: ReachabilityTracker;

  constructor(readonly raw: RawNode, readonly sm: StateMachine<unknown>, private readonly cluster: SimRaftCluster, reachableWindowMs: number) {
    this.reach = new ReachabilityTracker(reachableWindowMs);
  }

  selfRaftId(): number {
    return this.raw.id;
  }

  members(): LogMember[] {
    const now = this.cluster.now();
    return this.raw.status().confState.voters.map((raftId) => ({ raftId, reachable: raftId === this.raw.id || this.reach.reachable(raftId, now) }));
  }

  /** Samples the leader's view of the other members' recent activity. */
  sampleReachability(): void {
    const st = this.raw.status();
    if (st.role !== 'leader' || !this.up) {
      this.reach.clear();
      return;
    }
    for (const id of st.confState.voters) if (id !== st.id) this.reach.observe(id, this.raw.progressOf(id)?.recentActive ?? false, this.cluster.now());
  }

  propose(data: Uint8Array): Promise<unknown> {
    if (!this.up || !this.leader) return Promise.reject(new UnavailableError(`manager ${this.raw.id} is not the leader`));
    const at = this.raw.propose(data);
    const p = new Promise<unknown>((resolve, reject) => this.pending.set(at.index, { term: at.term, resolve, reject }));
    this.cluster.pump(this);
    return p;
  }

  /** Resolves once this member has applied everything committed before the call (a leader: also its own term's first entry), like ReadIndex. */
  readBarrier(): Promise<void> {
    if (!this.up) return Promise.reject(new UnavailableError(`manager ${this.raw.id} is down`));
    const st = this.raw.status();
    const at = st.role === 'leader' ? Math.max(st.commit, this.caughtUpAt) : st.commit;
    return new Promise((resolve) => {
      this.barriers.push({ at, resolve });
      this.releaseBarriers();
    });
  }

  releaseBarriers(): void {
    const applied = this.raw.status().applied;
    const ready = this.barriers.filter((b) => b.at <= applied);
    this.barriers = this.barriers.filter((b) => b.at > applied);
    for (const b of ready) b.resolve();
  }

  isLeader(): boolean {
    return this.up && this.leader;
  }

  onLeadershipChange(cb: (leader: boolean) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  setLeader(leader: boolean): void {
    if (leader === this.leader) return;
    this.leader = leader;
    if (!leader) {
      for (const p of this.pending.values()) p.reject(new UnavailableError('leadership lost before the write committed'));
      this.pending.clear();
    }
    for (const cb of [...this.listeners]) cb(leader);
  }
}

/** Settings of the simulated cluster: ticks on the manual clock, one-way message latency. */
export interface SimRaftOptions {
  tickMs: number;
  latencyMs: number;
  electionTick: number;
}

/**
 * A test driver: Raft members (RawNode) over an in-memory network on a ManualClock, each applying
 * committed entries to its own state machine. Deterministic for a given seed.
 */
export class SimRaftCluster {
  readonly members: Member[] = [];
  private readonly cut = new Set<NodeId>();
  private readonly opts: SimRaftOptions;

  constructor(private readonly clock: ManualClock, random: SeededRandom, machines: StateMachine<unknown>[], opts: Partial<SimRaftOptions> = {}) {
    this.opts = { tickMs: 10, latencyMs: 1, electionTick: 10, ...opts };
    const ids = machines.map((_, i) => i + 1);
    machines.forEach((sm, i) => {
      const raw = new RawNode({
        id: i + 1, electionTick: this.opts.electionTick, heartbeatTick: 1, random, preVote: true, checkQuorum: true,
        maxSizePerMsgBytes: 1 << 20, maxInflightMsgs: 256,
      }, RawNode.bootstrap(ids));
      this.members.push(new Member(raw, sm, this, 3 * this.opts.electionTick * this.opts.tickMs));
    });
    this.scheduleTick();
  }

  /** The ReplicatedLog of member i (0-based). */
  log(i: number): ReplicatedLog {
    return this.members[i];
  }

  now(): number {
    return this.clock.now();
  }

  leaderIndex(): number {
    return this.members.findIndex((m) => m.isLeader());
  }

  /** Cuts member i off the network (both directions); it keeps ticking. */
  isolate(i: number): void {
    this.cut.add(this.members[i].raw.id);
  }

  heal(): void {
    this.cut.clear();
  }

  /** Asks the current leader to hand leadership to member i. */
  transferTo(i: number): void {
    const l = this.leaderIndex();
    if (l >= 0) {
      this.members[l].raw.transferLeadership(this.members[i].raw.id);
      this.pump(this.members[l]);
    }
  }

  private scheduleTick(): void {
    this.clock.setTimer(this.opts.tickMs, () => {
      for (const m of this.members) {
        m.raw.tick();
        this.pump(m);
        m.sampleReachability();
      }
      this.scheduleTick();
    });
  }

  private deliver(msg: Message): void {
    if (this.cut.has(msg.from) || this.cut.has(msg.to)) return;
    const to = this.members[msg.to - 1];
    if (to === undefined) return;
    this.clock.setTimer(this.opts.latencyMs, () => {
      if (this.cut.has(msg.from) || this.cut.has(msg.to)) return;
      to.raw.step(msg);
      this.pump(to);
    });
  }

  /** Handles every Ready of a member: (in-memory persistence), send, apply, advance. */
  pump(m: Member): void {
    while (m.raw.hasReady()) {
      const rd: Ready = m.raw.ready();
      for (const msg of rd.messages) this.deliver(msg);
      if (rd.snapshot !== null) m.sm.restore(rd.snapshot.data);
      for (const e of rd.committedEntries) {
        const result = m.sm.apply(e);
        const p = m.pending.get(e.index);
        if (p === undefined) continue;
        m.pending.delete(e.index);
        if (p.term === e.term) p.resolve(result);
        else p.reject(new UnavailableError('the write was replaced by another leader\'s entry'));
      }
      m.raw.advance();
      if (rd.softState !== null) {
        const st = m.raw.status();
        // The index of this term's empty entry: entries of earlier terms up to it may still be unapplied.
        m.caughtUpAt = st.role === 'leader' ? st.lastIndex : Infinity;
        if (st.role !== 'leader') m.setLeader(false);
      }
      // Like SwarmKit, leadership is reported once every entry committed before this term is applied.
      if (!m.leader && m.raw.status().applied >= m.caughtUpAt) m.setLeader(true);
      m.releaseBarriers();
    }
  }
}

/** Lets promise continuations run (the ManualClock fires timers synchronously). */
export function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Advances simulated time by ms in steps, letting promises settle after every step. */
export async function runFor(clock: ManualClock, ms: number, stepMs = 10): Promise<void> {
  for (let t = 0; t < ms; t += stepMs) {
    clock.advance(stepMs);
    await flush();
  }
}

/** Runs until cond() holds (checked after each step) or fails after maxMs of simulated time. */
export async function runUntil(clock: ManualClock, cond: () => boolean, maxMs: number, what: string, stepMs = 10): Promise<number> {
  const start = clock.now();
  while (!cond()) {
    if (clock.now() - start > maxMs) throw new Error(`timed out after ${maxMs} ms of simulated time waiting for ${what}`);
    clock.advance(stepMs);
    await flush();
  }
  return clock.now() - start;
}
