// The durable part of a simulated node: what survives a crash. Writes follow step 1 of the Ready
// contract (types.ts): snapshot, then entries (replacing any stored suffix), then hard state,
// all at once. Problems with what the core asked to write are returned, not thrown.
import type { Entry, HardState, PersistedState, Snapshot } from '../../../src/raft/core/types';

/** A node's simulated stable storage. */
export class SimDisk {
  hardState: HardState = { term: 0, vote: 0, commit: 0 };
  snapshot: Snapshot | null = null;
  /** Entries after the snapshot, contiguous. */
  entries: Entry[] = [];

  /** Index of the last entry held, counting the snapshot's. */
  lastIndex(): number {
    const n = this.entries.length;
    return n > 0 ? this.entries[n - 1].index : this.snapshotIndex();
  }

  snapshotIndex(): number {
    return this.snapshot?.index ?? 0;
  }

  /** Term of the entry at i, the snapshot's at its index, undefined if unknown here. */
  term(i: number): number | undefined {
    const s = this.snapshotIndex();
    if (i === s) return this.snapshot?.term ?? 0;
    if (i < s || i > this.lastIndex()) return undefined;
    return this.entries[i - s - 1].term;
  }

  /** Replaces the stored state with a bootstrap or empty starting state. */
  format(ps: PersistedState): void {
    this.hardState = ps.hardState;
    this.snapshot = ps.snapshot;
    const s = this.snapshotIndex();
    this.entries = ps.entries.filter((e) => e.index > s);
  }

  /** One atomic Ready write; returns what was wrong with it, or null. */
  write(snapshot: Snapshot | null, entries: readonly Entry[], hardState: HardState | null): string | null {
    if (snapshot !== null) {
      if (snapshot.index < this.snapshotIndex()) return `snapshot at ${snapshot.index} is older than the stored one at ${this.snapshotIndex()}`;
      // The core restores a snapshot only when its log does not hold the snapshot's last
      // entry, so the whole stored log is replaced.
      this.snapshot = snapshot;
      this.entries = [];
    }
    if (entries.length > 0) {
      const problem = this.appendEntries(entries);
      if (problem !== null) return problem;
    }
    if (hardState !== null) {
      const problem = checkHardState(this.hardState, hardState);
      if (problem !== null) return problem;
      this.hardState = hardState;
    }
    if (this.hardState.commit > this.lastIndex()) {
      return `persisted commit ${this.hardState.commit} is beyond the persisted log's last index ${this.lastIndex()}`;
    }
    return null;
  }

  private appendEntries(entries: readonly Entry[]): string | null {
    const first = entries[0].index;
    const s = this.snapshotIndex();
    if (first <= s) return `entries from ${first} overlap the stored snapshot at ${s}`;
    if (first > this.lastIndex() + 1) return `entries from ${first} leave a gap after the stored last index ${this.lastIndex()}`;
    if (first <= this.hardState.commit) return `entries from ${first} overwrite the committed index ${this.hardState.commit}`;
    for (let i = 1; i < entries.length; i++) {
      if (entries[i].index !== entries[i - 1].index + 1) return `entries to persist are not contiguous at ${entries[i].index}`;
    }
    this.entries.length = first - s - 1;
    for (const e of entries) this.entries.push(e);
    return null;
  }

  /** Stores a snapshot the owner created and drops the entries it covers. */
  installOwnSnapshot(snapshot: Snapshot): void {
    const drop = snapshot.index - this.snapshotIndex();
    this.entries = this.entries.slice(Math.max(0, drop));
    this.snapshot = snapshot;
  }

  /** What a restart reads back. */
  persisted(): PersistedState {
    return { hardState: this.hardState, snapshot: this.snapshot, entries: [...this.entries], applied: this.snapshotIndex() };
  }
}

/** A persisted hard state may not move backwards: term, vote within a term, commit. */
function checkHardState(prev: HardState, next: HardState): string | null {
  if (next.term < prev.term) return `persisted term goes back from ${prev.term} to ${next.term}`;
  if (next.term === prev.term && prev.vote !== 0 && next.vote !== prev.vote) {
    return `persisted vote in term ${next.term} changes from ${prev.vote} to ${next.vote}`;
  }
  if (next.commit < prev.commit) return `persisted commit goes back from ${prev.commit} to ${next.commit}`;
  return null;
}
