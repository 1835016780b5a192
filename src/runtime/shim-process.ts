import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { ShoalError, UnavailableError } from '../types/errors';

/** The shim built by `npm run build` (src/runtime/native/build.sh) next to dist/src. */
export const defaultShimPath = path.resolve(__dirname, '../../native/shoal-shim');

/** A started container as seen from Node: its host pid, its monitor, and the monitor's end. */
export interface ShimHandle {
  pid: number;
  monitorPid: number;
  /** Resolves when the monitor has exited (after writing the exit file). */
  exited: Promise<void>;
  /** Keep Node's event loop alive while someone waits for the exit; undo with unref. */
  ref(): void;
  unref(): void;
}

/** Splits a stream into lines; next() resolves undefined at its end. */
class LineReader {
  private buf = '';
  private waiters: ((line: string | undefined) => void)[] = [];
  private lines: string[] = [];
  private ended = false;

  constructor(stream: Readable) {
    stream.setEncoding('utf8');
    stream.on('data', (d: string) => {
      this.buf += d;
      let i: number;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        this.push(this.buf.slice(0, i));
        this.buf = this.buf.slice(i + 1);
      }
    });
    const end = (): void => { this.ended = true; for (const w of this.waiters.splice(0)) w(undefined); };
    stream.on('end', end);
    stream.on('close', end);
    stream.on('error', end);
  }

  private push(line: string): void {
    const w = this.waiters.shift();
    if (w) w(line); else this.lines.push(line);
  }

  next(): Promise<string | undefined> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    if (this.ended) return Promise.resolve(undefined);
    return new Promise((r) => this.waiters.push(r));
  }
}

/** The two ends of a start handshake: lines from the shim, bytes to it, and its close. */
interface Channel {
  lines: LineReader;
  send(b: string): void;
  abort(): void;
  closed: Promise<void>;
  ref(): void;
  unref(): void;
  diagnostics(): string;
}

function spawnChannel(shimPath: string, stateDir: string): Channel {
  const child = spawn(shimPath, [stateDir], { detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => { if (stderr.length < 4096) stderr += d; });
  const closed = new Promise<void>((r) => child.once('close', () => r()));
  return {
    lines: new LineReader(child.stdout),
    send: (b) => child.stdin.end(b),
    abort: () => child.stdin.destroy(),
    closed,
    ref: () => { child.ref(); (child.stdout as unknown as net.Socket).ref(); },
    unref: () => { child.unref(); (child.stdout as unknown as net.Socket).unref(); child.stderr.destroy(); },
    diagnostics: () => stderr.trim(),
  };
}

function socketChannel(sock: net.Socket, stateDir: string): Channel {
  const closed = new Promise<void>((r) => sock.once('close', () => r()));
  const lines = new LineReader(sock);
  sock.write(`${stateDir}\n`);
  return {
    lines,
    send: (b) => sock.write(b),
    abort: () => sock.destroy(),
    closed,
    ref: () => sock.ref(),
    unref: () => sock.unref(),
    diagnostics: () => '',
  };
}

/**
 * The per-node shim server (`shoal-shim serve <socket>`): started on first use, detached, and
 * left running across restarts of the daemon. A start then costs a unix-socket connect and a
 * fork+exec of a small static binary instead of a spawn from Node's large process.
 */
export class ShimServer {
  private launching: Promise<void> | undefined;

  constructor(readonly shimPath: string, readonly socketPath: string) {
    if (Buffer.byteLength(socketPath) >= 108) throw new ShoalError('InvalidArgument', `shim socket path is too long for a unix socket (${socketPath})`);
  }

  private get pidFile(): string {
    return `${this.socketPath}.pid`;
  }

  /** A connection to the server, launching it if nobody listens. */
  async connect(): Promise<net.Socket> {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        return await connectUnix(this.socketPath);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT' && code !== 'ECONNREFUSED') throw err;
        this.launching ??= this.launch().finally(() => { this.launching = undefined; });
        await this.launching;
      }
    }
    throw new UnavailableError(`shim server at ${this.socketPath} does not answer`);
  }

  private async launch(): Promise<void> {
    const child = spawn(this.shimPath, ['serve', this.socketPath], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const first = await new LineReader(child.stdout).next();
    if (first !== 'ready') throw new ShoalError('Internal', `shim server did not start: ${stderr.trim() || 'no output'}`);
    fs.writeFileSync(this.pidFile, String(child.pid));
    child.stdout.destroy();
    child.stderr.destroy();
    child.unref();
  }

  /** Stops the server (containers and their monitors keep running). */
  stop(): void {
    try {
      const pid = Number(fs.readFileSync(this.pidFile, 'utf8'));
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.includes(this.socketPath)) process.kill(pid, 'SIGTERM');
    } catch {
      /* not running */
    }
    fs.rmSync(this.pidFile, { force: true });
    fs.rmSync(this.socketPath, { force: true });
  }
}

function connectUnix(p: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.createConnection(p);
    s.once('connect', () => { s.removeListener('error', reject); resolve(s); });
    s.once('error', reject);
  });
}

/**
 * Starts the shim for a prepared state dir and runs the start handshake: "pid <container>
 * <monitor>" once the namespaces exist, then `beforeExec` (the network is plugged in there),
 * then one byte to let the container exec, then "ok" or "err <why>".
 */
export async function startShim(shimPath: string, server: ShimServer | undefined, stateDir: string, beforeExec: (pid: number) => Promise<void>): Promise<ShimHandle> {
  const ch = server ? socketChannel(await server.connect(), stateDir) : spawnChannel(shimPath, stateDir);
  const fail = (why: string): never => {
    ch.abort();
    const d = ch.diagnostics();
    throw new ShoalError('Internal', `container start failed: ${why}`, d ? { hint: d } : undefined);
  };
  const first = await ch.lines.next();
  const m = first === undefined ? null : /^pid (\d+) (\d+)$/.exec(first);
  if (!m) fail(first?.replace(/^err /, '') ?? `shim ended early (${shimPath})`);
  const pid = Number(m![1]);
  try {
    await beforeExec(pid);
  } catch (err) {
    ch.abort(); // EOF: the shim kills the half-made container
    throw err;
  }
  ch.send('g');
  const second = await ch.lines.next();
  if (second !== 'ok') fail(second?.replace(/^err /, '') ?? 'shim ended before exec');
  ch.unref();
  return { pid, monitorPid: Number(m![2]), exited: ch.closed, ref: () => ch.ref(), unref: () => ch.unref() };
}
