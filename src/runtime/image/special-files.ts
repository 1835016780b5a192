import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

// Node has no mknod(2) or setxattr(2); the coreutils and attr binaries are small and everywhere.

/** Creates the character device 0/0 that overlayfs reads as a whiteout (a deleted file). */
export async function makeWhiteout(path: string): Promise<void> {
  await run('mknod', ['--', path, 'c', '0', '0']);
}

/** Marks a directory opaque for overlayfs: lower layers' contents of it are hidden. */
export async function markOpaque(path: string): Promise<void> {
  await run('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', '--', path]);
}

/** Creates a named pipe. */
export async function makeFifo(path: string, mode: number): Promise<void> {
  await run('mknod', ['-m', (mode & 0o777).toString(8), '--', path, 'p']);
}
