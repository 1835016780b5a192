import assert from 'node:assert/strict';
import { cpSync, openSync, readdirSync, readSync, rmSync, statSync, truncateSync, writeSync, closeSync } from 'node:fs';
import * as path from 'node:path';
import { ProcCluster, sleep } from './proc-cluster';

/** Flips every byte in [at, at+n) of a file. */
function flipBytes(file: string, at: number, n: number): void {
  const fd = openSync(file, 'r+');
  try {
    const b = Buffer.alloc(n);
    readSync(fd, b, 0, n, at);
    for (let i = 0; i < n; i++) b[i] ^= 0xff;
    writeSync(fd, b, 0, n, at);
  } finally {
    closeSync(fd);
  }
}

describe('durable raft node: a damaged data directory is refused at start', function () {
  this.timeout(120_000);
  let c: ProcCluster | undefined;
  let pristine = '';
  let dir = '';

  before(async () => {
    c = await ProcCluster.create({ size: 3, heartbeatMs: 50, electionTimeoutMs: 500, snapshotEveryEntries: 40, keepTailEntries: 5 });
    const cluster = c;
    await Promise.all(cluster.ids().map((id) => cluster.start(id)));
    const leader = await cluster.waitForLeader();
    let acked = 0;
    // Entries of ~500 bytes make the newest write-ahead log span more than one 32 KiB LevelDB block
    // (see the corruption test below).
    const pad = 'x'.repeat(500);
    for (let i = 0; acked < 120 && i < 2000; i++) if ((await cluster.propose(leader, `op-${i}-${pad}`, 3000)).ok) acked++;
    assert.equal(acked, 120);
    await sleep(300); // let member 3 persist the last appends
    await cluster.kill(3);
    dir = cluster.configs.get(3)?.dir ?? '';
    pristine = `${dir}.pristine`;
    cpSync(dir, pristine, { recursive: true });
  });

  after(async () => {
    await c?.destroy();
  });

  /** Puts back member 3's directory as it was at the kill, then damages it with `damage`. */
  function restoreThen(damage: () => void): void {
    rmSync(dir, { recursive: true, force: true });
    cpSync(pristine, dir, { recursive: true });
    damage();
  }

  it('the undamaged directory starts (the refusals below are caused by the damage alone)', async () => {
    restoreThen(() => undefined);
    const r = await c!.runToExit(3);
    assert.ok(r.ready, `member 3 did not start: ${r.stderr}`);
  });

  it('a truncated snapshot image stops the member with a message naming the file and how to recover', async () => {
    let file = '';
    restoreThen(() => {
      const snaps = readdirSync(path.join(dir, 'snapshots')).filter((f) => f.endsWith('.snap'));
      assert.equal(snaps.length, 1, 'member 3 took a snapshot');
      file = path.join(dir, 'snapshots', snaps[0]);
      truncateSync(file, Math.floor(statSync(file).size / 2));
    });
    const r = await c!.runToExit(3);
    assert.equal(r.ready, false);
    assert.equal(r.code, 3);
    assert.ok(r.stderr.includes(file), `stderr does not name ${file}: ${r.stderr}`);
    assert.match(r.stderr, /truncated/);
    assert.match(r.stderr, /to recover: .*rejoin/);
  });

  it('a corrupted write-ahead log stops the member, and keeps stopping it after LevelDB rewrote the log', async () => {
    let wal = '';
    restoreThen(() => {
      const db = path.join(dir, 'db');
      const logs = readdirSync(db).filter((f) => f.endsWith('.log')).sort();
      wal = path.join(db, logs[logs.length - 1]);
      const size = statSync(wal).size;
      // LevelDB's log reader takes a bad record header in the file's last, partial block for a
      // write torn by a crash and drops it silently (the LOGMARK check below catches that case);
      // damage in a full block before it is reported as corruption, which is what this test is for.
      assert.ok(size > 40_000, `the newest write-ahead log has only ${size} bytes`);
      flipBytes(wal, 8192, 16);
    });
    const first = await c!.runToExit(3);
    assert.equal(first.ready, false, 'member 3 started with a damaged log');
    assert.equal(first.code, 3);
    assert.ok(first.stderr.includes(path.basename(wal)), `stderr does not name ${wal}: ${first.stderr}`);
    assert.match(first.stderr, /dropped damaged write-ahead log records/);
    const second = await c!.runToExit(3);
    assert.equal(second.ready, false, 'member 3 started on the second try');
    assert.match(second.stderr, /damage was found at an earlier start/);
  });

  it('a write-ahead log cut short (its newest writes gone) stops the member instead of starting with a shorter log', async () => {
    restoreThen(() => {
      const db = path.join(dir, 'db');
      const logs = readdirSync(db).filter((f) => f.endsWith('.log')).sort();
      const wal = path.join(db, logs[logs.length - 1]);
      // Cut the last tenth: the newest entries, after the last snapshot record.
      truncateSync(wal, Math.floor(statSync(wal).size * 0.9));
    });
    const r = await c!.runToExit(3);
    assert.equal(r.ready, false, 'member 3 started with a shortened log');
    assert.equal(r.code, 3);
    assert.match(r.stderr, /but it had durably reached index \d+ .*LOGMARK.*lost writes/);
  });

  it('a log database with its CURRENT file removed is refused instead of recreated empty', async () => {
    restoreThen(() => rmSync(path.join(dir, 'db', 'CURRENT')));
    const r = await c!.runToExit(3);
    assert.equal(r.ready, false);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /LevelDB cannot open it/);
    assert.ok(r.stderr.includes(path.join(dir, 'db')));
  });
});
