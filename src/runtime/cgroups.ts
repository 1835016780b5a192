import * as fs from 'node:fs';
import * as path from 'node:path';
import { InvalidArgumentError } from '../types/errors';

/** Resource limits of one container (Docker's names and units). */
export interface ResourceLimits {
  /** Hard memory limit in bytes (0 or absent: none). Swap is limited to the same amount. */
  memoryBytes?: number;
  /** CPU limit in billionths of a CPU (1e9 = one full CPU), as Docker's NanoCpus. */
  nanoCpus?: number;
  /** Maximum number of tasks (processes and threads) in the container. */
  pidsLimit?: number;
}

/** Usage figures read from a container's cgroup. */
export interface CgroupStats {
  memoryBytes: number;
  cpuUsageNs: number;
  /** Periods in which the CPU quota throttled the container, and for how long in total. */
  throttledPeriods: number;
  throttledNs: number;
  pids: number;
  /** How many times the kernel's OOM killer killed a process of this cgroup. */
  oomKills: number;
}

/** One container's cgroup, the same interface over cgroup v1 and v2. */
export interface Cgroup {
  /** The cgroup.procs files the shim writes the container's pid to, before it lets it exec. */
  readonly procsFiles: string[];
  /** v2 only: the directory the shim clones the container straight into (CLONE_INTO_CGROUP). */
  readonly cloneInto?: string;
  apply(limits: ResourceLimits): void;
  stats(): CgroupStats;
  pids(): number[];
  /** SIGKILLs every process in the cgroup until none is left (bounded). */
  killAll(): Promise<void>;
  /** Removes the cgroup directories; throws if processes remain. */
  remove(): void;
  exists(): boolean;
}

/** The CFS period we use: Docker's default of 100 ms. */
export const cpuPeriodUs = 100_000;

/** Converts Docker's NanoCpus into a CFS quota for cpuPeriodUs (at least 1 ms, as the kernel wants). */
export function cpuQuotaUs(nanoCpus: number): number {
  return Math.max(1000, Math.round((nanoCpus * cpuPeriodUs) / 1e9));
}

/** Checks limits before anything is written to the kernel. */
export function validateLimits(l: ResourceLimits): void {
  const check = (name: string, v: number | undefined, min: number): void => {
    if (v === undefined || v === 0) return;
    if (!Number.isSafeInteger(v) || v < min) throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}, got ${v}`);
  };
  check('memoryBytes', l.memoryBytes, 6 * 1024 * 1024);
  check('nanoCpus', l.nanoCpus, 10_000_000);
  check('pidsLimit', l.pidsLimit, 1);
}

// No freezer: SIGKILL to the container's PID 1 ends its whole PID namespace, and each
// hierarchy joined costs an RCU grace period at start.
const v1Controllers = ['memory', 'cpu', 'cpuacct', 'pids', 'devices'] as const;

/**
 * Device nodes a container may open (runc's and Docker's default list): mknod of anything,
 * but read/write only of null, zero, full, random, urandom, tty, console, ptmx, ptys and tun.
 * Without it CAP_MKNOD would let a container open the host's disks.
 */
export const allowedDevices = ['c *:* m', 'b *:* m', 'c 1:3 rwm', 'c 1:5 rwm', 'c 1:7 rwm', 'c 1:8 rwm', 'c 1:9 rwm', 'c 5:0 rwm', 'c 5:1 rwm', 'c 5:2 rwm', 'c 136:* rwm', 'c 10:200 rwm'];

/** Which cgroup layout this host has, found by looking at /sys/fs/cgroup. */
export type CgroupLayout = { version: 1; root: string } | { version: 2; root: string };

/** Detects the layout: v1 if the memory controller is mounted on its own, else unified v2. */
export function detectCgroupLayout(root = '/sys/fs/cgroup'): CgroupLayout {
  if (fs.existsSync(path.join(root, 'memory', 'memory.limit_in_bytes'))) return { version: 1, root };
  if (fs.existsSync(path.join(root, 'cgroup.controllers'))) return { version: 2, root };
  throw new InvalidArgumentError(`no usable cgroup hierarchy under ${root} (neither v1 memory controller nor cgroup2)`);
}

/** Opens (and with create, makes) the cgroup `<parent>/<name>` in the given layout. */
export function openCgroup(layout: CgroupLayout, parent: string, name: string, create: boolean): Cgroup {
  return layout.version === 1 ? new CgroupV1(layout.root, parent, name, create) : new CgroupV2(layout.root, parent, name, create);
}

function readInt(file: string): number {
  try {
    const s = fs.readFileSync(file, 'utf8').trim();
    return s === 'max' ? Number.POSITIVE_INFINITY : Number(s);
  } catch {
    return 0;
  }
}

function readKeyed(file: string): Map<string, number> {
  const m = new Map<string, number>();
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return m;
  }
  for (const line of text.split('\n')) {
    const [k, v] = line.split(' ');
    if (k && v !== undefined) m.set(k, Number(v));
  }
  return m;
}

function readPids(procs: string): number[] {
  try {
    return fs.readFileSync(procs, 'utf8').split('\n').filter((s) => s !== '').map(Number);
  } catch {
    return [];
  }
}

/** Kills every listed pid again and again until the lister returns none (bounded tries). */
async function killUntilEmpty(list: () => number[]): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const pids = list();
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

function rmdirRetry(dir: string): void {
  for (let i = 0; ; i++) {
    try {
      fs.rmdirSync(dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      // A cgroup whose last task just died can be briefly busy.
      if (code !== 'EBUSY' || i >= 50) throw err;
      const until = Date.now() + 2;
      while (Date.now() < until) { /* spin a moment; rmdir is synchronous anyway */ }
    }
  }
}

class CgroupV1 implements Cgroup {
  readonly procsFiles: string[];
  private readonly dirs: Map<string, string>;
  private readonly unique: string[];

  constructor(root: string, parent: string, name: string, create: boolean) {
    // Controllers mounted together (cpu,cpuacct) share one directory: join and remove it once.
    const mounted = v1Controllers.filter((c) => fs.existsSync(path.join(root, c)));
    this.dirs = new Map(mounted.map((c) => [c, path.join(fs.realpathSync(path.join(root, c)), parent, name)]));
    this.unique = [...new Set(this.dirs.values())];
    if (create) {
      for (const d of this.unique) fs.mkdirSync(d, { recursive: true });
    }
    this.procsFiles = this.unique.map((d) => path.join(d, 'cgroup.procs'));
  }

  private file(ctrl: string, f: string): string {
    return path.join(this.dirs.get(ctrl)!, f);
  }

  apply(l: ResourceLimits): void {
    if (this.dirs.has('devices')) {
      fs.writeFileSync(this.file('devices', 'devices.deny'), 'a');
      for (const rule of allowedDevices) fs.writeFileSync(this.file('devices', 'devices.allow'), rule);
    }
    if (l.memoryBytes) {
      fs.writeFileSync(this.file('memory', 'memory.limit_in_bytes'), String(l.memoryBytes));
      // Swap counts against the same limit, so a hog is OOM-killed instead of swapping.
      try {
        fs.writeFileSync(this.file('memory', 'memory.memsw.limit_in_bytes'), String(l.memoryBytes));
      } catch {
        /* no swap accounting on this kernel */
      }
    }
    if (l.nanoCpus) {
      fs.writeFileSync(this.file('cpu', 'cpu.cfs_period_us'), String(cpuPeriodUs));
      fs.writeFileSync(this.file('cpu', 'cpu.cfs_quota_us'), String(cpuQuotaUs(l.nanoCpus)));
    }
    if (l.pidsLimit) fs.writeFileSync(this.file('pids', 'pids.max'), String(l.pidsLimit));
  }

  stats(): CgroupStats {
    const cpu = readKeyed(this.file('cpu', 'cpu.stat'));
    const oom = readKeyed(this.file('memory', 'memory.oom_control'));
    return {
      memoryBytes: readInt(this.file('memory', 'memory.usage_in_bytes')),
      cpuUsageNs: readInt(this.file('cpuacct', 'cpuacct.usage')),
      throttledPeriods: cpu.get('nr_throttled') ?? 0,
      throttledNs: cpu.get('throttled_time') ?? 0,
      pids: readInt(this.file('pids', 'pids.current')),
      oomKills: oom.get('oom_kill') ?? 0,
    };
  }

  pids(): number[] {
    const all = new Set<number>();
    for (const f of this.procsFiles) for (const p of readPids(f)) all.add(p);
    return [...all];
  }

  async killAll(): Promise<void> {
    await killUntilEmpty(() => this.pids());
  }

  remove(): void {
    for (const d of this.unique) rmdirRetry(d);
  }

  exists(): boolean {
    return fs.existsSync(this.dirs.get('memory')!);
  }
}

class CgroupV2 implements Cgroup {
  readonly procsFiles: string[];
  readonly cloneInto: string;
  private readonly dir: string;

  constructor(root: string, parent: string, name: string, create: boolean) {
    this.dir = path.join(root, parent, name);
    if (create) {
      enableV2Controllers(root, parent);
      fs.mkdirSync(this.dir, { recursive: true });
    }
    this.procsFiles = [path.join(this.dir, 'cgroup.procs')];
    this.cloneInto = this.dir;
  }

  apply(l: ResourceLimits): void {
    if (l.memoryBytes) {
      fs.writeFileSync(path.join(this.dir, 'memory.max'), String(l.memoryBytes));
      try {
        fs.writeFileSync(path.join(this.dir, 'memory.swap.max'), '0');
      } catch {
        /* no swap controller */
      }
    }
    if (l.nanoCpus) fs.writeFileSync(path.join(this.dir, 'cpu.max'), `${cpuQuotaUs(l.nanoCpus)} ${cpuPeriodUs}`);
    if (l.pidsLimit) fs.writeFileSync(path.join(this.dir, 'pids.max'), String(l.pidsLimit));
  }

  stats(): CgroupStats {
    const cpu = readKeyed(path.join(this.dir, 'cpu.stat'));
    const events = readKeyed(path.join(this.dir, 'memory.events'));
    return {
      memoryBytes: readInt(path.join(this.dir, 'memory.current')),
      cpuUsageNs: (cpu.get('usage_usec') ?? 0) * 1000,
      throttledPeriods: cpu.get('nr_throttled') ?? 0,
      throttledNs: (cpu.get('throttled_usec') ?? 0) * 1000,
      pids: readInt(path.join(this.dir, 'pids.current')),
      oomKills: events.get('oom_kill') ?? 0,
    };
  }

  pids(): number[] {
    return readPids(this.procsFiles[0]);
  }

  async killAll(): Promise<void> {
    const kill = path.join(this.dir, 'cgroup.kill');
    if (fs.existsSync(kill)) fs.writeFileSync(kill, '1');
    await killUntilEmpty(() => this.pids());
  }

  remove(): void {
    rmdirRetry(this.dir);
  }

  exists(): boolean {
    return fs.existsSync(this.dir);
  }
}

/** Turns on the memory, cpu and pids controllers down to `parent` (v2 needs them in subtree_control). */
function enableV2Controllers(root: string, parent: string): void {
  let dir = root;
  const parts = parent.split('/').filter((p) => p !== '');
  for (let i = 0; i <= parts.length; i++) {
    const available = fs.readFileSync(path.join(dir, 'cgroup.controllers'), 'utf8').trim().split(/\s+/);
    const want = ['memory', 'cpu', 'pids'].filter((c) => available.includes(c)).map((c) => `+${c}`).join(' ');
    if (want !== '') fs.writeFileSync(path.join(dir, 'cgroup.subtree_control'), want);
    if (i === parts.length) break;
    dir = path.join(dir, parts[i]);
    fs.mkdirSync(dir, { recursive: true });
  }
}
