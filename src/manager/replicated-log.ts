import type { Entry } from '../raft/core/types';

/** One voting Raft member as the leader sees it. */
export interface LogMember {
  readonly raftId: number;
  /** Answered the leader recently (heartbeat acknowledgements); always true for the leader itself. */
  readonly reachable: boolean;
}

/**
 * What the manager needs from Raft. The durable RaftNode plugs in with a small adapter; tests
 * drive RawNode instances over a simulated network.
 */
export interface ReplicatedLog {
  /** Resolves with the state machine's apply() result once the entry is applied locally; rejects if it cannot commit. */
  propose(data: Uint8Array): Promise<unknown>;
  isLeader(): boolean;
  /**
   * Calls cb on every change of this manager's leadership; returns an unsubscribe function.
   * Leadership is reported (and isLeader() true) only once this member has applied every entry
   * committed before its term, so the leader loops never act on a store that lacks its
   * predecessor's last writes (SwarmKit signals leadership the same way).
   */
  onLeadershipChange(cb: (isLeader: boolean) => void): () => void;
  /** This manager's Raft member id (optional: a log that can name its members). */
  selfRaftId?(): number;
  /** The voting members with their reachability as this member sees it (meaningful on the leader). */
  members?(): readonly LogMember[];
}

/** How the control API changes the Raft group when a manager is removed or demoted. */
export interface RaftMembership {
  /** Removes a member from the Raft group; resolves once the change is applied on this manager. */
  remove(raftId: number): Promise<void>;
  /**
   * Whether a Raft id is in the group now (voter or learner). A manager node that is not (its
   * member was removed by a forced new cluster) counts toward no quorum and has nothing to leave.
   */
  isMember?(raftId: number): boolean;
  /** This manager's own Raft id: a leader does not remove itself, it hands leadership over first. */
  selfRaftId?(): number;
  /** Hands leadership to another voter; resolves once it has moved. */
  transferLeadership?(): Promise<void>;
}

/** What Raft replicates into (the same shape as the RaftNode's StateMachine). */
export interface StateMachine<R> {
  apply(entry: Entry): R;
  snapshot(): Uint8Array;
  restore(data: Uint8Array): void;
}
