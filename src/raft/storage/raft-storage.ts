import type { Entry, HardState, PersistedState, Snapshot } from '../core/types';
import { FailedPreconditionError } from '../../types/errors';

/** What one Ready asks to persist; written atomically and synced (DESIGN.md §7). */
export interface ReadyWrite {
  readonly hardState: HardState | null;
  readonly entries: readonly Entry[];
  /** A snapshot received from the leader: replaces the whole stored log. */
  readonly snapshot: Snapshot | null;
  /**
   * False when only the commit index changed (Ready.mustSync): losing it in a crash is safe, as
   * the leader tells it again, so the write skips its fsync. Defaults to true.
   */
  readonly sync?: boolean;
  /** Small string settings stored in the same batch (the member id on first start). */
  readonly meta?: Readonly<Record<string, string>>;
}

/** What a storage held when it was opened. */
export interface StoredState {
  readonly state: PersistedState;
  readonly meta: Readonly<Record<string, string>>;
}

/**
 * Where a RaftNode keeps its log, hard state and snapshots. Every write resolves only once it
 * is durable; a storage that finds its files damaged refuses to open rather than return less.
 */
export interface RaftStorage {
  /** Everything persisted, or null for a storage never written to. */
  load(): Promise<StoredState | null>;
  /** Persists one Ready in a single synced write. */
  saveReady(w: ReadyWrite): Promise<void>;
  /**
   * Makes a snapshot this node took current and deletes the entries it covers, except the last
   * `keepTailEntries` of them (slow followers catch up from those without a snapshot).
   */
  saveSnapshot(s: Snapshot, keepTailEntries: number): Promise<void>;
  close(): Promise<void>;
}

/** How an operator recovers a member whose data directory is damaged. */
export const recoveryHint =
  'move the data directory aside (keep it for inspection) and rejoin this manager: remove it from the cluster ' +
  'on a healthy manager and add it again with a new id; it then receives a snapshot from the leader';

/** A data directory that is damaged: the node must not start with it. */
export function corruptionError(what: string, file: string): FailedPreconditionError {
  return new FailedPreconditionError(`raft storage is damaged: ${what} (file ${file}); refusing to start with a shortened or empty log`, {
    hint: recoveryHint,
  });
}
