import type { Random } from '../../types/random';

/** A Raft member id: a positive integer, never reused after removal. 0 means "none". */
export type NodeId = number;
/** The id that means "no node" (no vote, no leader). */
export const NONE: NodeId = 0;

/** What an entry carries: an opaque command for the state machine, or a membership change. */
export type EntryType = 'normal' | 'confChange';

/** One log entry. `data` is opaque to Raft (for confChange entries it is an encoded ConfChange). */
export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** What must survive a crash besides the log: the current term, the vote in it, and the commit index. */
export interface HardState {
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
}

/**
 * A membership configuration. Outside joint consensus `votersOutgoing` is empty. During a joint
 * configuration (Raft thesis §4.3) decisions need a majority of `voters` AND of `votersOutgoing`;
 * `learnersNext` are voters of the outgoing configuration that become learners when it is left.
 */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
  readonly votersOutgoing: readonly NodeId[];
  readonly learnersNext: readonly NodeId[];
  /** Leave the joint configuration by itself once it is applied (the leader proposes the exit). */
  readonly autoLeave: boolean;
}

/** A snapshot replaces the log up to and including `index`; `data` is the state machine's image. */
export interface Snapshot {
  readonly index: number;
  readonly term: number;
  readonly confState: ConfState;
  readonly data: Uint8Array;
}

/** One step of a membership change. Promoting a learner is `addVoter` of the learner's id. */
export interface ConfChangeSingle {
  readonly type: 'addVoter' | 'addLearner' | 'removeNode';
  readonly nodeId: NodeId;
  /** Opaque to the core; the owner uses it for the member's address. */
  readonly context?: string;
}

/**
 * A membership change. One voter added or removed (plus any learner changes) is applied at once;
 * more than one voter change goes through joint consensus. `transition: 'explicit'` keeps the
 * joint configuration until an empty ConfChange (`changes: []`) is committed; 'auto' (default)
 * lets the leader leave it by itself. An empty `changes` list leaves a joint configuration.
 */
export interface ConfChange {
  readonly changes: readonly ConfChangeSingle[];
  readonly transition?: 'auto' | 'joint' | 'explicit';
}

/** The kinds of message Raft nodes exchange. */
export type MessageType =
  | 'app' // append entries (also the empty probe)
  | 'appResp'
  | 'vote'
  | 'voteResp'
  | 'preVote'
  | 'preVoteResp'
  | 'heartbeat'
  | 'heartbeatResp'
  | 'snap' // install snapshot
  | 'timeoutNow' // leadership transfer: campaign at once (§3.10 of the thesis)
  | 'readIndex' // a follower forwards a read to the leader
  | 'readIndexResp'
  | 'transferLeader' // a follower forwards a transfer request to the leader
  | 'snapStatus'; // local only: the owner reports a snapshot send that failed

/** A message between Raft nodes. Fields a type does not use are 0, false or empty. */
export interface Message {
  readonly type: MessageType;
  readonly from: NodeId;
  readonly to: NodeId;
  /** The sender's term; 0 for local messages. */
  readonly term: number;
  /** app: term of the entry at `index`; vote/preVote: term of the candidate's last entry. */
  readonly logTerm: number;
  /** app: index preceding `entries`; vote/preVote: candidate's last index; appResp: match or rejected index. */
  readonly index: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
  readonly reject: boolean;
  /** appResp with reject: the follower's best guess of where logs agree (fast backtracking). */
  readonly rejectHint: number;
  /** appResp with reject: term of the follower's entry at rejectHint (0 if none). */
  readonly rejectLogTerm: number;
  readonly snapshot: Snapshot | null;
  /** readIndex / heartbeat: the read's context, echoed back. */
  readonly context: string;
}

/** A linearizable read is safe once the state machine has applied `index`. */
export interface ReadState {
  readonly index: number;
  readonly context: string;
}

/** The role a node plays now. */
export type Role = 'follower' | 'candidate' | 'preCandidate' | 'leader';

/** Volatile state that callers may watch (not persisted). */
export interface SoftState {
  readonly leader: NodeId;
  readonly role: Role;
}

/**
 * What the owner must do, in this order, before calling `advance()`:
 *
 * 1. Persist `snapshot` (if any: it replaces the whole stored log, so every stored entry is
 *    deleted), then `entries` (the first entry's index may be at or below the last stored
 *    index: stored entries from that index on are replaced), then `hardState` (if any) — all in
 *    one atomic, synced write.
 * 2. Send `messages`. PERSIST BEFORE SENDING ANYTHING THAT DEPENDS ON IT: a vote, an append
 *    acknowledgement or a commit that reaches a peer before the write that backs it is durable
 *    can be forgotten by a crash, and two leaders or a lost committed entry follow. The one
 *    exception: a leader may send its 'app' messages while its own write is in flight (thesis
 *    §10.2.1), because the leader counts itself toward a commit only after `advance()`.
 * 3. If `snapshot` is set, restore the state machine from it; then apply `committedEntries` in
 *    order (they are always already persisted or in this Ready's `entries`).
 * 4. Serve each `readStates` read once the state machine has applied its index.
 * 5. Call `advance()`. Membership changes in `committedEntries` take effect then.
 */
export interface Ready {
  readonly softState: SoftState | null;
  readonly hardState: HardState | null;
  readonly entries: readonly Entry[];
  readonly snapshot: Snapshot | null;
  readonly messages: readonly Message[];
  readonly committedEntries: readonly Entry[];
  readonly readStates: readonly ReadState[];
  /** True when `entries`, `hardState` or `snapshot` must be written with fsync. */
  readonly mustSync: boolean;
}

/** Deliberate bugs that tests switch on to prove the simulator's checker is not vacuous. */
export type RaftBug =
  /** Count replicas of entries from older terms toward commit (the paper's Figure 8). */
  | 'commitOldTermByCount'
  /** Grant a vote without recording it in the hard state, so a crash forgets it. */
  | 'voteWithoutPersist'
  /** Hand out entries for applying as soon as they are appended, before they commit. */
  | 'applyBeforeCommit'
  /** Grant votes without checking that the candidate's log is at least as up to date (§5.4.1). */
  | 'skipUpToDateCheck'
  /** Answer ReadIndex at once from the leader's commit index without confirming leadership. */
  | 'readWithoutQuorum';

/** Settings for one Raft node; ticks are abstract (the owner decides how long one is). */
export interface RaftConfig {
  readonly id: NodeId;
  /** Ticks without a leader's word before a follower campaigns; randomized in [n, 2n). */
  readonly electionTick: number;
  /** Ticks between a leader's heartbeats; must be less than electionTick. */
  readonly heartbeatTick: number;
  /** Seeded randomness for the election timeout. */
  readonly random: Random;
  /** Run a pre-vote round before bumping the term (thesis §9.6). */
  readonly preVote: boolean;
  /** A leader that has not heard from a quorum for an election timeout steps down (thesis §6.2). */
  readonly checkQuorum: boolean;
  /** Upper bound on the bytes of entries in one 'app' message (at least one entry is sent). */
  readonly maxSizePerMsgBytes: number;
  /** Upper bound on 'app' messages in flight to one follower in the replicate state. */
  readonly maxInflightMsgs: number;
  /** Test only: deliberate bugs to switch on. Never set in production. */
  readonly testBugs?: ReadonlySet<RaftBug>;
}

/** What a node restarts from: everything it had persisted. */
export interface PersistedState {
  readonly hardState: HardState;
  readonly snapshot: Snapshot | null;
  /** Entries after the snapshot, contiguous and in order. */
  readonly entries: readonly Entry[];
  /** Index the state machine has applied durably (at least snapshot.index); usually snapshot.index. */
  readonly applied?: number;
}
