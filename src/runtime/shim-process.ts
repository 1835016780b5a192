import { ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import { ShoalError } from '../types/errors';

/** The shim built by `npm run build` (src/runtime/native/build.sh) next to dist/src. */
export const defaultShimPath = path.resolve(__dirname, '../../native/shoal-shim');

/** A started shim: the container's host pid and its monitor process. */
export interface ShimHandle {
  pid: number;
  monitor: ChildProcess;
}

/**
 * Reads the shim's stdout line by line. The protocol is two lines: "pid <n>" once the
 * container's first process exists, then "ok" or "err <why>" once it has exec'd (or failed).
 */
class LineReader {
  private buf = '';
  private waiters: ((line: string | undefined) => void)[] = [];
  private lines: string[] = [];
  private ended = false;

  constructor(child: ChildProcess) {
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      this.buf += d;
      let i: number;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        this.push(this.buf.slice(0, i));
        this.buf = this.buf.slice(i + 1);
      }
    });
    child.stdout!.on('end', () => { this.ended = true; this.flush(); });
    child.on('error', () => { this.ended = true; this.flush(); });
  }

  private push(line: string): void {
    const w = this.waiters.shift();
    if (w) w(line); else this.lines.push(line);
  }

  private flush(): void {
    for (const w of this.waiters.splice(0)) w(undefined);
  }

  next(): Promise<string | undefined> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    if (this.ended) return Promise.resolve(undefined);
    return new Promise((r) => this.waiters.push(r));
  }
}

/**
 * Spawns the shim for a prepared state dir and runs the start handshake. `beforeExec` runs
 * once the container's namespaces exist (its pid is known) and before anything of the image
 * runs: the network is plugged in there. The monitor is spawned in its own session so that it
 * and the container outlive this process.
 */
export async function startShim(shimPath: string, stateDir: string, beforeExec: (pid: number) => Promise<void>): Promise<ShimHandle> {
  const child = spawn(shimPath, [stateDir], { detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => { if (stderr.length < 4096) stderr += d; });
  const lines = new LineReader(child);
  const fail = (why: string): never => {
    throw new ShoalError('Internal', `container start failed: ${why}`, stderr ? { hint: stderr.trim() } : undefined);
  };
  const first = await lines.next();
  if (first === undefined || !first.startsWith('pid ')) {
    child.stdin.destroy();
    fail(first?.replace(/^err /, '') ?? `shim exited early (${shimPath})${stderr ? `: ${stderr.trim()}` : ''}`);
  }
  const pid = Number(first!.slice(4));
  try {
    await beforeExec(pid);
  } catch (err) {
    child.stdin.destroy(); // EOF: the shim kills the half-made container
    throw err;
  }
  child.stdin.end('g');
  const second = await lines.next();
  if (second !== 'ok') fail(second?.replace(/^err /, '') ?? 'shim exited before exec');
  child.stdout.destroy();
  child.stderr.destroy();
  child.unref();
  return { pid, monitor: child };
}
