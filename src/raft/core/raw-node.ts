import { invariant } from './assert';
import { applyConfChange, confChangeError, decodeConfChange, encodeConfChange } from './conf-change';
import { ProposalDroppedError } from './errors';
import { Progress } from './progress';
import { RaftLog } from './raft-log';
import { ReadOnlyQueue } from './read-only';
import { Membership } from './tracker';
import {
  NONE,
  type ConfChange,
  type ConfState,
  type Entry,
  type EntryType,
  type HardState,
  type Message,
  type NodeId,
  type PersistedState,
  type RaftBug,
  type RaftConfig,
  type ReadState,
  type Ready,
  type Role,
  type Snapshot,
  type SoftState,
} from './types';

/** A snapshot of a node's state for tests, metrics and the simulator's checks. */
export interface RaftStatus {
  readonly id: NodeId;
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
  readonly applied: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly leader: NodeId;
  readonly role: Role;
  readonly confState: ConfState;
}

/** Context marking vote requests of a leadership transfer: they bypass the leader lease. */
const TRANSFER_CONTEXT = 'transfer';
/** Bound on reads waiting for confirmation or for the leader's first commit in its term. */
const PENDING_READS_MAX = 4096;

/** What a Ready handed out, so advance() can mark exactly that as persisted and applied. */
interface HandedOut {
  lastEntry: { index: number; term: number } | null;
  appliedTo: number;
  snapshot: Snapshot | null;
  committed: readonly Entry[];
}

/** Fills a message's unused fields. */
function msg(m: Partial<Message> & Pick<Message, 'type' | 'to'>): Message {
  return {
    from: NONE, term: 0, logTerm: 0, index: 0, entries: [], commit: 0, reject: false,
    rejectHint: 0, rejectLogTerm: 0, snapshot: null, context: '', ...m,
  };
}

/**
 * The Raft core as a pure state machine in the style of etcd-raft's RawNode: no timers, no I/O.
 * The owner ticks it, steps messages into it, takes a Ready, handles it (see Ready) and advances.
 */
export class RawNode {
  readonly id: NodeId;
  private term: number;
  private vote: NodeId;
  private lead: NodeId = NONE;
  private role: Role = 'follower';
  private readonly raftLog: RaftLog;
  private membership: Membership;
  private progress = new Map<NodeId, Progress>();
  private votes = new Map<NodeId, boolean>();
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  private leadTransferee: NodeId = NONE;
  /** Index of the last conf change entry appended by this leader; no new one until it is applied. */
  private pendingConfIndex = 0;
  private readonly readOnly = new ReadOnlyQueue(PENDING_READS_MAX);
  /** ReadIndex requests that arrived before this leader committed an entry of its term. */
  private readsAwaitingCommit: { context: string; from: NodeId }[] = [];
  private msgs: Message[] = [];
  private readStates: ReadState[] = [];
  private prevHardState: HardState;
  private prevSoftState: SoftState;
  private handedOut: HandedOut | null = null;
  private readonly bugs: ReadonlySet<RaftBug>;

  constructor(readonly config: RaftConfig, persisted: PersistedState) {
    invariant(config.id > 0, `node id must be positive, got ${config.id}`);
    invariant(config.heartbeatTick > 0 && config.heartbeatTick < config.electionTick,
      `heartbeatTick (${config.heartbeatTick}) must be in [1, electionTick=${config.electionTick})`);
    invariant(config.maxInflightMsgs > 0, 'maxInflightMsgs must be positive');
    this.id = config.id;
    this.bugs = config.testBugs ?? new Set();
    const hs = persisted.hardState;
    const applied = persisted.applied ?? persisted.snapshot?.index ?? 0;
    this.raftLog = new RaftLog(persisted.snapshot, persisted.entries, hs.commit, applied);
    this.term = hs.term;
    this.vote = hs.vote;
    this.membership = persisted.snapshot ? new Membership(persisted.snapshot.confState) : Membership.empty();
    // Conf changes the owner had already applied beyond the snapshot are in force again.
    const replay = this.raftLog.slice((persisted.snapshot?.index ?? 0) + 1, applied) ?? [];
    for (const e of replay) if (e.type === 'confChange') this.membership = applyConfChange(this.membership, decodeConfChange(e.data)).next;
    this.rebuildProgress();
    this.prevHardState = { term: this.term, vote: this.vote, commit: this.raftLog.committed };
    this.prevSoftState = { leader: NONE, role: 'follower' };
    this.becomeFollower(this.term, NONE);
  }

  /** The persisted state of a founding member: entry 1 adds every founding voter. */
  static bootstrap(voters: readonly NodeId[]): PersistedState {
    invariant(voters.length > 0, 'bootstrap needs at least one voter');
    const data = encodeConfChange({ changes: voters.map((nodeId) => ({ type: 'addVoter' as const, nodeId })) });
    return { hardState: { term: 1, vote: NONE, commit: 1 }, snapshot: null, entries: [{ term: 1, index: 1, type: 'confChange', data }] };
  }

  /**
   * The persisted state of a member restarted as the only member of its group, for a group that
   * lost its quorum for good (`swarm init --force-new-cluster`, etcd's --force-new-cluster): the
   * entries past the commit index are dropped (no quorum holds them), then one committed conf
   * change per other member removes it — one at a time, so none needs a joint quorum — after
   * leaving a joint configuration if the group was in one. `added` are the new entries to
   * persist (they replace the dropped suffix); none if this member is alone already. Returns the
   * reason instead when this member is not a voter of the committed configuration.
   */
  static alone(persisted: PersistedState, self: NodeId): { state: PersistedState; added: Entry[] } | string {
    const hs = persisted.hardState;
    const kept = persisted.entries.filter((e) => e.index <= hs.commit);
    let m = persisted.snapshot !== null ? new Membership(persisted.snapshot.confState) : Membership.empty();
    for (const e of kept) if (e.type === 'confChange') m = applyConfChange(m, decodeConfChange(e.data)).next;
    const changes: ConfChange[] = [];
    if (m.isJoint()) {
      changes.push({ changes: [] });
      m = applyConfChange(m, { changes: [] }).next;
    }
    // Of the configuration the group was moving to, if it was in a joint one.
    if (!m.voters.has(self)) return `member ${self} is not a voter of the committed configuration (voters: ${[...m.voters].join(', ') || 'none'})`;
    for (const id of [...m.members()].sort((a, b) => a - b)) if (id !== self) changes.push({ changes: [{ type: 'removeNode', nodeId: id }] });
    if (changes.length === 0) return { state: persisted, added: [] };
    let index = kept.at(-1)?.index ?? persisted.snapshot?.index ?? 0;
    const added = changes.map((cc): Entry => ({ term: hs.term, index: ++index, type: 'confChange', data: encodeConfChange(cc) }));
    return { state: { ...persisted, hardState: { ...hs, commit: index }, entries: [...kept, ...added] }, added };
  }

  /** The persisted state of a member added later: it learns everything from the leader. */
  static empty(): PersistedState {
    return { hardState: { term: 0, vote: NONE, commit: 0 }, snapshot: null, entries: [] };
  }

  // ---- inputs -------------------------------------------------------------------------------

  /** Advances logical time by one tick: elections for followers, heartbeats for a leader. */
  tick(): void {
    if (this.role === 'leader') this.tickLeader();
    else this.tickElection();
  }

  /** Starts an election now (as if the election timeout had passed). */
  campaign(): void {
    if (this.role === 'leader') return;
    this.hup(this.config.preVote ? 'preElection' : 'election');
  }

  /** Appends a command to the log; returns where it went. Only the leader takes proposals. */
  propose(data: Uint8Array): { index: number; term: number } {
    return this.proposeEntry('normal', data);
  }

  /** Proposes a membership change; refused while an earlier one is not applied yet. */
  proposeConfChange(cc: ConfChange): { index: number; term: number } {
    if (this.role === 'leader' && this.pendingConfIndex > this.raftLog.applied) {
      throw new ProposalDroppedError(`a membership change at index ${this.pendingConfIndex} is not applied yet; propose the next one after it`);
    }
    const why = confChangeError(this.membership, cc);
    if (why !== null) throw new ProposalDroppedError(`membership change refused: ${why}`);
    const at = this.proposeEntry('confChange', encodeConfChange(cc));
    this.pendingConfIndex = at.index;
    return at;
  }

  /** Asks for a linearizable read; the answer comes as a ReadState in a later Ready. */
  readIndex(context: string): void {
    if (this.role === 'leader') this.leaderReadIndex(context, this.id);
    else if (this.lead !== NONE) this.send(msg({ type: 'readIndex', to: this.lead, context }));
  }

  /** Hands leadership to `to` (thesis §3.10); on a follower, asks the leader to. */
  transferLeadership(to: NodeId): void {
    if (this.role === 'leader') this.leaderTransfer(to);
    else if (this.lead !== NONE) this.send(msg({ type: 'transferLeader', to: this.lead, index: to }));
  }

  /** The owner reports that a peer could not be reached: probe it again from its match. */
  reportUnreachable(id: NodeId): void {
    const pr = this.progress.get(id);
    if (this.role === 'leader' && pr !== undefined && pr.state === 'replicate') pr.becomeProbe();
  }

  /** The owner reports the outcome of sending a snapshot to `id`. */
  reportSnapshot(id: NodeId, ok: boolean): void {
    const pr = this.progress.get(id);
    if (this.role !== 'leader' || pr === undefined || pr.state !== 'snapshot') return;
    if (!ok) pr.pendingSnapshot = 0;
    pr.becomeProbe();
    pr.probeSent = true; // wait for the next heartbeat response before probing again
  }

  // ---- Ready / advance -----------------------------------------------------------------------

  /** True when there is something for the owner to persist, send, apply or serve. */
  hasReady(): boolean {
    if (this.handedOut !== null) return false;
    const hs = this.hardState();
    return this.msgs.length > 0 || this.readStates.length > 0 || this.raftLog.pendingSnapshot !== null ||
      this.raftLog.unstableFrom <= this.raftLog.lastIndex() || this.applyLimit() > this.raftLog.applied ||
      !sameHardState(hs, this.prevHardState) || !sameSoftState(this.softState(), this.prevSoftState);
  }

  /** Takes what is ready; the owner handles it as documented on Ready and then calls advance(). */
  ready(): Ready {
    invariant(this.handedOut === null, 'ready() called twice without advance()');
    const snapshot = this.raftLog.pendingSnapshot;
    const entries = this.raftLog.slice(this.raftLog.unstableFrom, this.raftLog.lastIndex()) ?? [];
    const from = Math.max(this.raftLog.applied, snapshot?.index ?? 0) + 1;
    const committed = this.raftLog.slice(from, this.applyLimit()) ?? [];
    const hs = this.hardState();
    const ss = this.softState();
    const rd: Ready = {
      softState: sameSoftState(ss, this.prevSoftState) ? null : ss,
      hardState: sameHardState(hs, this.prevHardState) ? null : hs,
      entries,
      snapshot,
      messages: this.msgs,
      committedEntries: committed,
      readStates: this.readStates,
      mustSync: entries.length > 0 || snapshot !== null || hs.term !== this.prevHardState.term || hs.vote !== this.prevHardState.vote,
    };
    this.prevHardState = hs;
    this.prevSoftState = ss;
    this.msgs = [];
    this.readStates = [];
    this.raftLog.pendingSnapshot = null;
    this.raftLog.unstableFrom = this.raftLog.lastIndex() + 1;
    const last = entries.length > 0 ? entries[entries.length - 1] : null;
    this.handedOut = {
      lastEntry: last === null ? null : { index: last.index, term: last.term },
      appliedTo: committed.length > 0 ? committed[committed.length - 1].index : from - 1,
      snapshot,
      committed,
    };
    return rd;
  }

  /** The owner has persisted, sent and applied the last Ready; membership changes take effect. */
  advance(): void {
    const h = this.handedOut;
    invariant(h !== null, 'advance() without ready()');
    this.handedOut = null;
    if (h.snapshot !== null) this.raftLog.applied = Math.max(this.raftLog.applied, h.snapshot.index);
    if (h.lastEntry !== null && this.raftLog.matchTerm(h.lastEntry.index, h.lastEntry.term)) {
      this.raftLog.stableIndex = Math.max(this.raftLog.stableIndex, h.lastEntry.index);
    }
    for (const e of h.committed) {
      this.raftLog.applied = e.index;
      if (e.type === 'confChange') this.applyConfEntry(e);
    }
    this.raftLog.applied = Math.max(this.raftLog.applied, h.appliedTo);
    this.maybeAutoLeave();
    if (this.role === 'leader') {
      // The leader counts itself toward a commit only for entries it has persisted (§10.2.1).
      const self = this.progress.get(this.id);
      if (self !== undefined && self.maybeUpdate(this.raftLog.stableIndex) && this.maybeCommit()) this.bcastAppend();
    }
  }

  // ---- snapshots and inspection ---------------------------------------------------------------

  /** Records a snapshot of the state machine at the applied index; the owner persists it. */
  createSnapshot(data: Uint8Array): Snapshot {
    const index = this.raftLog.applied;
    const term = this.raftLog.term(index);
    invariant(term !== undefined, () => `no term for applied index ${index}`);
    const s: Snapshot = { index, term, confState: this.membership.toConfState(), data };
    this.raftLog.setSnapshot(s);
    return s;
  }

  /** Drops in-memory entries at or below `index` (covered by the latest snapshot). */
  compact(index: number): void {
    this.raftLog.compact(index);
  }

  status(): RaftStatus {
    return {
      id: this.id, term: this.term, vote: this.vote, commit: this.raftLog.committed, applied: this.raftLog.applied,
      firstIndex: this.raftLog.firstIndex(), lastIndex: this.raftLog.lastIndex(), leader: this.lead, role: this.role,
      confState: this.membership.toConfState(),
    };
  }

  /** The in-memory log after the compaction point (persisted and not yet persisted entries). */
  log(): readonly Entry[] {
    return this.raftLog.all();
  }

  /** The latest snapshot this node has (created, received or restarted from), if any. */
  snapshot(): Snapshot | null {
    return this.raftLog.snapshot;
  }

  /** The leader's replication state toward each member (for tests and metrics). */
  progressOf(id: NodeId): { match: number; next: number; state: string; inflight: number; recentActive: boolean } | undefined {
    const pr = this.progress.get(id);
    return pr === undefined ? undefined : { match: pr.match, next: pr.next, state: pr.state, inflight: pr.inflights.length, recentActive: pr.recentActive };
  }

  // ---- private: state -------------------------------------------------------------------------

  private hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.raftLog.committed };
  }

  private softState(): SoftState {
    return { leader: this.lead, role: this.role };
  }

  /** The highest index that may be handed out for applying now. */
  private applyLimit(): number {
    if (this.bugs.has('applyBeforeCommit')) return this.raftLog.lastIndex();
    return this.raftLog.committed;
  }

  private send(m: Message): void {
    invariant(m.to !== this.id, () => `message ${m.type} to self`);
    const term = m.type === 'preVote' || m.type === 'preVoteResp' || m.term !== 0 ? m.term : this.term;
    this.msgs.push({ ...m, from: this.id, term });
  }

  private rebuildProgress(): void {
    const next = this.raftLog.lastIndex() + 1;
    const old = this.progress;
    this.progress = new Map();
    for (const id of this.membership.members()) {
      this.progress.set(id, old.get(id) ?? new Progress(next, this.config.maxInflightMsgs));
    }
  }

  private resetRandomizedElectionTimeout(): void {
    this.randomizedElectionTimeout = this.config.electionTick + this.config.random.int(this.config.electionTick);
  }

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.leadTransferee = NONE;
    this.votes.clear();
    this.pendingConfIndex = 0;
    this.readOnly.clear();
    this.readsAwaitingCommit = [];
    const next = this.raftLog.lastIndex() + 1;
    for (const id of [...this.progress.keys()]) {
      const fresh = new Progress(next, this.config.maxInflightMsgs);
      if (id === this.id) fresh.match = this.raftLog.stableIndex;
      this.progress.set(id, fresh);
    }
  }

  private becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.lead = lead;
    this.role = 'follower';
  }

  private becomePreCandidate(): void {
    invariant(this.role !== 'leader', 'leader cannot become pre-candidate');
    // Pre-vote changes neither the term nor the vote (thesis §9.6).
    this.votes.clear();
    this.lead = NONE;
    this.role = 'preCandidate';
  }

  private becomeCandidate(): void {
    invariant(this.role !== 'leader', 'leader cannot become candidate');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
  }

  private becomeLeader(): void {
    invariant(this.role === 'candidate', () => `only a candidate becomes leader, not a ${this.role}`);
    this.reset(this.term);
    this.lead = this.id;
    this.role = 'leader';
    const self = this.progress.get(this.id);
    if (self !== undefined) {
      self.match = this.raftLog.stableIndex;
      self.becomeReplicate();
    }
    // Conservatively, a conf change may be pending anywhere in the uncommitted tail.
    this.pendingConfIndex = this.raftLog.lastIndex();
    // An entry of the new term lets the leader commit everything before it (§5.4.2, §8).
    this.appendEntries([{ type: 'normal', data: new Uint8Array(0) }]);
    this.bcastAppend();
  }

  // ---- private: elections --------------------------------------------------------------------

  private promotable(): boolean {
    return this.membership.isVoter(this.id) && this.raftLog.pendingSnapshot === null;
  }

  private hasUnappliedConfChange(): boolean {
    if (this.raftLog.committed <= this.raftLog.applied) return false;
    const es = this.raftLog.slice(this.raftLog.applied + 1, this.raftLog.committed) ?? [];
    return es.some((e) => e.type === 'confChange');
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(this.config.preVote ? 'preElection' : 'election');
    }
  }

  private hup(kind: 'preElection' | 'election' | 'transfer'): void {
    if (!this.promotable()) return;
    // Campaigning with a membership change committed but not applied would use a stale config.
    if (this.hasUnappliedConfChange()) return;
    this.runCampaign(kind);
  }

  private runCampaign(kind: 'preElection' | 'election' | 'transfer'): void {
    let voteTerm: number;
    if (kind === 'preElection') {
      this.becomePreCandidate();
      voteTerm = this.term + 1;
    } else {
      this.becomeCandidate();
      voteTerm = this.term;
    }
    const type = kind === 'preElection' ? 'preVote' : 'vote';
    this.votes.set(this.id, true);
    if (this.membership.voteResult((id) => this.votes.get(id)) === 'won') {
      if (kind === 'preElection') this.runCampaign('election');
      else this.becomeLeader();
      return;
    }
    for (const id of [...this.membership.allVoters()].sort((a, b) => a - b)) {
      if (id === this.id) continue;
      this.send(msg({
        type, to: id, term: voteTerm, index: this.raftLog.lastIndex(), logTerm: this.raftLog.lastTerm(),
        context: kind === 'transfer' ? TRANSFER_CONTEXT : '',
      }));
    }
  }

  /** Handles a vote or pre-vote request at our term or for a future term (§5.2, §5.4.1, §9.6). */
  private handleVoteRequest(m: Message): void {
    const canVote = this.vote === m.from || (this.vote === NONE && this.lead === NONE) ||
      (m.type === 'preVote' && m.term > this.term);
    const upToDate = this.bugs.has('skipUpToDateCheck') || this.raftLog.isUpToDate(m.index, m.logTerm);
    const respType = m.type === 'vote' ? 'voteResp' : 'preVoteResp';
    if (canVote && upToDate) {
      // A pre-vote answer carries the term the candidate would use; a vote our (equal) term.
      this.send(msg({ type: respType, to: m.from, term: m.term }));
      if (m.type === 'vote') {
        this.electionElapsed = 0;
        if (!this.bugs.has('voteWithoutPersist')) this.vote = m.from;
      }
    } else {
      this.send(msg({ type: respType, to: m.from, term: this.term, reject: true }));
    }
  }

  private handleVoteResponse(m: Message): void {
    const expected = this.role === 'preCandidate' ? 'preVoteResp' : 'voteResp';
    if (m.type !== expected) return;
    this.votes.set(m.from, !m.reject);
    const result = this.membership.voteResult((id) => this.votes.get(id));
    if (result === 'won') {
      if (this.role === 'preCandidate') this.runCampaign('election');
      else this.becomeLeader();
    } else if (result === 'lost') {
      this.becomeFollower(this.term, NONE);
    }
  }

  // ---- private: stepping ---------------------------------------------------------------------

  /** Steps a message from a peer. Messages from older terms or for other roles are answered or dropped. */
  step(m: Message): void {
    if (m.to !== this.id) return;
    if (m.type === 'snapStatus') {
      this.reportSnapshot(m.from, !m.reject);
      return;
    }
    if (!this.stepTerm(m)) return;
    switch (m.type) {
      case 'vote':
      case 'preVote':
        this.handleVoteRequest(m);
        return;
      default:
        break;
    }
    if (this.role === 'leader') this.stepLeader(m);
    else if (this.role === 'follower') this.stepFollower(m);
    else this.stepCandidate(m);
  }

  /** Term rules common to all roles (§5.1); false when the message must go no further. */
  private stepTerm(m: Message): boolean {
    if (m.term > this.term) {
      if (m.type === 'vote' || m.type === 'preVote') {
        // Leader lease (thesis §4.2.3): while we hear from a leader, ignore disruptive candidates.
        const force = m.context === TRANSFER_CONTEXT;
        // With pre-vote alone, a pre-vote is still refused while a leader is heard (thesis §9.6).
        const leaseOn = this.config.checkQuorum || m.type === 'preVote';
        const inLease = leaseOn && this.lead !== NONE && this.electionElapsed < this.config.electionTick;
        if (!force && inLease) return false;
      }
      if (m.type === 'preVote' || (m.type === 'preVoteResp' && !m.reject)) return true;
      const fromLeader = m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap';
      this.becomeFollower(m.term, fromLeader ? m.from : NONE);
      return true;
    }
    if (m.term < this.term) {
      if ((this.config.checkQuorum || this.config.preVote) && (m.type === 'heartbeat' || m.type === 'app')) {
        // A deposed leader cut off for a while learns the new term from this answer and steps down.
        this.send(msg({ type: 'appResp', to: m.from }));
      } else if (m.type === 'preVote') {
        this.send(msg({ type: 'preVoteResp', to: m.from, term: this.term, reject: true }));
      }
      return false;
    }
    return true;
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case 'app':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppend(m);
        return;
      case 'heartbeat':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case 'snap':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      case 'timeoutNow':
        // Leadership transfer: campaign at once, without pre-vote, past other nodes' leases.
        if (this.promotable()) this.runCampaign('transfer');
        return;
      case 'readIndexResp':
        this.readStates.push({ index: m.index, context: m.context });
        return;
      case 'transferLeader':
        if (this.lead !== NONE) this.send(msg({ type: 'transferLeader', to: this.lead, index: m.index }));
        return;
      case 'readIndex':
        if (this.lead !== NONE) this.send(msg({ type: 'readIndex', to: this.lead, context: m.context }));
        return;
      default:
        return;
    }
  }

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case 'app':
      case 'heartbeat':
      case 'snap':
        // A leader exists for this term: fall back and take its word (§5.2).
        this.becomeFollower(m.term, m.from);
        this.stepFollower(m);
        return;
      case 'voteResp':
      case 'preVoteResp':
        this.handleVoteResponse(m);
        return;
      default:
        return;
    }
  }

  // ---- private: follower side of replication -------------------------------------------------

  private handleAppend(m: Message): void {
    if (m.index < this.raftLog.committed) {
      this.send(msg({ type: 'appResp', to: m.from, index: this.raftLog.committed }));
      return;
    }
    const lastNew = this.raftLog.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew !== undefined) {
      this.send(msg({ type: 'appResp', to: m.from, index: lastNew }));
      return;
    }
    // Fast backtracking: name the last index whose term is at most the leader's prevLogTerm.
    const hint = this.raftLog.findConflictByTerm(Math.min(m.index, this.raftLog.lastIndex()), m.logTerm);
    this.send(msg({ type: 'appResp', to: m.from, index: m.index, reject: true, rejectHint: hint.index, rejectLogTerm: hint.term }));
  }

  private handleHeartbeat(m: Message): void {
    // The leader sends min(match, commit), so this never commits entries we do not share.
    this.raftLog.commitTo(Math.min(m.commit, this.raftLog.lastIndex()));
    this.send(msg({ type: 'heartbeatResp', to: m.from, context: m.context }));
  }

  private handleSnapshot(m: Message): void {
    const s = m.snapshot;
    if (s === null) return;
    if (this.restore(s)) {
      this.send(msg({ type: 'appResp', to: m.from, index: this.raftLog.lastIndex() }));
    } else {
      this.send(msg({ type: 'appResp', to: m.from, index: this.raftLog.committed }));
    }
  }

  /** Installs a snapshot (§7); false when it brings nothing new. */
  private restore(s: Snapshot): boolean {
    if (s.index <= this.raftLog.committed) return false;
    if (this.raftLog.matchTerm(s.index, s.term)) {
      // We hold the snapshot's last entry, so everything before it matches: just commit.
      this.raftLog.commitTo(s.index);
      return false;
    }
    this.raftLog.restore(s);
    this.membership = new Membership(s.confState);
    this.rebuildProgress();
    return true;
  }

  // ---- private: leader -----------------------------------------------------------------------

  private proposeEntry(type: EntryType, data: Uint8Array): { index: number; term: number } {
    if (this.role !== 'leader') {
      throw new ProposalDroppedError(`node ${this.id} is not the leader (leader: ${this.lead === NONE ? 'unknown' : this.lead})`);
    }
    if (this.leadTransferee !== NONE) {
      throw new ProposalDroppedError(`leadership is being transferred to node ${this.leadTransferee}`);
    }
    const [e] = this.appendEntries([{ type, data }]);
    this.bcastAppend();
    return { index: e.index, term: e.term };
  }

  private appendEntries(es: readonly { type: EntryType; data: Uint8Array }[]): Entry[] {
    let index = this.raftLog.lastIndex();
    const full = es.map((e) => ({ term: this.term, index: ++index, type: e.type, data: e.data }));
    this.raftLog.append(full);
    return full;
  }

  private tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.config.electionTick) {
      this.electionElapsed = 0;
      if (this.config.checkQuorum && !this.quorumActive()) {
        // CheckQuorum (thesis §6.2): cut off from a majority, stop acting as leader.
        this.becomeFollower(this.term, NONE);
        return;
      }
      for (const [id, pr] of this.progress) if (id !== this.id) pr.recentActive = false;
      // A transfer that did not finish within an election timeout is abandoned.
      this.leadTransferee = NONE;
    }
    for (const [id, pr] of this.progress) {
      if (id === this.id || pr.state !== 'snapshot') continue;
      // A snapshot that got no answer within an election timeout is presumed lost.
      if (++pr.snapshotTicks >= this.config.electionTick) pr.becomeProbe();
    }
    if (this.heartbeatElapsed >= this.config.heartbeatTick) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat(this.readOnly.lastContext());
    }
  }

  private quorumActive(): boolean {
    return this.membership.voteResult((id) => id === this.id || (this.progress.get(id)?.recentActive ?? false)) === 'won';
  }

  private bcastHeartbeat(context: string): void {
    for (const [id, pr] of this.progress) {
      if (id === this.id) continue;
      this.send(msg({ type: 'heartbeat', to: id, commit: Math.min(pr.match, this.raftLog.committed), context }));
    }
  }

  private bcastAppend(): void {
    for (const id of this.progress.keys()) if (id !== this.id) this.sendAppend(id, true);
  }

  /** Sends the next entries (or a snapshot) to one follower; false when nothing was sent. */
  private sendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.progress.get(to);
    if (pr === undefined || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.raftLog.term(prevIndex);
    const entries = this.raftLog.slice(pr.next, this.raftLog.lastIndex(), this.config.maxSizePerMsgBytes);
    if (prevTerm === undefined || entries === undefined) return this.sendSnapshot(to, pr);
    if (entries.length === 0 && !sendIfEmpty) return false;
    this.send(msg({ type: 'app', to, index: prevIndex, logTerm: prevTerm, entries, commit: this.raftLog.committed }));
    pr.sentEntries(entries.length > 0 ? entries[entries.length - 1].index : prevIndex, entries.length);
    return true;
  }

  private sendSnapshot(to: NodeId, pr: Progress): boolean {
    const s = this.raftLog.snapshot;
    invariant(s !== null, () => `follower ${to} needs entries before ${this.raftLog.firstIndex()} but there is no snapshot`);
    if (!pr.recentActive) return false;
    this.send(msg({ type: 'snap', to, snapshot: s }));
    pr.becomeSnapshot(s.index);
    return true;
  }

  private maybeCommit(): boolean {
    const mci = this.membership.committedIndex((id) => this.progress.get(id)?.match ?? 0);
    if (!Number.isFinite(mci) || mci <= this.raftLog.committed) return false;
    // Figure 8: only entries of the current term are committed by counting replicas (§5.4.2).
    if (!this.bugs.has('commitOldTermByCount') && this.raftLog.term(mci) !== this.term) return false;
    this.raftLog.commitTo(mci);
    this.releaseReadsAwaitingCommit();
    return true;
  }

  private stepLeader(m: Message): void {
    const pr = this.progress.get(m.from);
    switch (m.type) {
      case 'readIndex':
        this.leaderReadIndex(m.context, m.from);
        return;
      case 'transferLeader':
        this.leaderTransfer(m.index);
        return;
      default:
        break;
    }
    if (pr === undefined) return;
    pr.recentActive = true;
    if (m.type === 'appResp') this.handleAppendResponse(m, pr);
    else if (m.type === 'heartbeatResp') this.handleHeartbeatResponse(m, pr);
  }

  private handleAppendResponse(m: Message, pr: Progress): void {
    if (m.reject) {
      let hint = m.rejectHint;
      if (m.rejectLogTerm > 0) hint = this.raftLog.findConflictByTerm(m.rejectHint, m.rejectLogTerm).index;
      if (pr.maybeDecrTo(m.index, hint)) {
        if (pr.state === 'replicate') pr.becomeProbe();
        this.sendAppend(m.from, true);
      }
      return;
    }
    const wasPaused = pr.isPaused();
    if (!pr.maybeUpdate(m.index)) {
      if (wasPaused && !pr.isPaused()) this.sendAppend(m.from, false);
      return;
    }
    if (pr.state === 'probe') pr.becomeReplicate();
    else if (pr.state === 'snapshot' && pr.match + 1 >= this.raftLog.firstIndex()) {
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === 'replicate') pr.freeInflightsTo(m.index);
    if (this.maybeCommit()) this.bcastAppend();
    // Keep the pipe full, within the in-flight bound.
    for (let i = 0; i < this.config.maxInflightMsgs && this.sendAppend(m.from, false); i++);
    if (m.from === this.leadTransferee && pr.match === this.raftLog.lastIndex()) {
      this.send(msg({ type: 'timeoutNow', to: m.from }));
    }
  }

  private handleHeartbeatResponse(m: Message, pr: Progress): void {
    pr.probeSent = false;
    if (pr.state === 'replicate' && pr.inflights.length >= pr.maxInflight) pr.inflights.shift();
    if (pr.match < this.raftLog.lastIndex()) this.sendAppend(m.from, true);
    if (m.context === '') return;
    const acks = this.readOnly.ack(m.context, m.from);
    if (acks === undefined || this.membership.voteResult((id) => acks.has(id) ? true : undefined) !== 'won') return;
    for (const r of this.readOnly.release(m.context)) this.answerRead(r.index, r.context, r.from);
  }

  private answerRead(index: number, context: string, from: NodeId): void {
    if (from === this.id) this.readStates.push({ index, context });
    else this.send(msg({ type: 'readIndexResp', to: from, index, context }));
  }

  /** ReadIndex (thesis §6.4): confirm leadership with a round of heartbeats, then answer. */
  private leaderReadIndex(context: string, from: NodeId): void {
    if (this.bugs.has('readWithoutQuorum')) {
      this.answerRead(this.raftLog.committed, context, from);
      return;
    }
    if (this.raftLog.term(this.raftLog.committed) !== this.term) {
      // Until an entry of this term commits, our commit index may be behind the last leader's.
      if (this.readsAwaitingCommit.length < PENDING_READS_MAX) this.readsAwaitingCommit.push({ context, from });
      return;
    }
    if (this.membership.voteResult((id) => id === this.id ? true : undefined) === 'won') {
      this.answerRead(this.raftLog.committed, context, from); // the only voter
      return;
    }
    if (this.readOnly.add(this.raftLog.committed, context, from, this.id)) this.bcastHeartbeat(context);
  }

  private releaseReadsAwaitingCommit(): void {
    if (this.readsAwaitingCommit.length === 0 || this.raftLog.term(this.raftLog.committed) !== this.term) return;
    const reads = this.readsAwaitingCommit;
    this.readsAwaitingCommit = [];
    for (const r of reads) this.leaderReadIndex(r.context, r.from);
  }

  private leaderTransfer(to: NodeId): void {
    if (to === this.id || !this.membership.isVoter(to) || this.leadTransferee === to) return;
    const pr = this.progress.get(to);
    if (pr === undefined) return;
    this.leadTransferee = to;
    this.electionElapsed = 0; // the transfer must finish within an election timeout
    if (pr.match === this.raftLog.lastIndex()) this.send(msg({ type: 'timeoutNow', to }));
    else this.sendAppend(to, true);
  }

  // ---- private: membership -------------------------------------------------------------------

  /** A leader leaves an applied joint configuration marked autoLeave by itself (thesis §4.3). */
  private maybeAutoLeave(): void {
    if (this.role !== 'leader' || !this.membership.isJoint() || !this.membership.autoLeave) return;
    if (this.pendingConfIndex > this.raftLog.applied || this.leadTransferee !== NONE) return;
    const [leave] = this.appendEntries([{ type: 'confChange', data: encodeConfChange({ changes: [] }) }]);
    this.pendingConfIndex = leave.index;
    this.bcastAppend();
  }

  private applyConfEntry(e: Entry): void {
    const { next, error } = applyConfChange(this.membership, decodeConfChange(e.data));
    if (error !== null) return; // invalid everywhere alike: the log stays the same on every node
    this.membership = next;
    this.rebuildProgress();
    if (this.role !== 'leader') return;
    if (!this.membership.isVoter(this.id)) {
      // A removed leader steps down (§6), handing over to the most caught-up voter if it can.
      const heir = [...this.membership.allVoters()].find((id) => this.progress.get(id)?.match === this.raftLog.lastIndex());
      if (heir !== undefined) this.send(msg({ type: 'timeoutNow', to: heir }));
      this.becomeFollower(this.term, NONE);
      return;
    }
    if (this.leadTransferee !== NONE && !this.membership.isVoter(this.leadTransferee)) this.leadTransferee = NONE;
    this.maybeCommit();
    this.bcastAppend();
  }
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

function sameSoftState(a: SoftState, b: SoftState): boolean {
  return a.leader === b.leader && a.role === b.role;
}
