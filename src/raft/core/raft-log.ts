import { invariant } from './assert';
import type { Entry, Snapshot } from './types';

/** The approximate wire size of an entry, for message size limits. */
export function entrySize(e: Entry): number {
  return e.data.length + 24;
}

/**
 * The in-memory log of one node: entries after the last compaction point, the latest snapshot,
 * and the commit, apply and durability marks. Everything the owner has not yet persisted is
 * `unstable` and handed out by the next Ready.
 */
export class RaftLog {
  /** Index of the first entry held in `entries`; the entry before it is known only by term. */
  private offset: number;
  /** Term of the entry at offset - 1 (a snapshot's or a compaction point's). */
  private offsetTerm: number;
  private entries: Entry[];
  /** The latest snapshot (created here, received, or restarted from). */
  snapshot: Snapshot | null;
  /** A received snapshot not yet handed to the owner in a Ready. */
  pendingSnapshot: Snapshot | null = null;
  committed: number;
  applied: number;
  /** Entries with index >= unstableFrom have not been handed out for persisting yet. */
  unstableFrom: number;
  /** Highest index known to be durable on this node. */
  stableIndex: number;

  constructor(snapshot: Snapshot | null, entries: readonly Entry[], committed: number, applied: number) {
    const snapIndex = snapshot?.index ?? 0;
    // Entries at or below the snapshot are covered by it; keep only what follows.
    const after = entries.filter((e) => e.index > snapIndex);
    invariant(after.length === 0 || after[0].index === snapIndex + 1,
      () => `stored log starts at index ${after[0].index} but the snapshot ends at ${snapIndex}: entries are missing`);
    for (let i = 1; i < after.length; i++) {
      invariant(after[i].index === after[i - 1].index + 1, () => `stored log has a gap after index ${after[i - 1].index}`);
      invariant(after[i].term >= after[i - 1].term, () => `stored log term goes backwards at index ${after[i].index}`);
    }
    this.snapshot = snapshot;
    this.offset = snapIndex + 1;
    this.offsetTerm = snapshot?.term ?? 0;
    this.entries = after;
    const last = this.lastIndex();
    invariant(committed >= snapIndex && committed <= last, () => `commit index ${committed} is outside the stored log [${snapIndex}, ${last}]`);
    invariant(applied >= snapIndex && applied <= committed, () => `applied index ${applied} is outside [${snapIndex}, ${committed}]`);
    this.committed = committed;
    this.applied = applied;
    this.unstableFrom = last + 1;
    this.stableIndex = last;
  }

  /** Index of the first entry still held (or that would be, if the log is empty). */
  firstIndex(): number {
    return this.offset;
  }

  lastIndex(): number {
    return this.offset + this.entries.length - 1;
  }

  lastTerm(): number {
    return this.term(this.lastIndex()) ?? 0;
  }

  /** The term of the entry at i, or undefined when i is compacted away or beyond the log. */
  term(i: number): number | undefined {
    if (i === this.offset - 1) return this.offsetTerm;
    if (i < this.offset - 1 || i > this.lastIndex()) return undefined;
    return this.entries[i - this.offset].term;
  }

  matchTerm(i: number, t: number): boolean {
    return this.term(i) === t;
  }

  /** Entries in [lo, hi], or undefined when part of the range is compacted away. */
  slice(lo: number, hi: number, maxBytes = Infinity): Entry[] | undefined {
    if (lo < this.offset) return undefined;
    const end = Math.min(hi, this.lastIndex());
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i <= end; i++) {
      const e = this.entries[i - this.offset];
      bytes += entrySize(e);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  /** All held entries (for checks and tests). */
  all(): readonly Entry[] {
    return this.entries;
  }

  /** A leader's append: the entries continue the log. */
  append(es: readonly Entry[]): void {
    for (const e of es) {
      invariant(e.index === this.lastIndex() + 1, () => `append at ${e.index} does not follow last index ${this.lastIndex()}`);
      this.entries.push(e);
    }
  }

  /**
   * A follower's append (§5.3): if the log holds (prevIndex, prevTerm), drops any conflicting
   * suffix and appends what is new. Returns the index of the last new entry, or undefined when
   * the log does not match at prevIndex.
   */
  maybeAppend(prevIndex: number, prevTerm: number, commit: number, es: readonly Entry[]): number | undefined {
    if (!this.matchTerm(prevIndex, prevTerm)) return undefined;
    const lastNew = prevIndex + es.length;
    const conflict = this.findConflict(es);
    if (conflict !== 0) {
      invariant(conflict > this.committed, () => `entry ${conflict} conflicts with committed entry (commit ${this.committed})`);
      this.truncateAndAppend(es.slice(conflict - (prevIndex + 1)));
    }
    this.commitTo(Math.min(commit, lastNew));
    return lastNew;
  }

  /** The first index where es disagrees with the log or goes beyond it; 0 if es is all present. */
  private findConflict(es: readonly Entry[]): number {
    for (const e of es) {
      if (e.index < this.offset) continue; // covered by our snapshot: committed, so equal
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  private truncateAndAppend(es: readonly Entry[]): void {
    if (es.length === 0) return;
    const from = es[0].index;
    invariant(from >= this.offset && from <= this.lastIndex() + 1, () => `truncate at ${from} outside [${this.offset}, ${this.lastIndex() + 1}]`);
    this.entries.length = from - this.offset;
    this.entries.push(...es);
    this.unstableFrom = Math.min(this.unstableFrom, from);
    this.stableIndex = Math.min(this.stableIndex, from - 1);
  }

  commitTo(i: number): void {
    if (i <= this.committed) return;
    invariant(i <= this.lastIndex(), () => `commit ${i} beyond last index ${this.lastIndex()}`);
    this.committed = i;
  }

  /** The largest index <= i whose term is <= t (fast backtracking, §5.3's optimization). */
  findConflictByTerm(i: number, t: number): { index: number; term: number } {
    let idx = Math.min(i, this.lastIndex());
    for (; idx >= this.offset - 1; idx--) {
      const it = this.term(idx);
      if (it === undefined || it <= t) return { index: idx, term: it ?? 0 };
    }
    return { index: idx, term: 0 };
  }

  /** True when the log ending (lastTerm, lastIndex) is at least as up to date as ours (§5.4.1). */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /** Replaces the whole log by a received snapshot. */
  restore(s: Snapshot): void {
    this.snapshot = s;
    this.pendingSnapshot = s;
    this.offset = s.index + 1;
    this.offsetTerm = s.term;
    this.entries = [];
    this.committed = s.index;
    this.unstableFrom = s.index + 1;
    this.stableIndex = s.index;
  }

  /** Records a snapshot made by the owner at the applied index. */
  setSnapshot(s: Snapshot): void {
    invariant(s.index <= this.applied, () => `snapshot at ${s.index} beyond applied ${this.applied}`);
    if (this.snapshot === null || s.index > this.snapshot.index) this.snapshot = s;
  }

  /** Drops entries at or below i; i must be covered by the snapshot. */
  compact(i: number): void {
    if (i < this.offset) return;
    const snapIndex = this.snapshot?.index ?? 0;
    invariant(i <= snapIndex, () => `compact(${i}) beyond the snapshot at ${snapIndex}`);
    invariant(i <= this.applied, () => `compact(${i}) beyond applied ${this.applied}`);
    const t = this.term(i);
    invariant(t !== undefined, `compact point has no term`);
    this.entries = this.entries.slice(i + 1 - this.offset);
    this.offset = i + 1;
    this.offsetTerm = t;
  }
}
