// Test harness: real shoald processes (node dist/src/daemon/main.js), each with its own data root,
// run root, socket, bridge, cgroup parent and loopback ports. cleanup() ends everything a shoald
// leaves behind by design (its containers, its shim server) and removes cgroups, bridge and dirs.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { call, type ApiResponse } from '../api/http-client';
import { freePort } from '../daemon/helpers';
import { reapShoaldLeftovers } from '../daemon/shoald-leftovers';
import { sleep } from './nats-server';

const shoaldMain = path.resolve(__dirname, '../../src/daemon/main.js');

export { freePort };

/** One shoald process of a test, restartable on the same data root and ports. */
export class Shoald {
  readonly dataRoot: string;
  readonly runRoot: string;
  readonly socketPath: string;
  readonly bridgeName: string;
  readonly bridgeSubnet: string;
  readonly cgroupParent: string;
  child: ChildProcess | undefined;
  /** stderr of every run so far (JSON log lines). */
  stderr = '';
  private exited: Promise<void> = Promise.resolve();

  constructor(readonly name: string, readonly root: string, slot: number, readonly grpcPort: number, readonly metricsPort: number, private readonly extra: readonly string[]) {
    this.dataRoot = path.join(root, name, 'data');
    this.runRoot = path.join(root, name, 'run');
    this.socketPath = path.join(this.runRoot, 'shoal.sock');
    this.bridgeName = `shev${process.pid % 10000}${name}`.slice(0, 15);
    this.bridgeSubnet = `10.239.${slot}.0/24`;
    this.cgroupParent = `shoal-test-events-${process.pid}-${name}`;
  }

  get addr(): string {
    return `127.0.0.1:${this.grpcPort}`;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts the process and resolves once it logs `shoald ready`. */
  async start(timeoutMs = 60_000): Promise<void> {
    if (this.running) throw new Error(`${this.name} is already running`);
    const from = this.stderr.length;
    const child = spawn(process.execPath, [shoaldMain,
      '--data-root', this.dataRoot, '--exec-root', this.runRoot, '--host', `unix://${this.socketPath}`,
      '--bridge', this.bridgeName, '--bridge-subnet', this.bridgeSubnet, '--cgroup-parent', this.cgroupParent,
      '--listen-addr', this.addr, '--advertise-addr', this.addr, '--metrics-addr', `127.0.0.1:${this.metricsPort}`, ...this.extra,
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    child.stderr.setEncoding('utf8').on('data', (d: string) => { this.stderr += d; });
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    const end = Date.now() + timeoutMs;
    while (!this.stderr.slice(from).includes('"msg":"shoald ready"')) {
      if (child.exitCode !== null) throw new Error(`${this.name} exited with ${child.exitCode} before it was ready:\n${this.stderr.slice(from)}`);
      if (Date.now() > end) throw new Error(`${this.name} was not ready within ${timeoutMs} ms:\n${this.stderr.slice(from)}`);
      await sleep(50);
    }
  }

  /** Sends a signal and waits for the process to exit (SIGKILL after 20 s). */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (!this.running) return;
    this.child!.kill(signal);
    const t = setTimeout(() => this.child?.kill('SIGKILL'), 20_000);
    await this.exited;
    clearTimeout(t);
  }

  /** The local API on this shoald's socket. */
  api(method: string, urlPath: string, body?: unknown): Promise<ApiResponse> {
    return call(this.socketPath, method, urlPath, body);
  }

  /** Like api(), but fails unless the status is 2xx; returns the parsed JSON. */
  async ok(method: string, urlPath: string, body?: unknown): Promise<unknown> {
    const r = await this.api(method, urlPath, body);
    if (r.status < 200 || r.status > 299) throw new Error(`${this.name}: ${method} ${urlPath} answered ${r.status}: ${r.text}`);
    return r.json;
  }

  /** GET /metrics on this shoald's metrics port. */
  metrics(): Promise<string> {
    return new Promise((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: this.metricsPort, path: '/metrics' }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => { body += d; }).on('end', () => resolve(body));
      }).on('error', reject);
    });
  }

  /** The JSON log lines of every run so far. */
  logLines(): Record<string, unknown>[] {
    return this.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  /** Ends the process, the containers it left, its shim server; removes its cgroups, bridge and dirs. Returns problems found. */
  async cleanup(): Promise<string[]> {
    const problems: string[] = [];
    if (this.running) await this.stop('SIGKILL');
    problems.push(...await reapShoaldLeftovers(this));
    return problems;
  }
}

/** The shoald processes of one test; always call cleanup(). */
export class ShoaldSet {
  readonly root = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-ev-'));
  readonly all: Shoald[] = [];

  constructor() {
    if (process.getuid?.() !== 0) throw new Error('these tests run shoald with real containers (namespaces, cgroups, a bridge): run them as root');
  }

  /** A new shoald (not started) with free ports; extra flags are appended to its command line. */
  async add(name: string, extra: readonly string[] = []): Promise<Shoald> {
    const slot = ((process.pid % 60) * 4 + this.all.length) % 250;
    const s = new Shoald(name, this.root, slot, await freePort(), await freePort(), extra);
    this.all.push(s);
    return s;
  }

  async cleanup(): Promise<string[]> {
    const problems: string[] = [];
    for (const s of this.all) problems.push(...await s.cleanup());
    fs.rmSync(this.root, { recursive: true, force: true });
    return problems;
  }
}

/**
 * A loopback TCP relay in front of nats-server for one shoald: cut() holds back everything that
 * shoald sends from then on (its connection stays open, so it believes it is publishing), as a
 * network fault between that manager and NATS would.
 */
export class NatsRelay {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private isCut = false;

  private constructor(readonly port: number, server: net.Server) {
    this.server = server;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  static async start(upstreamPort: number): Promise<NatsRelay> {
    const server = net.createServer();
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
    });
    const relay = new NatsRelay(port, server);
    server.on('connection', (down) => relay.relay(down, upstreamPort));
    return relay;
  }

  private relay(down: net.Socket, upstreamPort: number): void {
    const up = net.connect(upstreamPort, '127.0.0.1');
    for (const s of [down, up]) {
      this.sockets.add(s);
      s.on('close', () => { this.sockets.delete(s); (s === down ? up : down).destroy(); });
      s.on('error', () => s.destroy());
    }
    down.on('data', (d: Buffer) => { if (!this.isCut) up.write(d); });
    up.on('data', (d: Buffer) => { if (!this.isCut) down.write(d); });
  }

  /** From now on nothing passes, either way; the connections stay open. */
  cut(): void {
    this.isCut = true;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server.close(r));
  }
}
