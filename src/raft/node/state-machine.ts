import type { Entry } from '../core/types';

/** What a RaftNode replicates into: applied identically, in log order, on every node. */
export interface StateMachine<R = unknown> {
  /** Applies one committed normal entry; the result resolves the proposer's promise on this node. */
  apply(entry: Entry): R;
  /** An image of the whole state at the last applied entry. */
  snapshot(): Uint8Array;
  /** Replaces the whole state with an image made by snapshot(). */
  restore(data: Uint8Array): void;
}
