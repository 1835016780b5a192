import type { Entry } from '../raft/core/types';

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
}

/** What Raft replicates into (the same shape as the RaftNode's StateMachine). */
export interface StateMachine<R> {
  apply(entry: Entry): R;
  snapshot(): Uint8Array;
  restore(data: Uint8Array): void;
}
