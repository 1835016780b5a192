import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from '../daemon/helpers';
import { reapShoaldLeftovers } from '../daemon/shoald-leftovers';

const shoaldMain = path.resolve(__dirname, '../../src/daemon/main.js');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export { freePort };

/** A 10.236.X.0/24 no interface of this host is on (another test run may hold the one this pid suggests). */
function freeSubnet(start: number): string {
  const used = new Set<number>();
  for (const addrs of Object.values(os.networkInterfaces())) {
    for (const a of addrs ?? []) {
      const m = /^10\.236\.(\d+)\./.exec(a.address);
      if (m !== null) used.add(Number(m[1]));
    }
  }
  for (let i = 0; i < 250; i++) {
    const x = (start + i * 10) % 250;
    if (!used.has(x)) return `10.236.${x}.0/24`;
  }
  throw new Error('no free 10.236.X.0/24 subnet for a test bridge');
}

/**
 * One real shoald process with its own data root, socket, bridge, cgroup parent and loopback
 * gRPC port; `cleanup` ends it and everything it left (containers outlive shoald by design).
 */
export class ShoaldProcess {
  readonly root = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-api-shoald-'));
  readonly dataRoot = path.join(this.root, 'data');
  readonly socketPath = path.join(this.root, 'run', 'shoal.sock');
  readonly bridgeName: string;
  readonly bridgeSubnet: string;
  readonly cgroupParent: string;
  grpcPort = 0;
  private child: ChildProcess | undefined;
  private exited: Promise<unknown> = Promise.resolve();
  private stderr = '';

  /** `slot` (0-9) keeps several daemons of one test process apart. */
  constructor(slot: number) {
    this.bridgeName = `shapi${slot}${process.pid % 10000}`;
    this.bridgeSubnet = freeSubnet((process.pid % 25) * 10 + slot);
    this.cgroupParent = `shoal-test-api${slot}-${process.pid}`;
  }

  get grpcAddr(): string {
    return `127.0.0.1:${this.grpcPort}`;
  }

  /** Starts shoald and waits for its "shoald ready" log line. */
  async start(): Promise<void> {
    if (process.getuid?.() !== 0) throw new Error('shoald runs real containers (namespaces, cgroups, a bridge): run this test as root');
    this.grpcPort = await freePort();
    const child = spawn(process.execPath, [shoaldMain, '--data-root', this.dataRoot, '--exec-root', path.dirname(this.socketPath), '--host', `unix://${this.socketPath}`,
      '--bridge', this.bridgeName, '--bridge-subnet', this.bridgeSubnet, '--cgroup-parent', this.cgroupParent,
      '--listen-addr', this.grpcAddr, '--advertise-addr', this.grpcAddr], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    child.stderr.setEncoding('utf8').on('data', (d: string) => { this.stderr += d; });
    this.exited = new Promise((resolve) => child.once('exit', resolve));
    const end = Date.now() + 60_000;
    while (!this.stderr.includes('"msg":"shoald ready"')) {
      if (child.exitCode !== null) throw new Error(`shoald exited with ${child.exitCode} before it was ready:\n${this.stderr}`);
      if (Date.now() > end) throw new Error(`shoald was not ready within 60 s:\n${this.stderr}`);
      await sleep(50);
    }
  }

  /** What shoald has logged so far. */
  log(): string {
    return this.stderr;
  }

  /** SIGTERM (SIGKILL after 20 s), then kills what its containers left, ends the shim server and removes cgroups, bridge and files. */
  async cleanup(): Promise<void> {
    const child = this.child;
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await this.exited;
      clearTimeout(t);
    }
    await reapShoaldLeftovers({ name: 'shoald', ...this });
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}
