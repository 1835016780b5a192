import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createLogger } from '../../src/daemon/logger';
import { DaemonProcessLock, PidFileLock, processStartTicks } from '../../src/daemon/process-lock';
import { ShoalError } from '../../src/types/errors';

const lockModule = path.resolve(__dirname, '../../src/daemon/process-lock.js');

/** A pid that no process has now (one that just exited). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

/** A separate process holding the data root until killed; resolves once it holds it. */
async function holder(dataRoot: string, runRoot: string): Promise<ChildProcess> {
  const code = `require(${JSON.stringify(lockModule)}).DaemonProcessLock.acquire(${JSON.stringify(dataRoot)}, ${JSON.stringify(runRoot)}); console.log('held'); setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => { if (d.toString().includes('held')) resolve(); });
    child.once('exit', (c) => reject(new Error(`holder exited with ${c}`)));
  });
  return child;
}

describe('shoald process lock and pid file', () => {
  let dir = '';
  let child: ChildProcess | undefined;
  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-ops-lock-')); });
  afterEach(() => {
    if (child !== undefined && child.exitCode === null) child.kill('SIGKILL');
    child = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a second shoald on the same data root is refused naming the first one’s pid; the pid file is written and removed', async () => {
    const dataRoot = path.join(dir, 'data');
    const runRoot = path.join(dir, 'run');
    child = await holder(dataRoot, runRoot);
    assert.equal(fs.readFileSync(path.join(runRoot, 'shoald.pid'), 'utf8').trim(), String(child.pid));
    assert.throws(() => DaemonProcessLock.acquire(dataRoot, path.join(dir, 'run2')), (err: unknown) => {
      assert.ok(ShoalError.is(err, 'FailedPrecondition'));
      assert.equal(err.message, `another shoald (pid ${child!.pid}) is using data root ${dataRoot}`);
      return true;
    });
    // The lock dies with its process, even one killed without a chance to clean up.
    const exited = new Promise((r) => child!.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    const lock = DaemonProcessLock.acquire(dataRoot, runRoot);
    assert.equal(fs.readFileSync(lock.pidFile, 'utf8').trim(), String(process.pid));
    lock.release();
    assert.equal(fs.existsSync(lock.pidFile), false, 'pid file left after release');
    assert.equal(fs.existsSync(path.join(dataRoot, 'shoald.lock')), false, 'lock file left after release');
    // Free again: a new daemon takes it at once.
    DaemonProcessLock.acquire(dataRoot, runRoot).release();
  });

  it('takes over a lock left by a dead process, and one whose pid was reused by another process', () => {
    const file = path.join(dir, 'x.lock');
    fs.writeFileSync(file, `${deadPid()} 12345\n`);
    const a = new PidFileLock(file);
    assert.equal(a.tryAcquire(), undefined);
    assert.match(fs.readFileSync(file, 'utf8'), new RegExp(`^${process.pid} ${processStartTicks(process.pid)}\n$`));
    a.release();
    // Our own pid but another start time: the process that wrote it is gone and the pid was reused.
    fs.writeFileSync(file, `${process.pid} ${processStartTicks(process.pid)! + 1}\n`);
    assert.equal(new PidFileLock(file).tryAcquire(), undefined);
  });

  it('a lock held by a live process is reported with its pid and left alone', () => {
    const file = path.join(dir, 'x.lock');
    const a = new PidFileLock(file);
    assert.equal(a.tryAcquire(), undefined);
    const owner = new PidFileLock(file).tryAcquire();
    assert.equal(owner?.pid, process.pid);
    assert.ok(fs.existsSync(file));
    a.release();
    assert.equal(fs.existsSync(file), false);
  });
});

describe('shoald logger', () => {
  let dir = '';
  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-ops-log-')); });
  afterEach(() => { fs.rmSync(dir, { recursive: true, force: true }); });

  function logTo(pretty: boolean, level: 'debug' | 'info' | 'warn' | 'error'): { log: ReturnType<typeof createLogger>; read: () => string } {
    const file = path.join(dir, `log-${pretty}`);
    const fd = fs.openSync(file, 'w');
    const log = createLogger({ level, fd, pretty, colorize: false });
    return { log, read: () => { fs.closeSync(fd); return fs.readFileSync(file, 'utf8'); } };
  }

  it('off a terminal writes one JSON object per line at and above the level, synchronously', () => {
    const { log, read } = logTo(false, 'info');
    log.debug('hidden');
    log.info({ socket: '/run/shoal/shoal.sock' }, 'shoald ready');
    log.error(new Error('boom'), 'failed');
    const lines = read().trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines.length, 2);
    assert.equal(lines[0].msg, 'shoald ready');
    assert.equal(lines[0].socket, '/run/shoal/shoal.sock');
    assert.equal(lines[0].level, 30);
    assert.equal(lines[0].pid, process.pid);
    assert.equal(lines[1].level, 50);
    assert.equal((lines[1].err as { message: string }).message, 'boom');
  });

  it('in readable form writes one line per entry with the level and message, synchronously', () => {
    const { log, read } = logTo(true, 'debug');
    log.debug('starting');
    log.warn({ peer: 'm2' }, 'peer unreachable');
    const text = read();
    const lines = text.trimEnd().split('\n');
    assert.match(lines[0], /^\[\d\d:\d\d:\d\d\.\d{3}\] DEBUG: starting$/);
    assert.match(lines[1], /^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: peer unreachable$/);
    assert.match(text, /peer: "m2"/);
    assert.doesNotMatch(text, /^\{/m);
  });
});
