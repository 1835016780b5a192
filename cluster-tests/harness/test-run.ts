import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { trySync } from './exec';
import { Host } from './host';
import { listNetns, netnsInode, pidsInNetns, TestNetwork } from './netns';

/** Where a run keeps its hosts' data: /tmp/shoal-cluster-<k> (short: socket paths must fit 107 bytes). */
function runDirOf(k: number): string {
  return path.join(os.tmpdir(), `shoal-cluster-${k}`);
}

const live = new Set<TestRun>();
const created: TestRun[] = [];

/** Every run this process created (the final leftover check goes over all of them). */
export function runsCreated(): readonly TestRun[] {
  return created;
}
let handlersInstalled = false;

/**
 * One test run: N hosts on a private test network, each with its own directories. Whatever
 * happens, `teardown()` leaves nothing behind — processes, namespaces, links, mounts, cgroups,
 * directories — and `leftovers()` says what, if anything, remains. Runs still alive when the
 * process is interrupted or crashes are torn down from signal and error handlers.
 */
export class TestRun {
  readonly hosts: Host[] = [];
  private readonly inodes = new Set<number>();
  private tornDown = false;

  private constructor(readonly net: TestNetwork, readonly dir: string) {}

  /** Creates a run with `n` hosts h1..hn (needs root). */
  static create(n: number): TestRun {
    if (process.getuid?.() !== 0) throw new Error('cluster tests need root (network namespaces, iptables, cgroups, mounts): run them as root');
    installHandlers();
    const k = claimRunNumber();
    const t = new TestRun(new TestNetwork(k), runDirOf(k));
    live.add(t);
    created.push(t);
    try {
      t.net.createSwitch();
      t.remember(t.net.switchNs);
      for (let i = 1; i <= n; i++) t.addHost();
    } catch (e) {
      t.teardown();
      throw e;
    }
    return t;
  }

  /** Adds one more host (h<n+1>) to the network. */
  addHost(): Host {
    const i = this.hosts.length + 1;
    const { ns, ip } = this.net.addHost(i);
    this.remember(ns);
    const h = new Host(i, ns, ip, this.dir, this.net.subnet);
    this.hosts.push(h);
    h.boot();
    return h;
  }

  private remember(ns: string): void {
    const ino = netnsInode(ns);
    if (ino !== undefined) this.inodes.add(ino);
  }

  /** The hosts' shoald logs, last lines each (printed when a test fails). */
  logs(lines = 30): string {
    return this.hosts.map((h) => h.logTail(lines)).join('\n');
  }

  /**
   * Kills every process of the run (shoald, container monitors, containers, anything in the
   * namespaces), removes its cgroups and mounts, namespaces and directory. Synchronous, so it
   * can run from a signal handler; safe to call twice.
   */
  teardown(): void {
    if (this.tornDown) return;
    this.tornDown = true;
    for (const h of this.hosts) h.killDaemonSync();
    for (let round = 0; round < 50; round++) {
      const pids = this.processes();
      if (pids.length === 0) break;
      for (const p of pids) try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
      sleepSync(100);
    }
    for (const cg of this.cgroups()) try { fs.rmdirSync(cg); } catch { /* busy or gone; reported by leftovers() */ }
    for (const m of this.mounts().sort((a, b) => b.length - a.length)) trySync('umount', ['-l', m]);
    this.net.destroy();
    try { fs.rmSync(this.dir, { recursive: true, force: true }); } catch { /* reported by leftovers() */ }
    live.delete(this);
  }

  /** What the run left on the machine; empty after a clean teardown. */
  leftovers(): string[] {
    const found: string[] = [];
    for (const ns of listNetns().filter((n) => n.startsWith(`${this.net.prefix}-`))) found.push(`netns ${ns}`);
    for (const p of this.processes()) found.push(`process ${p}: ${cmdline(p)}`);
    for (const m of this.mounts()) found.push(`mount ${m}`);
    for (const cg of this.cgroups()) found.push(`cgroup ${cg}`);
    for (const link of rootLinks().filter((l) => l.includes(this.net.prefix))) found.push(`link ${link}`);
    if (fs.existsSync(this.dir)) found.push(`directory ${this.dir}`);
    return found;
  }

  /** Every process of the run: in its namespaces, in its containers' cgroups, or naming its directory. */
  private processes(): number[] {
    const pids = new Set(pidsInNetns(this.inodes));
    for (const cg of this.cgroups()) {
      try {
        for (const p of fs.readFileSync(path.join(cg, 'cgroup.procs'), 'utf8').split('\n')) if (p !== '') pids.add(Number(p));
      } catch { /* gone */ }
    }
    for (const p of fs.readdirSync('/proc')) {
      if (/^\d+$/.test(p) && Number(p) !== process.pid && cmdline(Number(p)).includes(this.dir)) pids.add(Number(p));
    }
    pids.delete(process.pid);
    return [...pids];
  }

  /** Mount points under the run's directory, in this (the root) mount namespace. */
  private mounts(): string[] {
    return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
      .map((l) => l.split(' ')[4])
      .filter((m): m is string => m !== undefined && (m === this.dir || m.startsWith(`${this.dir}/`)));
  }

  /**
   * Ids of the host's containers that have live processes (read from the kernel's cgroups, not
   * from shoald): the ground truth for "no task lost or duplicated" and "stale containers stopped".
   */
  liveContainers(h: Host): string[] {
    const ids = new Set<string>();
    for (const parent of cgroupParents([h.cgroupParent])) {
      for (const d of subdirs(parent)) {
        try {
          if (fs.readFileSync(path.join(d, 'cgroup.procs'), 'utf8').trim() !== '') ids.add(path.basename(d));
        } catch { /* gone */ }
      }
    }
    return [...ids];
  }

  /** The run's cgroups: each host's container cgroups (children first), then the hosts' parents. */
  private cgroups(): string[] {
    const parents = cgroupParents(this.hosts.map((h) => h.cgroupParent));
    return [...parents.flatMap(subdirs), ...parents];
  }
}

/** Each host's containers live under its own cgroup parent (shoald --cgroup-parent), in every hierarchy. */
function cgroupParents(names: readonly string[]): string[] {
  const root = '/sys/fs/cgroup';
  const tops = fs.existsSync(path.join(root, 'cgroup.controllers')) ? [root] : subdirs(root);
  return tops.flatMap((top) => names.map((n) => path.join(top, n))).filter((d) => fs.existsSync(d));
}

function subdirs(d: string): string[] {
  try {
    return fs.readdirSync(d, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => path.join(d, e.name));
  } catch {
    return [];
  }
}

/** Picks a free run number k and claims it by creating its directory (atomic); stale runs are cleaned. */
function claimRunNumber(): number {
  const base = (process.pid % 200) + 1;
  for (let j = 0; j < 250; j++) {
    const k = ((base + j - 1) % 250) + 1;
    const dir = runDirOf(k);
    const prefix = `shltst${k}-`;
    if (fs.existsSync(dir)) {
      const owner = Number(readOr(path.join(dir, 'owner'), '0'));
      if (owner > 0 && alive(owner)) continue;
      cleanStale(k);
    } else if (listNetns().some((n) => n.startsWith(prefix))) {
      cleanStale(k);
    }
    try {
      fs.mkdirSync(dir);
    } catch {
      continue;
    }
    fs.writeFileSync(path.join(dir, 'owner'), String(process.pid));
    return k;
  }
  throw new Error('no free cluster-test run number (1..250): remove stale /tmp/shoal-cluster-* runs');
}

/** Tears down what a dead run k left: its namespaces' processes, mounts, namespaces and directory. */
function cleanStale(k: number): void {
  const net = new TestNetwork(k);
  const dir = runDirOf(k);
  const inodes = new Set(net.existing().map(netnsInode).filter((i): i is number => i !== undefined));
  const root = '/sys/fs/cgroup';
  const tops = fs.existsSync(path.join(root, 'cgroup.controllers')) ? [root] : subdirs(root);
  const parents = tops.flatMap(subdirs).filter((d) => path.basename(d).startsWith(`${net.prefix}-`));
  const cgroups = [...parents.flatMap(subdirs), ...parents];
  for (let round = 0; round < 20; round++) {
    const pids = pidsInNetns(inodes);
    for (const cg of cgroups) {
      try {
        for (const p of fs.readFileSync(path.join(cg, 'cgroup.procs'), 'utf8').split('\n')) if (p !== '') pids.push(Number(p));
      } catch { /* gone */ }
    }
    for (const p of fs.readdirSync('/proc')) if (/^\d+$/.test(p) && Number(p) !== process.pid && cmdline(Number(p)).includes(dir)) pids.push(Number(p));
    if (pids.length === 0) break;
    for (const p of pids) try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
    sleepSync(100);
  }
  const mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4]).filter((m): m is string => m !== undefined && m.startsWith(`${dir}/`));
  for (const m of mounts.sort((a, b) => b.length - a.length)) trySync('umount', ['-l', m]);
  for (const cg of cgroups) try { fs.rmdirSync(cg); } catch { /* busy or gone */ }
  net.destroy();
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Tears down every live run when the process is interrupted, crashes or ends. */
function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  const all = (): void => { for (const t of [...live]) t.teardown(); };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      all();
      process.exit(130);
    });
  }
  // An uncaught error inside a test is mocha's to report (the suite's after hook tears down);
  // one that kills the process still emits 'exit', and so does a normal end.
  process.on('exit', all);
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function readOr(file: string, fallback: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return fallback;
  }
}

/** Names of the links in the root network namespace. */
function rootLinks(): string[] {
  try {
    return fs.readdirSync('/sys/class/net');
  } catch {
    return [];
  }
}
