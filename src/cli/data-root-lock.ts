import * as fs from 'node:fs';
import * as path from 'node:path';
import { UnavailableError } from '../types/errors';

/** How long a command waits for another shoal process working on the same data root. */
const lockWaitMsMax = 60_000;
const lockPollMs = 20;

/**
 * An exclusive lock on the data root for one CLI process (a file holding its pid). Opening
 * the runtime cleans up after dead containers, which must not race another CLI process that
 * is between create and start; a lock left by a dead process is taken over.
 */
export class DataRootLock {
  private held = false;
  private readonly file: string;

  constructor(dataRoot: string) {
    this.file = path.join(dataRoot, 'cli.lock');
  }

  async acquire(): Promise<void> {
    if (this.held) return;
    const deadline = Date.now() + lockWaitMsMax;
    for (;;) {
      try {
        fs.writeFileSync(this.file, String(process.pid), { flag: 'wx', mode: 0o600 });
        this.held = true;
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      if (!ownerAlive(this.file)) { fs.rmSync(this.file, { force: true }); continue; }
      if (Date.now() > deadline) throw new UnavailableError(`data root ${path.dirname(this.file)} is busy: another shoal command holds ${this.file}`, { hint: 'wait for it to finish, or remove the file if no shoal command runs' });
      await new Promise((r) => setTimeout(r, lockPollMs));
    }
  }

  release(): void {
    if (!this.held) return;
    this.held = false;
    try {
      if (fs.readFileSync(this.file, 'utf8') === String(process.pid)) fs.rmSync(this.file, { force: true });
    } catch {
      /* already gone */
    }
  }
}

function ownerAlive(file: string): boolean {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(file, 'utf8'));
  } catch {
    return true; // unreadable: treat as held
  }
  // Empty: its owner is between creating and writing it.
  if (pid === 0) return true;
  if (!Number.isInteger(pid) || pid < 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
