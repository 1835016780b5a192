import * as fs from 'node:fs';
import * as path from 'node:path';
import { FailedPreconditionError } from '../types/errors';

/** Pause before looking again at a lock file that is empty (its owner is writing it). */
const attemptPauseMs = 20;
/** An empty lock file older than this was left by a process that died while creating it. */
const emptyFileStaleMs = 5_000;

/** Who holds a lock file: a pid, and that process's start time (clock ticks since boot) when known. */
export interface LockOwner {
  readonly pid: number;
  readonly startTicks: number | undefined;
}

/**
 * An exclusive lock held as a file naming its owner (`<pid> <start time>`), created with
 * O_EXCL. It dies with its process: a lock whose owner no longer runs is taken over. The start
 * time guards against pid reuse (a lock left in a persistent data root before a reboot would
 * otherwise block forever once some other process gets the same pid).
 */
export class PidFileLock {
  private held = false;

  constructor(readonly file: string) {}

  /** Takes the lock if it is free (or its owner is gone); returns the live owner otherwise. */
  tryAcquire(): LockOwner | undefined {
    if (this.held) return undefined;
    // Bounded: each turn either takes the lock, reports a live owner, or removes a dead one's file.
    for (let attempt = 0; attempt < 10; attempt++) {
      try {
        fs.writeFileSync(this.file, `${process.pid} ${processStartTicks(process.pid) ?? ''}\n`, { flag: 'wx', mode: 0o644 });
        this.held = true;
        return undefined;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const owner = readOwner(this.file);
      if (owner === 'unreadable') { // removed meanwhile, or its owner is between create and write
        sleepSync(attemptPauseMs);
        continue;
      }
      if (owner !== undefined && isAlive(owner)) return owner;
      // A dead owner's file. Two processes racing here could each remove the other's fresh file
      // only if both started within the same instant on a stale lock; the O_EXCL create decides.
      fs.rmSync(this.file, { force: true });
    }
    return readOwnerOrUnknown(this.file);
  }

  /** Removes the file if it is still this process's. */
  release(): void {
    if (!this.held) return;
    this.held = false;
    const owner = readOwner(this.file);
    if (owner !== 'unreadable' && owner?.pid === process.pid) fs.rmSync(this.file, { force: true });
  }
}

/**
 * shoald's hold on its data root and run root: `<data root>/shoald.lock` keeps a second shoald
 * off the same data root, and `<run root>/shoald.pid` tells tools which process serves the host.
 */
export class DaemonProcessLock {
  private constructor(private readonly lock: PidFileLock, readonly pidFile: string) {}

  /** Takes the data root, or throws naming the shoald that holds it; then writes the pid file. */
  static acquire(dataRoot: string, runRoot: string): DaemonProcessLock {
    fs.mkdirSync(dataRoot, { recursive: true, mode: 0o711 });
    fs.mkdirSync(runRoot, { recursive: true, mode: 0o711 });
    const lock = new PidFileLock(path.join(dataRoot, 'shoald.lock'));
    const owner = lock.tryAcquire();
    if (owner !== undefined) {
      throw new FailedPreconditionError(`another shoald (pid ${owner.pid}) is using data root ${dataRoot}`, { hint: `stop it first (kill ${owner.pid}), or give this one its own --data-root` });
    }
    const pidFile = path.join(runRoot, 'shoald.pid');
    try {
      const tmp = `${pidFile}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, `${process.pid}\n`, { mode: 0o644 });
      fs.renameSync(tmp, pidFile);
    } catch (err) {
      lock.release();
      throw err;
    }
    return new DaemonProcessLock(lock, pidFile);
  }

  /** Removes the pid file (if still ours) and frees the data root. */
  release(): void {
    try {
      if (fs.readFileSync(this.pidFile, 'utf8').trim() === String(process.pid)) fs.rmSync(this.pidFile, { force: true });
    } catch {
      /* already gone */
    }
    this.lock.release();
  }
}

/** The start time of a process in clock ticks since boot (/proc/<pid>/stat field 22), if it runs. */
export function processStartTicks(pid: number): number | undefined {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may itself hold spaces and parentheses.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[22 - 3]);
  return Number.isSafeInteger(ticks) ? ticks : undefined;
}

function isAlive(owner: LockOwner): boolean {
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (owner.startTicks === undefined) return true;
  const now = processStartTicks(owner.pid);
  return now === undefined || now === owner.startTicks;
}

/** The owner named in a lock file; undefined for garbage (a dead owner's torn write), 'unreadable' if absent or still empty. */
function readOwner(file: string): LockOwner | undefined | 'unreadable' {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return 'unreadable';
  }
  if (text === '') return fileAgeMs(file) > emptyFileStaleMs ? undefined : 'unreadable';
  const m = /^(\d+)(?: (\d*))?\n?$/.exec(text);
  if (m === null) return undefined;
  const pid = Number(m[1]);
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  return { pid, startTicks: m[2] === undefined || m[2] === '' ? undefined : Number(m[2]) };
}

function fileAgeMs(file: string): number {
  try {
    return Date.now() - fs.statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

/** Blocks the thread briefly; only used while taking a lock at startup. */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function readOwnerOrUnknown(file: string): LockOwner {
  const o = readOwner(file);
  return o === undefined || o === 'unreadable' ? { pid: 0, startTicks: undefined } : o;
}
