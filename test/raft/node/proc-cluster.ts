// Test harness: a Raft cluster of real processes on loopback (real LevelDB, gRPC, mTLS).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { newId } from '../../../src/pki/ids';
import { generateKeyPair } from '../../../src/pki/keys';
import { RootCA, nodeCertValidity } from '../../../src/pki/root-ca';
import type { RaftProcConfig } from './fixtures/raft-proc';

/** What /state answers. */
export interface ProcState {
  id: number;
  role: string;
  leader: number;
  term: number;
  commit: number;
  applied: number;
  firstIndex: number;
  ops: string[];
  opsCount: number;
}

/** Ports this process handed out already: never twice, even once released. */
const handedOut = new Set<number>();

/** Tries to bind `port` on loopback; true if it was free. */
function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/**
 * A free TCP port on loopback, below Linux's ephemeral range (32768+): a member killed and
 * restarted must get its port back, and outgoing connections (ours or anyone's) take their
 * local ports from the ephemeral range, so one could otherwise grab it while the member is down.
 */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = 20_000 + randomInt(12_000);
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    if (await bindable(port)) return port;
  }
  throw new Error('no free port in 20000..31999 on 127.0.0.1');
}

/** GET or POST on a member's control API; rejects on connection errors or after timeoutMs. */
export function call<T>(port: number, pathAndQuery: string, timeoutMs = 5000): Promise<{ status: number; body: T }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: pathAndQuery, method: 'POST', agent: keepAlive, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as T });
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 256 });

/** Options for a process cluster. */
export interface ProcClusterOptions {
  size: number;
  heartbeatMs?: number;
  electionTimeoutMs?: number;
  snapshotEveryEntries?: number;
  keepTailEntries?: number;
  quiet?: boolean;
  /** Extra node flags for the member processes (e.g. --cpu-prof for the benchmark's profile). */
  nodeArgs?: string[];
  /** Map stack traces to TypeScript (default true; the benchmark turns it off to measure without it). */
  sourceMaps?: boolean;
}

/** N Raft members as child processes; always call destroy() (it kills and removes everything). */
export class ProcCluster {
  readonly root: string;
  readonly configs = new Map<number, RaftProcConfig>();
  private readonly procs = new Map<number, ChildProcess>();
  readonly stderr = new Map<number, string>();

  private constructor(root: string, private readonly nodeArgs: string[]) {
    this.root = root;
  }

  static async create(o: ProcClusterOptions): Promise<ProcCluster> {
    const c = new ProcCluster(mkdtempSync(path.join(os.tmpdir(), 'shoal-raft-')), [...(o.sourceMaps ?? true ? ['--enable-source-maps'] : []), ...(o.nodeArgs ?? [])]);
    const clusterId = newId();
    const ca = await RootCA.create(clusterId, Date.now());
    const ids = Array.from({ length: o.size }, (_, i) => i + 1);
    const ports = await Promise.all(ids.map(async () => ({ raft: await freePort(), http: await freePort() })));
    const nodeIds = ids.map(() => newId());
    const peers = Object.fromEntries(ids.map((id, i) => [String(id), `127.0.0.1:${ports[i].raft}`]));
    for (const [i, id] of ids.entries()) {
      const keys = await generateKeyPair();
      const certPem = ca.issue(keys.publicKeyPem, { nodeId: nodeIds[i], role: 'manager', clusterId }, nodeCertValidity(Date.now()));
      c.configs.set(id, {
        id, dir: path.join(c.root, `node${id}`), raftPort: ports[i].raft, httpPort: ports[i].http, peers,
        memberNodeIds: nodeIds, clusterId, tls: { certPem, keyPem: keys.privateKeyPem, caCertPem: ca.certPem },
        heartbeatMs: o.heartbeatMs, electionTimeoutMs: o.electionTimeoutMs,
        snapshotEveryEntries: o.snapshotEveryEntries, keepTailEntries: o.keepTailEntries, quiet: o.quiet,
      });
    }
    return c;
  }

  ids(): number[] {
    return [...this.configs.keys()];
  }

  isRunning(id: number): boolean {
    return this.procs.has(id);
  }

  /** Starts member id; resolves when it serves its control API. */
  async start(id: number): Promise<void> {
    const cfg = this.configs.get(id);
    if (cfg === undefined || this.procs.has(id)) return;
    const script = path.join(__dirname, 'fixtures', 'raft-proc.js');
    const p = spawn(process.execPath, [...this.nodeArgs, script, JSON.stringify(cfg)], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.procs.set(id, p);
    let err = '';
    p.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      this.stderr.set(id, err.slice(-4000));
    });
    p.on('exit', () => {
      if (this.procs.get(id) === p) this.procs.delete(id);
    });
    await new Promise<void>((resolve, reject) => {
      let out = '';
      p.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes(`ready ${id}`)) resolve();
      });
      p.once('exit', (code) => reject(new Error(`member ${id} exited with ${code} before it was ready: ${err.slice(-2000)}`)));
    });
  }

  /** Runs member id to completion and returns its exit code and stderr (for refusal tests). */
  async runToExit(id: number, timeoutMs = 20_000): Promise<{ code: number | null; stderr: string; ready: boolean }> {
    const cfg = this.configs.get(id);
    if (cfg === undefined) throw new Error(`no member ${id}`);
    const script = path.join(__dirname, 'fixtures', 'raft-proc.js');
    const p = spawn(process.execPath, [script, JSON.stringify(cfg)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    let ready = false;
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) {
        ready = true;
        p.kill('SIGKILL');
      }
    });
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    const code = await new Promise<number | null>((resolve) => p.once('exit', (c) => resolve(c)));
    clearTimeout(timer);
    return { code, stderr: err, ready };
  }

  /** SIGTERM: the member stops cleanly (and writes its --cpu-prof profile). */
  async terminate(id: number): Promise<void> {
    const p = this.procs.get(id);
    if (p === undefined) return;
    this.procs.delete(id);
    const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    p.kill('SIGTERM');
    await exited;
  }

  /** kill -9. */
  async kill(id: number): Promise<void> {
    const p = this.procs.get(id);
    if (p === undefined) return;
    this.procs.delete(id);
    const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    p.kill('SIGKILL');
    await exited;
  }

  async state(id: number): Promise<ProcState | null> {
    const cfg = this.configs.get(id);
    if (cfg === undefined || !this.procs.has(id)) return null;
    try {
      return (await call<ProcState>(cfg.httpPort, '/state')).body;
    } catch {
      return null;
    }
  }

  /** The member every running member agrees leads, if any. */
  async leader(): Promise<number> {
    for (const id of this.ids()) {
      const s = await this.state(id);
      if (s?.role === 'leader') return id;
    }
    return 0;
  }

  /** Waits until some member leads; returns its id. */
  async waitForLeader(timeoutMs = 15_000): Promise<number> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      const l = await this.leader();
      if (l !== 0) return l;
      await sleep(50);
    }
    throw new Error(`no leader within ${timeoutMs} ms`);
  }

  /** Proposes op at member id: 'ok' when acknowledged (applied on the leader), else the error. */
  async propose(id: number, op: string, timeoutMs = 5000): Promise<{ ok: boolean; error?: string; ms?: number }> {
    const cfg = this.configs.get(id);
    if (cfg === undefined || !this.procs.has(id)) return { ok: false, error: 'not running' };
    try {
      const r = await call<{ ok?: boolean; error?: string; ms?: number }>(cfg.httpPort, `/propose?op=${encodeURIComponent(op)}`, timeoutMs);
      return r.status === 200 ? { ok: true, ms: r.body.ms } : { ok: false, error: r.body.error };
    } catch (err) {
      return { ok: false, error: (err as Error).message };
    }
  }

  /** Kills every process and removes every data directory. */
  async destroy(): Promise<void> {
    await Promise.all(this.ids().map((id) => this.kill(id)));
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** Resolves after ms. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
