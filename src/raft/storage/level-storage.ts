import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { Level } from 'level';
import type { ConfState, Entry, HardState, Snapshot } from '../core/types';
import { decodeEntry, decodeHardState, encodeEntry, encodeHardState } from '../wire/codec';
import { decodeRun, encodeRun, entryKey, frame, hardStateKey, indexOfEntryKey, KeyKind, metaKey, snapshotMetaKey, unframe } from './record';
import { corruptionError, recoveryHint, type RaftStorage, type ReadyWrite, type StoredState } from './raft-storage';
import { LogMark } from './log-mark';
import { readSnapshotFile, removeOtherSnapshots, snapshotFileName, syncDir, writeSnapshotFile, type SnapshotFileRef } from './snapshot-file';

type Db = Level<Buffer, Buffer>;
type Op = { type: 'put'; key: Buffer; value: Buffer } | { type: 'del'; key: Buffer };

/** The snapshot record in LevelDB: the metadata and where its image is. */
interface SnapshotRecord extends SnapshotFileRef {
  index: number;
  term: number;
  confState: ConfState;
}

/** Written beside the log when damage is found, so that later starts refuse too. */
const damagedMarker = 'DAMAGED';

/**
 * RaftStorage on LevelDB (`level`) in `dir/db`, snapshot images as files in `dir/snapshots`.
 * Each Ready is one LevelDB batch written with sync; every value carries a CRC-32; opening
 * checks the whole log and refuses a damaged directory with a message naming the file.
 */
export class LevelRaftStorage implements RaftStorage {
  /**
   * The stored runs of entries, oldest first: each write stores its entries as one LevelDB value
   * keyed by its first index (one put per Ready instead of one per entry).
   */
  private runs: { first: number; last: number }[] = [];
  /** Index of the last stored entry (the snapshot's when no entry follows it). */
  private last = 0;
  private snapshotIndex = 0;
  private writing: Promise<void> = Promise.resolve();

  private loaded: StoredState | null = null;
  private mark: LogMark | null = null;

  private constructor(readonly dir: string, private readonly db: Db) {}

  private get dbDir(): string {
    return path.join(this.dir, 'db');
  }

  private get snapDir(): string {
    return path.join(this.dir, 'snapshots');
  }

  /** Opens (or creates) the storage in `dir`; throws a FailedPreconditionError naming the file if it is damaged. */
  static async open(dir: string): Promise<LevelRaftStorage> {
    await fs.mkdir(path.join(dir, 'snapshots'), { recursive: true, mode: 0o700 });
    const marker = path.join(dir, damagedMarker);
    const earlier = await fs.readFile(marker, 'utf8').catch(() => null);
    if (earlier !== null) throw corruptionError(`damage was found at an earlier start: ${earlier.trim()}`, marker);
    const dbDir = path.join(dir, 'db');
    const dbExists = await exists(dbDir);
    const snaps = (await fs.readdir(path.join(dir, 'snapshots'))).filter((f) => f.endsWith('.snap'));
    if (!dbExists && snaps.length > 0) throw corruptionError('the log database is missing but snapshots exist', dbDir);
    const db: Db = new Level<Buffer, Buffer>(dbDir, { keyEncoding: 'buffer', valueEncoding: 'buffer', createIfMissing: !dbExists });
    try {
      await db.open();
    } catch (err) {
      throw corruptionError(`LevelDB cannot open it: ${causeMessage(err)}`, dbDir);
    }
    const storage = new LevelRaftStorage(dir, db);
    try {
      await refuseDroppedRecords(dir, dbDir);
      storage.mark = await storage.openMark();
      storage.loaded = await storage.readAll(snaps.length > 0, storage.mark.atOpen);
      // Leftovers of a crash between writing an image and recording it are never current.
      await removeOtherSnapshots(storage.snapDir, storage.loaded?.state.snapshot === null ? '' : snapshotFileName(storage.loaded?.state.snapshot?.term ?? 0, storage.snapshotIndex));
      return storage;
    } catch (err) {
      await storage.mark?.close().catch(() => undefined);
      await db.close().catch(() => undefined);
      throw err;
    }
  }

  load(): Promise<StoredState | null> {
    return Promise.resolve(this.loaded);
  }

  saveReady(w: ReadyWrite): Promise<void> {
    return this.serialized(async () => {
      const ops: Op[] = [];
      const lastBefore = this.last;
      let ref: SnapshotFileRef | null = null;
      if (w.snapshot !== null) {
        ref = await writeSnapshotFile(this.snapDir, snapshotFileName(w.snapshot.term, w.snapshot.index), w.snapshot.data);
        ops.push(this.snapshotOp(w.snapshot, ref));
        // A received snapshot replaces the whole log (see Ready), in the same atomic write.
        for (const r of this.runs) ops.push({ type: 'del', key: entryKey(r.first) });
        this.runs = [];
        this.last = w.snapshot.index;
      }
      if (w.entries.length > 0) await this.appendOps(w.entries, ops);
      // The log gets shorter (a conflicting suffix replaced, a snapshot behind our tail): lower the mark first.
      if (this.last < lastBefore) await this.mark?.lower(this.last);
      if (w.hardState !== null) ops.push({ type: 'put', key: hardStateKey, value: frame(encodeHardState(w.hardState)) });
      for (const [k, v] of Object.entries(w.meta ?? {})) ops.push({ type: 'put', key: metaKey(k), value: frame(Buffer.from(v, 'utf8')) });
      if (ops.length > 0) await this.db.batch(ops, { sync: w.sync ?? true });
      if (w.sync ?? true) this.mark?.raise(this.last);
      if (w.snapshot !== null && ref !== null) await this.madeCurrent(w.snapshot.index, ref.file);
    });
  }

  saveSnapshot(s: Snapshot, keepTailEntries: number): Promise<void> {
    return this.serialized(async () => {
      if (s.index <= this.snapshotIndex) return;
      const ref = await writeSnapshotFile(this.snapDir, snapshotFileName(s.term, s.index), s.data);
      await this.db.batch([this.snapshotOp(s, ref)], { sync: true });
      await this.madeCurrent(s.index, ref.file);
      // The covered entries go after the snapshot is current, oldest first, in LevelDB's own range
      // delete (thousands of single deletes through the JS batch API stall the event loop). A crash
      // part way leaves a contiguous run of covered entries, which the next compaction removes.
      const upTo = s.index - Math.max(0, keepTailEntries);
      let n = 0;
      while (n < this.runs.length && this.runs[n].last <= upTo) n++;
      if (n > 0) {
        await this.db.clear({ gte: entryKey(this.runs[0].first), lte: entryKey(this.runs[n - 1].first) });
        this.runs = this.runs.slice(n);
      }
    });
  }

  async close(): Promise<void> {
    await this.writing.catch(() => undefined);
    await this.mark?.close().catch(() => undefined);
    await this.db.close();
  }

  // ---- private ----------------------------------------------------------------------------------

  /** Writes never overlap: `runs` and `last` must follow the order the batches reach the disk. */
  private serialized(fn: () => Promise<void>): Promise<void> {
    const next = this.writing.then(fn);
    this.writing = next.catch(() => undefined);
    return next;
  }

  private async appendOps(entries: readonly Entry[], ops: Op[]): Promise<void> {
    const from = entries[0].index;
    if (from > this.last + 1) throw new Error(`raft storage: entries start at ${from} but the log ends at ${this.last} (a gap)`);
    // Entries from `from` on are replaced (a new leader overwrote a conflicting suffix): drop the
    // runs after it and cut the run that holds it (rare, so reading it back is fine).
    for (let r = this.runs.at(-1); r !== undefined && r.last >= from; r = this.runs.at(-1)) {
      this.runs.pop();
      ops.push({ type: 'del', key: entryKey(r.first) });
      if (r.first < from) {
        const kept = (await this.readRun(r.first)).filter((e) => e.index < from);
        ops.push({ type: 'put', key: entryKey(r.first), value: frame(encodeRun(kept.map(encodeEntry))) });
        this.runs.push({ first: r.first, last: from - 1 });
        break;
      }
    }
    ops.push({ type: 'put', key: entryKey(from), value: frame(encodeRun(entries.map(encodeEntry))) });
    this.last = entries[entries.length - 1].index;
    this.runs.push({ first: from, last: this.last });
  }

  private async readRun(first: number): Promise<Entry[]> {
    const v = await this.db.get(entryKey(first));
    const parts = v === undefined ? null : unframe(v);
    const encoded = parts === null ? null : decodeRun(parts);
    if (encoded === null) throw corruptionError(`log entries from ${first} cannot be read back`, this.dbDir);
    return encoded.map((b) => decodeEntry(b));
  }

  private snapshotOp(s: Snapshot, ref: SnapshotFileRef): Op {
    const rec: SnapshotRecord = { index: s.index, term: s.term, confState: s.confState, ...ref };
    return { type: 'put', key: snapshotMetaKey, value: frame(Buffer.from(JSON.stringify(rec), 'utf8')) };
  }

  /** The new snapshot is current in LevelDB: older images can go. */
  private async madeCurrent(index: number, file: string): Promise<void> {
    this.snapshotIndex = index;
    await removeOtherSnapshots(this.snapDir, file);
    await syncDir(this.snapDir);
  }

  private get markFile(): string {
    return path.join(this.dir, 'LOGMARK');
  }

  private async openMark(): Promise<LogMark> {
    const mark = await LogMark.open(this.markFile);
    if (typeof mark === 'string') throw corruptionError(mark, this.markFile);
    return mark;
  }

  /** Refuses a log that ends before the mark: writes that were durable are gone. */
  private checkMark(lastIndex: number, markIndex: number, empty: boolean): void {
    if (lastIndex >= markIndex) return;
    const what = empty ? 'the log database is empty' : `the log ends at index ${lastIndex}`;
    throw corruptionError(`${what} but it had durably reached index ${markIndex} (per ${this.markFile}): the newest write-ahead log lost writes`, this.dbDir);
  }

  /** Reads and checks everything stored; null for a new, empty storage. */
  private async readAll(snapshotFilesExist: boolean, markIndex: number): Promise<StoredState | null> {
    const entries: Entry[] = [];
    let hardState: HardState | null = null;
    let snap: SnapshotRecord | null = null;
    const meta: Record<string, string> = {};
    let keys = 0;
    try {
      for await (const [k, v] of this.db.iterator()) {
        keys++;
        const payload = unframe(v);
        const what = k[0] === KeyKind.Entry ? `log entries from ${indexOfEntryKey(k)}` : `record ${k.toString('hex')}`;
        if (payload === null) throw corruptionError(`${what} fail their checksum`, this.dbDir);
        if (k[0] === KeyKind.Entry) {
          const run = decodeRun(payload)?.map((b) => decodeEntry(b));
          if (run === undefined || run.length === 0) throw corruptionError(`${what} are not a valid run of entries`, this.dbDir);
          const first = indexOfEntryKey(k);
          for (const [i, e] of run.entries()) {
            if (e.index !== first + i) throw corruptionError(`log entry ${first + i} says it is ${e.index}`, this.dbDir);
          }
          const prev = entries.at(-1);
          if (prev !== undefined && first !== prev.index + 1) throw corruptionError(`log entries ${prev.index + 1}..${first - 1} are missing`, this.dbDir);
          for (const e of run) entries.push(e);
          this.runs.push({ first, last: first + run.length - 1 });
        } else if (k[0] === KeyKind.HardState) hardState = decodeHardState(payload);
        else if (k[0] === KeyKind.SnapshotMeta) snap = JSON.parse(payload.toString('utf8')) as SnapshotRecord;
        else if (k[0] === KeyKind.Meta) meta[k.subarray(1).toString('utf8')] = payload.toString('utf8');
      }
    } catch (err) {
      if (err instanceof Error && err.name.startsWith('ShoalError')) throw err;
      throw corruptionError(`LevelDB cannot read it: ${causeMessage(err)}`, this.dbDir);
    }
    if (keys === 0) {
      this.checkMark(0, markIndex, true);
      if (snapshotFilesExist) throw corruptionError('the log database is empty but snapshots exist', this.dbDir);
      return null;
    }
    // Checked before anything else: lost writes explain most other damage that follows.
    this.checkMark(Math.max(snap?.index ?? 0, entries.at(-1)?.index ?? 0), markIndex, false);
    if (hardState === null) throw corruptionError('the hard state record (term, vote, commit) is missing', this.dbDir);
    let snapshot: Snapshot | null = null;
    if (snap !== null) {
      const data = await readSnapshotFile(this.snapDir, snap);
      if (typeof data === 'string') throw corruptionError(data, path.join(this.snapDir, snap.file));
      snapshot = { index: snap.index, term: snap.term, confState: snap.confState, data };
      this.snapshotIndex = snap.index;
    }
    const snapIndex = snapshot?.index ?? 0;
    const after = entries.filter((e) => e.index > snapIndex);
    if (after.length > 0 && after[0].index !== snapIndex + 1) {
      throw corruptionError(`log entries ${snapIndex + 1}..${after[0].index - 1} after the snapshot at ${snapIndex} are missing`, this.dbDir);
    }
    const lastIndex = after.at(-1)?.index ?? snapIndex;
    if (lastIndex < hardState.commit) {
      throw corruptionError(`the log ends at index ${lastIndex} but entries up to ${hardState.commit} were committed`, this.dbDir);
    }
    this.last = Math.max(snapIndex, entries.at(-1)?.index ?? 0);
    return { state: { hardState, snapshot, entries: after }, meta };
  }
}

/**
 * LevelDB skips WAL records that fail their checksum and only notes it in its info LOG; a
 * skipped record is a lost write, so refuse, and leave a marker: LevelDB has already rewritten
 * the WAL without it, so the next start would otherwise look clean.
 */
async function refuseDroppedRecords(dir: string, dbDir: string): Promise<void> {
  const log = await fs.readFile(path.join(dbDir, 'LOG'), 'utf8').catch(() => '');
  const dropped = log.split('\n').find((l) => l.includes('dropping') && l.includes('Corruption'));
  if (dropped === undefined) return;
  const what = dropped.replace(/^.*?\(ignoring error\)\s*/, '').trim();
  const marker = path.join(dir, damagedMarker);
  await fs.writeFile(marker, `${what}\n${recoveryHint}\n`);
  await syncDir(dir);
  const file = /(\S+\.log)/.exec(what)?.[1] ?? dbDir;
  throw corruptionError(`LevelDB dropped damaged write-ahead log records: ${what}`, file);
}

async function exists(p: string): Promise<boolean> {
  return fs.stat(p).then(() => true, () => false);
}

/** The innermost message of an error (level wraps LevelDB's in `cause`). */
function causeMessage(err: unknown): string {
  let e = err;
  const parts: string[] = [];
  while (e instanceof Error) {
    parts.push(e.message);
    e = e.cause;
  }
  return parts.join(': ') || String(err);
}
