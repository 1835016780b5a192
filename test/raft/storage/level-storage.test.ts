import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readdirSync, truncateSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Level } from 'level';
import type { Entry, Snapshot } from '../../../src/raft/core/types';
import { LevelRaftStorage } from '../../../src/raft/storage/level-storage';
import { entryKey } from '../../../src/raft/storage/record';
import { ShoalError } from '../../../src/types/errors';

const conf = { voters: [1, 2, 3], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };

function entries(from: number, to: number, term: number): Entry[] {
  return Array.from({ length: to - from + 1 }, (_, i) => ({ term, index: from + i, type: 'normal' as const, data: Buffer.from(`e${from + i}t${term}`) }));
}

function snapshot(index: number, term: number, bytes: number): Snapshot {
  return { index, term, confState: conf, data: Buffer.alloc(bytes, index % 251) };
}

/** Persists entries one Ready each (each becomes its own LevelDB record), then the hard state. */
async function writeOneByOne(s: LevelRaftStorage, es: Entry[], commit: number): Promise<void> {
  for (const e of es) await s.saveReady({ hardState: null, entries: [e], snapshot: null, meta: e.index === 1 ? { raftId: '1' } : undefined });
  await s.saveReady({ hardState: { term: es[0].term, vote: 1, commit }, entries: [], snapshot: null });
}

/** Opens the storage, expecting a refusal whose message names `file`. */
async function assertRefused(dir: string, what: RegExp, file: string): Promise<void> {
  await assert.rejects(LevelRaftStorage.open(dir), (err: unknown) => {
    assert.ok(ShoalError.is(err, 'FailedPrecondition'), `expected FailedPrecondition, got ${String(err)}`);
    assert.match(err.message, what);
    assert.ok(err.message.includes(file), `message does not name ${file}: ${err.message}`);
    assert.ok(err.hint !== undefined && err.hint.includes('rejoin'), 'the error says how to recover');
    return true;
  });
}

describe('raft storage on LevelDB', () => {
  let dir = '';
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'shoal-raft-storage-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('a new directory opens empty; what a Ready persisted comes back after reopening', async () => {
    let s = await LevelRaftStorage.open(dir);
    assert.equal(await s.load(), null);
    await s.saveReady({ hardState: { term: 2, vote: 1, commit: 3 }, entries: entries(1, 5, 2), snapshot: null, meta: { raftId: '1' } });
    await s.close();
    s = await LevelRaftStorage.open(dir);
    const got = await s.load();
    await s.close();
    assert.deepEqual(got?.meta, { raftId: '1' });
    assert.deepEqual(got?.state.hardState, { term: 2, vote: 1, commit: 3 });
    assert.deepEqual(got?.state.entries.map((e) => [e.index, e.term, Buffer.from(e.data).toString()]), entries(1, 5, 2).map((e) => [e.index, e.term, Buffer.from(e.data).toString()]));
  });

  it('entries from a conflicting index replace the stored suffix and nothing after it survives', async () => {
    let s = await LevelRaftStorage.open(dir);
    await s.saveReady({ hardState: { term: 2, vote: 1, commit: 2 }, entries: entries(1, 6, 2), snapshot: null, meta: { raftId: '1' } });
    await s.saveReady({ hardState: { term: 3, vote: 2, commit: 2 }, entries: entries(4, 4, 3), snapshot: null });
    await s.close();
    s = await LevelRaftStorage.open(dir);
    const got = await s.load();
    await s.close();
    assert.deepEqual(got?.state.entries.map((e) => [e.index, e.term]), [[1, 2], [2, 2], [3, 2], [4, 3]]);
  });

  it('a conflicting index inside an earlier write cuts that write and keeps what precedes it', async () => {
    let s = await LevelRaftStorage.open(dir);
    await s.saveReady({ hardState: { term: 2, vote: 1, commit: 2 }, entries: entries(1, 3, 2), snapshot: null, meta: { raftId: '1' } });
    await s.saveReady({ hardState: null, entries: entries(4, 8, 2), snapshot: null });
    await s.saveReady({ hardState: { term: 3, vote: 2, commit: 2 }, entries: entries(6, 7, 3), snapshot: null });
    await s.saveReady({ hardState: null, entries: entries(8, 8, 3), snapshot: null });
    await s.close();
    s = await LevelRaftStorage.open(dir);
    const got = await s.load();
    await s.close();
    assert.deepEqual(got?.state.entries.map((e) => [e.index, e.term, Buffer.from(e.data).toString()]),
      [...entries(1, 5, 2), ...entries(6, 8, 3)].map((e) => [e.index, e.term, Buffer.from(e.data).toString()]));
  });

  it('a local snapshot deletes the entries it covers except the configured tail, and its image survives reopening', async () => {
    let s = await LevelRaftStorage.open(dir);
    await writeOneByOne(s, entries(1, 100, 1), 100);
    await s.saveSnapshot(snapshot(80, 1, 3000), 10);
    await s.saveSnapshot(snapshot(90, 1, 5000), 10);
    await s.close();
    assert.deepEqual(readdirSync(path.join(dir, 'snapshots')), ['snap-0000000000000001-000000000000005a.snap'], 'only the current image is kept');
    const raw = new Level<Buffer, Buffer>(path.join(dir, 'db'), { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    const kept: number[] = [];
    for await (const k of raw.keys({ gte: entryKey(0), lte: entryKey(2 ** 40) })) kept.push(k.readUInt32BE(5));
    await raw.close();
    assert.deepEqual(kept, Array.from({ length: 20 }, (_, i) => 81 + i), 'entries 81..100 stay: the last 10 the snapshot covers and all after it');
    s = await LevelRaftStorage.open(dir);
    const got = await s.load();
    await s.close();
    assert.equal(got?.state.snapshot?.index, 90);
    assert.deepEqual(Buffer.from(got?.state.snapshot?.data ?? []), Buffer.alloc(5000, 90));
    assert.deepEqual(got?.state.entries.map((e) => e.index), Array.from({ length: 10 }, (_, i) => 91 + i));
  });

  it('a snapshot received from the leader replaces the whole stored log', async () => {
    let s = await LevelRaftStorage.open(dir);
    await s.saveReady({ hardState: { term: 1, vote: 1, commit: 5 }, entries: entries(1, 8, 1), snapshot: null, meta: { raftId: '2' } });
    await s.saveReady({ hardState: { term: 4, vote: 0, commit: 50 }, entries: entries(51, 52, 4), snapshot: snapshot(50, 3, 100) });
    await s.close();
    s = await LevelRaftStorage.open(dir);
    const got = await s.load();
    await s.close();
    assert.equal(got?.state.snapshot?.index, 50);
    assert.deepEqual(got?.state.entries.map((e) => e.index), [51, 52]);
  });

  it('a truncated snapshot image is refused at open, naming the file', async () => {
    const s = await LevelRaftStorage.open(dir);
    await s.saveReady({ hardState: { term: 1, vote: 1, commit: 20 }, entries: entries(1, 20, 1), snapshot: null, meta: { raftId: '1' } });
    await s.saveSnapshot(snapshot(15, 1, 4096), 2);
    await s.close();
    const file = path.join(dir, 'snapshots', readdirSync(path.join(dir, 'snapshots'))[0]);
    truncateSync(file, statSync(file).size - 100);
    await assertRefused(dir, /snapshot file has 3996 bytes, expected 4096/, file);
  });

  it('a log that lost committed entries is refused rather than opened shortened, even without its high-water mark', async () => {
    const s = await LevelRaftStorage.open(dir);
    await writeOneByOne(s, entries(1, 10, 1), 10);
    await s.close();
    rmSync(path.join(dir, 'LOGMARK'));
    const raw = new Level<Buffer, Buffer>(path.join(dir, 'db'), { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    await raw.batch([{ type: 'del', key: entryKey(9) }, { type: 'del', key: entryKey(10) }]);
    await raw.close();
    await assertRefused(dir, /log ends at index 8 but entries up to 10 were committed/, path.join(dir, 'db'));
  });

  it('a log whose newest writes were lost (the high-water mark is past its end) is refused', async () => {
    const s = await LevelRaftStorage.open(dir);
    await writeOneByOne(s, entries(1, 10, 1), 6);
    await s.close();
    const raw = new Level<Buffer, Buffer>(path.join(dir, 'db'), { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    await raw.batch([{ type: 'del', key: entryKey(9) }, { type: 'del', key: entryKey(10) }]);
    await raw.close();
    await assertRefused(dir, /log ends at index 8 but it had durably reached index 10/, path.join(dir, 'db'));
  });

  it('a log shortened by a new leader (conflicting suffix) opens: the mark was lowered first', async () => {
    let s = await LevelRaftStorage.open(dir);
    await writeOneByOne(s, entries(1, 10, 1), 3);
    await s.saveReady({ hardState: { term: 2, vote: 2, commit: 3 }, entries: entries(5, 6, 2), snapshot: null });
    await s.close();
    s = await LevelRaftStorage.open(dir);
    const got = await s.load();
    await s.close();
    assert.deepEqual(got?.state.entries.map((e) => [e.index, e.term]), [[1, 1], [2, 1], [3, 1], [4, 1], [5, 2], [6, 2]]);
  });

  it('a log with a hole in the middle is refused', async () => {
    const s = await LevelRaftStorage.open(dir);
    await writeOneByOne(s, entries(1, 10, 1), 3);
    await s.close();
    const raw = new Level<Buffer, Buffer>(path.join(dir, 'db'), { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    await raw.del(entryKey(5));
    await raw.close();
    await assertRefused(dir, /log entries 5\.\.5 are missing/, path.join(dir, 'db'));
  });

  it('a database whose CURRENT file is gone is refused instead of recreated empty', async () => {
    const s = await LevelRaftStorage.open(dir);
    await s.saveReady({ hardState: { term: 1, vote: 1, commit: 1 }, entries: entries(1, 1, 1), snapshot: null, meta: { raftId: '1' } });
    await s.close();
    rmSync(path.join(dir, 'db', 'CURRENT'));
    await assertRefused(dir, /LevelDB cannot open it/, path.join(dir, 'db'));
  });
});
