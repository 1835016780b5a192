import { systemClock, type Clock, type TimerHandle } from '../../types/clock';
import { FailedPreconditionError, InvalidArgumentError, NotFoundError, UnavailableError } from '../../types/errors';
import { systemRandom, type Random } from '../../types/random';
import { encodeConfChange } from '../core/conf-change';
import { ProposalDroppedError } from '../core/errors';
import { RawNode, type RaftStatus } from '../core/raw-node';
import type { ConfChange, ConfState, Entry, NodeId, PersistedState, Ready, Snapshot } from '../core/types';
import type { RaftStorage } from '../storage/raft-storage';
import { decodeEnvelope, encodeEnvelope } from './snapshot-envelope';
import { membersOf, MemberBook } from './member-book';
import { PendingRequests } from './pending-requests';
import type { StateMachine } from './state-machine';
import type { Transport } from './transport';

/** Settings of a RaftNode; every duration in milliseconds. */
export interface RaftNodeOptions<R> {
  readonly id: NodeId;
  readonly storage: RaftStorage;
  readonly transport: Transport;
  readonly stateMachine: StateMachine<R>;
  /** Founding members and their addresses, used only when the storage is empty. */
  readonly bootstrap?: Readonly<Record<NodeId, string>>;
  /**
   * Addresses of current members for a node that joins an existing cluster (from its join
   * answer), so it can answer the leader before it has applied the log that names them.
   */
  readonly knownPeers?: Readonly<Record<NodeId, string>>;
  /**
   * Restart as the only member of the group, keeping the committed state (see RawNode.alone): the
   * way back from a lost quorum. The other members are removed for good.
   */
  readonly forceNewCluster?: boolean;
  readonly clock?: Clock;
  readonly random?: Random;
  readonly heartbeatMs?: number;
  readonly electionTimeoutMs?: number;
  readonly proposalTimeoutMs?: number;
  /** Take a snapshot after this many applied entries. */
  readonly snapshotEveryEntries?: number;
  /** Entries kept before a snapshot for followers slightly behind. */
  readonly keepTailEntries?: number;
  readonly maxSizePerMsgBytes?: number;
  readonly maxInflightMsgs?: number;
  /** Largest proposal; entries travel in messages under gRPC's 4 MiB limit. */
  readonly entryBytesMax?: number;
  /** Proposals and reads waiting at once; more are refused at once (back-pressure, never an unbounded queue). */
  readonly pendingMax?: number;
  /** Told when this node gains or loses leadership, or learns of another leader. */
  readonly onLeaderChange?: (leader: NodeId, isSelf: boolean) => void;
  /** Told once when the node stops because of an error it cannot recover from (e.g. a failed write). */
  readonly onFatal?: (err: Error) => void;
}

/** Raft ticks per heartbeat interval (see the constructor). */
const TICKS_PER_HEARTBEAT = 5;

const defaults = {
  heartbeatMs: 100,
  electionTimeoutMs: 1000,
  proposalTimeoutMs: 10_000,
  snapshotEveryEntries: 10_000,
  keepTailEntries: 5_000,
  maxSizePerMsgBytes: 1024 * 1024,
  maxInflightMsgs: 256,
  pendingMax: 50_000,
  entryBytesMax: 1024 * 1024,
};

/**
 * A Raft member that runs: it ticks the core from a clock, persists each Ready in one synced
 * write, sends, applies committed entries to the state machine and resolves proposals.
 *
 * The surface the manager's replicated store relies on (kept stable):
 * - `RaftNode.open(options)`: restart from storage, found a cluster (`bootstrap`) or wait to be
 *   added (`knownPeers`). Refuses a data directory of another member or a damaged one.
 * - `propose(data)`: resolves with `StateMachine.apply`'s result once the entry is applied on
 *   this node; rejects with an UnavailableError (not leader, leadership lost, timeout, overload:
 *   the outcome may then be unknown, never duplicated by Raft itself) or InvalidArgumentError.
 * - `readBarrier()`: resolves once this node has applied everything committed before the call
 *   (ReadIndex; works on followers), rejects with UnavailableError.
 * - `isLeader()`, `leaderId()`, `status()`, `peers()`, `waitForLeader(ms)`.
 * - Membership: `addVoter`, `addLearner`, `promoteLearner`, `removeMember` (ids never reused),
 *   `transferLeadership`. Each resolves once the change is applied here.
 * - `stop()`: rejects everything pending and closes the transport (not the storage).
 */
export class RaftNode<R = unknown> {
  private readonly core: RawNode;
  private readonly clock: Clock;
  /** Milliseconds per Raft tick. */
  private readonly tickMs: number;
  private readonly o: typeof defaults;
  private readonly book: MemberBook;
  private readonly pending: PendingRequests<R>;
  private readSeq = 0;
  private tickTimer: TimerHandle | null = null;
  private loopScheduled = false;
  private loopRunning = false;
  private stopped = false;
  private leader: NodeId = 0;
  private role = 'follower';
  private applied = 0;
  private snapshotIndex = 0;
  private readonly leaderWaiters = new Set<() => void>();

  private constructor(private readonly opts: RaftNodeOptions<R>, state: PersistedState) {
    this.clock = opts.clock ?? systemClock;
    this.o = { ...defaults, ...definedOnly(opts) };
    this.pending = new PendingRequests<R>(this.o.pendingMax, this.o.proposalTimeoutMs);
    this.book = new MemberBook(opts.id, opts.transport);
    if (this.o.heartbeatMs <= 0 || this.o.electionTimeoutMs < 2 * this.o.heartbeatMs) {
      throw new InvalidArgumentError(`election timeout (${this.o.electionTimeoutMs} ms) must be at least twice the heartbeat (${this.o.heartbeatMs} ms)`);
    }
    // The core counts time in ticks and draws each election timeout as a whole number of ticks in
    // [electionTick, 2 electionTick). With one tick per heartbeat (etcd's usual setting) there are
    // only 10 distinct timeouts, so after a leader dies the two followers of a 3-manager group
    // often time out in the same tick, both stand, split the vote and wait a whole timeout more;
    // five ticks per heartbeat make 50.
    this.tickMs = this.o.heartbeatMs / TICKS_PER_HEARTBEAT;
    this.core = new RawNode({
      id: opts.id,
      electionTick: Math.round(this.o.electionTimeoutMs / this.tickMs),
      heartbeatTick: TICKS_PER_HEARTBEAT,
      random: opts.random ?? systemRandom,
      preVote: true,
      checkQuorum: true,
      maxSizePerMsgBytes: this.o.maxSizePerMsgBytes,
      maxInflightMsgs: this.o.maxInflightMsgs,
    }, state);
    this.applied = state.snapshot?.index ?? 0;
    this.snapshotIndex = this.applied;
  }

  /** Opens a node from its storage: restarts from what it persisted, or bootstraps, or waits to be added. */
  static async open<R>(opts: RaftNodeOptions<R>): Promise<RaftNode<R>> {
    const loaded = await opts.storage.load();
    let state: PersistedState;
    if (loaded !== null) {
      state = loaded.state;
      const raftId = loaded.meta.raftId;
      if (raftId !== undefined && Number(raftId) !== opts.id) {
        throw new FailedPreconditionError(`the data directory belongs to raft member ${raftId}, not ${opts.id}`);
      }
    } else {
      state = opts.bootstrap ? bootstrapState(opts.bootstrap) : RawNode.empty();
      // One write: a crash leaves either nothing or a complete first state.
      await opts.storage.saveReady({ hardState: state.hardState, entries: state.entries, snapshot: null, meta: { raftId: String(opts.id) } });
    }
    if (opts.forceNewCluster === true) {
      if (loaded === null) throw new FailedPreconditionError('cannot force a new cluster: this member has no raft state to keep');
      const forced = RawNode.alone(state, opts.id);
      if (typeof forced === 'string') throw new FailedPreconditionError(`cannot force a new cluster: ${forced}`);
      // One write: the dropped suffix and the removals go together.
      if (forced.added.length > 0) await opts.storage.saveReady({ hardState: forced.state.hardState, entries: forced.added, snapshot: null });
      state = forced.state;
    }
    const node = new RaftNode(opts, state);
    node.restoreBook(state, opts.bootstrap);
    node.start();
    return node;
  }

  // ---- public API -----------------------------------------------------------------------------

  /** Replicates `data`; resolves with the state machine's result once applied here. */
  propose(data: Uint8Array): Promise<R> {
    // Empty entries are the leaders' own no-ops (never given to apply), so a command has a byte at least.
    if (data.length === 0) return Promise.reject(new InvalidArgumentError('a raft proposal must not be empty'));
    if (data.length > this.o.entryBytesMax) {
      return Promise.reject(new InvalidArgumentError(`a raft proposal of ${data.length} bytes is over the limit of ${this.o.entryBytesMax}`, {
        hint: 'split the write into smaller entries',
      }));
    }
    // A non-empty normal entry always gets apply()'s result.
    return this.trackProposal(() => this.core.propose(data)) as Promise<R>;
  }

  /** Resolves once this node's state reflects every write committed before the call (ReadIndex). */
  readBarrier(): Promise<void> {
    if (this.stopped) return Promise.reject(new UnavailableError('raft node is stopped'));
    if (this.leader === 0) return Promise.reject(new UnavailableError('no raft leader is known; the cluster may have lost quorum'));
    const full = this.pending.full();
    if (full !== undefined) return Promise.reject(full);
    const context = `${this.opts.id}:${++this.readSeq}`;
    const read = this.pending.read(context, this.clock.now());
    this.core.readIndex(context);
    this.kick();
    return read;
  }

  /** Adds a voting member at `address`. */
  addVoter(id: NodeId, address: string): Promise<void> {
    this.book.checkNewMember(id, address, this.core.status().confState);
    return this.changeMembership({ changes: [{ type: 'addVoter', nodeId: id, context: address }] });
  }

  /** Adds a non-voting member that catches up before it is promoted. */
  addLearner(id: NodeId, address: string): Promise<void> {
    this.book.checkNewMember(id, address, this.core.status().confState);
    return this.changeMembership({ changes: [{ type: 'addLearner', nodeId: id, context: address }] });
  }

  /** Makes a learner a voter. */
  promoteLearner(id: NodeId): Promise<void> {
    if (!this.core.status().confState.learners.includes(id)) throw new NotFoundError(`raft member ${id} is not a learner`);
    return this.changeMembership({ changes: [{ type: 'addVoter', nodeId: id, context: this.book.addressOf(id) ?? '' }] });
  }

  /** Removes a member; its id is never admitted again. */
  removeMember(id: NodeId): Promise<void> {
    if (!membersOf(this.core.status().confState).has(id)) throw new NotFoundError(`raft member ${id} is not in the cluster`);
    return this.changeMembership({ changes: [{ type: 'removeNode', nodeId: id }] });
  }

  /** Hands leadership to `to`; resolves when `to` leads, rejects after an election timeout. */
  async transferLeadership(to: NodeId): Promise<void> {
    if (!this.core.status().confState.voters.includes(to)) throw new NotFoundError(`raft member ${to} is not a voter`);
    this.core.transferLeadership(to);
    this.kick();
    await this.waitFor(() => this.leader === to, 2 * this.o.electionTimeoutMs, `leadership did not move to ${to}`);
  }

  /** Resolves when some node leads (or rejects after timeoutMs). */
  async waitForLeader(timeoutMs: number): Promise<NodeId> {
    await this.waitFor(() => this.leader !== 0, timeoutMs, 'no leader was elected');
    return this.leader;
  }

  isLeader(): boolean {
    return this.role === 'leader';
  }

  leaderId(): NodeId {
    return this.leader;
  }

  status(): RaftStatus {
    return this.core.status();
  }

  /**
   * The leader's view of member `id` (undefined on a follower or for a non-member): its
   * acknowledged index and whether it was heard from within the current election timeout.
   */
  progressOf(id: NodeId): ReturnType<RawNode['progressOf']> {
    return this.role === 'leader' ? this.core.progressOf(id) : undefined;
  }

  /** Current members and their addresses. */
  peers(): ReadonlyMap<NodeId, string> {
    return this.book.all;
  }

  /** Stops ticking and applying, fails what is pending and closes the transport. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.tickTimer?.cancel();
    this.pending.failAll(new UnavailableError('raft node stopped'));
    while (this.loopRunning) await new Promise((r) => setImmediate(r));
    await this.opts.transport.close();
  }

  // ---- the Ready loop ---------------------------------------------------------------------------

  private start(): void {
    this.opts.transport.start({
      onMessage: (m) => {
        if (this.stopped) return;
        this.core.step(m);
        this.kick();
      },
      onUnreachable: (id) => this.core.reportUnreachable(id),
      onSnapshotSent: (id, ok) => {
        this.core.reportSnapshot(id, ok);
        this.kick();
      },
    });
    this.book.connectAll();
    const tick = (): void => {
      if (this.stopped) return;
      this.core.tick();
      this.pending.expire(this.clock.now());
      this.kick();
      this.tickTimer = this.clock.setTimer(this.tickMs, tick);
    };
    this.tickTimer = this.clock.setTimer(this.tickMs, tick);
    this.kick();
  }

  private kick(): void {
    if (this.loopScheduled || this.loopRunning || this.stopped) return;
    this.loopScheduled = true;
    setImmediate(() => {
      this.loopScheduled = false;
      this.runLoop().catch((err: unknown) => this.fatal(err));
    });
  }

  private async runLoop(): Promise<void> {
    if (this.loopRunning) return;
    this.loopRunning = true;
    try {
      while (!this.stopped && this.core.hasReady()) {
        const rd = this.core.ready();
        const before = this.core.status().confState;
        await this.handleReady(rd);
        this.core.advance();
        this.afterAdvance(rd, before);
        await this.maybeSnapshot();
      }
    } finally {
      this.loopRunning = false;
    }
  }

  private async handleReady(rd: Ready): Promise<void> {
    // A leader's appends may go out while its own write is in flight (thesis §10.2.1).
    const early = this.role === 'leader' && rd.softState === null ? rd.messages.filter((m) => m.type === 'app') : [];
    if (early.length > 0) this.opts.transport.send(early);
    if (rd.snapshot !== null || rd.entries.length > 0 || rd.hardState !== null) {
      const write = this.opts.storage.saveReady({ hardState: rd.hardState, entries: rd.entries, snapshot: rd.snapshot, sync: rd.mustSync });
      // Only the commit index changed: nothing sent or applied depends on that write being durable
      // (the storage keeps writes in order), so do not wait for it.
      if (rd.mustSync) await write;
      else write.catch((err: unknown) => this.fatal(err));
    }
    if (this.stopped) return;
    // Votes, acknowledgements and commits only after the write that backs them is durable.
    const rest = early.length > 0 ? rd.messages.filter((m) => m.type !== 'app') : rd.messages;
    if (rest.length > 0) this.opts.transport.send(rest);
    if (rd.snapshot !== null) this.restoreSnapshot(rd.snapshot);
    for (const e of rd.committedEntries) this.applyEntry(e);
    for (const rs of rd.readStates) this.pending.readConfirmed(rs.context, rs.index);
    this.pending.releaseReads(this.applied);
    if (rd.softState !== null) this.leadershipChanged(rd.softState.leader, rd.softState.role);
  }

  private applyEntry(e: Entry): void {
    this.applied = e.index;
    const result = e.type === 'normal' && e.data.length > 0 ? this.opts.stateMachine.apply(e) : undefined;
    this.pending.applied(e, result);
  }

  private restoreSnapshot(s: Snapshot): void {
    const { book, app } = decodeEnvelope(s.data);
    this.opts.stateMachine.restore(app);
    this.book.restore(book);
    this.applied = s.index;
    this.snapshotIndex = s.index;
    this.pending.overtaken(s.index);
  }

  private afterAdvance(rd: Ready, before: ConfState): void {
    this.book.changed(rd.committedEntries, before, this.core.status().confState);
  }


  private async maybeSnapshot(): Promise<void> {
    if (this.applied - this.snapshotIndex < this.o.snapshotEveryEntries) return;
    const data = encodeEnvelope(this.book.toSnapshot(), this.opts.stateMachine.snapshot());
    const s = this.core.createSnapshot(data);
    await this.opts.storage.saveSnapshot(s, this.o.keepTailEntries);
    this.snapshotIndex = s.index;
    const compactTo = s.index - this.o.keepTailEntries;
    if (compactTo >= this.core.status().firstIndex) this.core.compact(compactTo);
  }

  // ---- helpers ----------------------------------------------------------------------------------

  private trackProposal(append: () => { index: number; term: number }): Promise<R | undefined> {
    if (this.stopped) return Promise.reject(new UnavailableError('raft node is stopped'));
    const full = this.pending.full();
    if (full !== undefined) return Promise.reject(full);
    let at: { index: number; term: number };
    try {
      at = append();
    } catch (err) {
      if (err instanceof ProposalDroppedError) {
        const leader = this.core.status().leader;
        return Promise.reject(new UnavailableError(`raft proposal refused: ${err.message}`, {
          cause: err, hint: leader === 0 ? 'wait for a leader to be elected and retry' : `send it to the leader, raft member ${leader}`,
        }));
      }
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    this.kick();
    return this.pending.proposal(at.index, at.term, this.clock.now());
  }

  private async changeMembership(cc: ConfChange): Promise<void> {
    await this.trackProposal(() => this.core.proposeConfChange(cc));
  }

  /** Rebuilds the member book after a restart: from the snapshot, then from conf changes in the log. */
  private restoreBook(state: PersistedState, bootstrap: Readonly<Record<NodeId, string>> | undefined): void {
    if (state.snapshot !== null) {
      const { book, app } = decodeEnvelope(state.snapshot.data);
      this.opts.stateMachine.restore(app);
      this.book.restore(book);
    }
    this.book.seed({ ...this.opts.knownPeers, ...bootstrap });
    this.book.replay(state.entries, state.hardState.commit);
  }


  private leadershipChanged(leader: NodeId, role: string): void {
    const wasLeader = this.role === 'leader';
    const leaderChanged = leader !== this.leader;
    this.leader = leader;
    this.role = role;
    if (wasLeader && role !== 'leader') {
      this.pending.failAll(new UnavailableError('leadership lost; the proposal may or may not be applied'));
    } else if (leaderChanged) {
      // A read the old leader never answered would otherwise wait for its timeout.
      this.pending.failReads(new UnavailableError('raft leader changed while reading; retry'), true);
    }
    for (const w of [...this.leaderWaiters]) w();
    this.opts.onLeaderChange?.(leader, leader === this.opts.id);
  }

  private waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (cond()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (!cond()) return;
        this.leaderWaiters.delete(check);
        timer.cancel();
        resolve();
      };
      const timer = this.clock.setTimer(timeoutMs, () => {
        this.leaderWaiters.delete(check);
        reject(new UnavailableError(`${what} within ${timeoutMs} ms`));
      });
      this.leaderWaiters.add(check);
    });
  }

  private fatal(err: unknown): void {
    const e = err instanceof Error ? err : new Error(String(err));
    if (this.stopped) return;
    this.stopped = true;
    this.tickTimer?.cancel();
    this.pending.failAll(new UnavailableError(`raft node stopped after an error: ${e.message}`, { cause: e }));
    this.opts.onFatal?.(e);
  }
}

/** The first state of a founding member: entry 1 adds every founding voter with its address. */
function bootstrapState(members: Readonly<Record<NodeId, string>>): PersistedState {
  const base = RawNode.bootstrap(Object.keys(members).map(Number));
  const data = encodeConfChange({ changes: Object.entries(members).map(([id, addr]) => ({ type: 'addVoter' as const, nodeId: Number(id), context: addr })) });
  return { ...base, entries: base.entries.map((e) => ({ ...e, data })) };
}

/** The options that were given (undefined ones leave the defaults in place). */
function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
