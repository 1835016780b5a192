import * as path from 'node:path';
import { PidFileLock } from '../daemon/process-lock';
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
  private readonly lock: PidFileLock;

  constructor(dataRoot: string) {
    this.lock = new PidFileLock(path.join(dataRoot, 'cli.lock'));
  }

  async acquire(): Promise<void> {
    if (this.held) return;
    const deadline = Date.now() + lockWaitMsMax;
    for (;;) {
      const owner = this.lock.tryAcquire();
      if (owner === undefined) {
        this.held = true;
        return;
      }
      if (Date.now() > deadline) throw new UnavailableError(`data root ${path.dirname(this.lock.file)} is busy: another shoal command (pid ${owner.pid}) holds ${this.lock.file}`, { hint: 'wait for it to finish, or remove the file if no shoal command runs' });
      await new Promise((r) => setTimeout(r, lockPollMs));
    }
  }

  release(): void {
    if (!this.held) return;
    this.held = false;
    this.lock.release();
  }
}
