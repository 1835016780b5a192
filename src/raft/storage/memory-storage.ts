import type { Entry, HardState, Snapshot } from '../core/types';
import type { RaftStorage, ReadyWrite, StoredState } from './raft-storage';

/** A RaftStorage in memory with the same semantics as the LevelDB one, for unit tests. */
export class MemoryRaftStorage implements RaftStorage {
  private entries: Entry[] = [];
  private hardState: HardState | null = null;
  private snapshot: Snapshot | null = null;
  private readonly meta: Record<string, string> = {};
  /** Number of synced writes so far (tests check that one Ready costs one write). */
  writes = 0;

  load(): Promise<StoredState | null> {
    if (this.hardState === null) return Promise.resolve(null);
    return Promise.resolve({
      state: { hardState: this.hardState, snapshot: this.snapshot, entries: [...this.entries] },
      meta: { ...this.meta },
    });
  }

  saveReady(w: ReadyWrite): Promise<void> {
    this.writes++;
    Object.assign(this.meta, w.meta ?? {});
    if (w.snapshot !== null) {
      this.snapshot = w.snapshot;
      this.entries = [];
    }
    if (w.entries.length > 0) {
      const first = w.entries[0].index;
      this.entries = this.entries.filter((e) => e.index < first).concat(w.entries);
    }
    if (w.hardState !== null) this.hardState = w.hardState;
    return Promise.resolve();
  }

  saveSnapshot(s: Snapshot, keepTailEntries: number): Promise<void> {
    this.writes++;
    if (this.snapshot !== null && this.snapshot.index >= s.index) return Promise.resolve();
    this.snapshot = s;
    this.entries = this.entries.filter((e) => e.index > s.index - keepTailEntries);
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
