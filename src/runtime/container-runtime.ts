import * as fs from 'node:fs';
import * as path from 'node:path';
import { Clock, systemClock } from '../types/clock';
import { ConflictError, FailedPreconditionError, InvalidArgumentError, NotFoundError, ShoalError } from '../types/errors';
import { Random, systemRandom } from '../types/random';
import { Cgroup, CgroupLayout, CgroupStats, detectCgroupLayout, openCgroup } from './cgroups';
import { ContainerConfig, CreateOptions, defaultStopGraceMs, signalNumber, validateCreate } from './container-config';
import { LogEntry, LogOptions, readLogs } from './container-logs';
import { ContainerInfo, ContainerPaths, ContainerState, NetworkAttachment, readExitFile, writeJsonAtomic } from './container-state';
import { ContainerNetwork } from './network-types';
import { defaultShimPath, ShimHandle, ShimServer, startShim } from './shim-process';
import { writeEtcFiles } from './etc-files';
import { encodeShimSpec, volumeDataDir } from './shim-spec';
import { ResolvedUser, resolveUser } from './user-lookup';

/** How a runtime is set up: everything comes in as arguments (DESIGN.md §2). */
export interface RuntimeOptions {
  /** Data root; containers live in `<root>/containers/<id>`, volumes in `<root>/volumes`. */
  root: string;
  shimPath?: string;
  cgroupLayout?: CgroupLayout;
  /** Parent cgroup of every container, relative to the hierarchy root. */
  cgroupParent?: string;
  /** Needed for containers with network bridge. */
  network?: ContainerNetwork;
  clock?: Clock;
  random?: Random;
  /** How often a re-attached container (not our child) is checked for exit. */
  pollMs?: number;
  /** Start containers through the per-node shim server (default) or by spawning the shim from Node. */
  useShimServer?: boolean;
}

/**
 * Containers on one node: create, start, wait, stop, remove, list, inspect, logs, stats.
 * Each running container has its own C monitor (shoal-shim), which survives this object and
 * this process; `open` re-attaches to those still running and cleans up after the others.
 */
export class ContainerRuntime {
  private readonly states = new Map<string, ContainerState>();
  private readonly configs = new Map<string, ContainerConfig>();
  private readonly monitors = new Map<string, ShimHandle>();
  private readonly exits = new Map<string, Promise<ContainerState>>();
  private readonly cgroups = new Map<string, Cgroup>();
  private readonly teardowns = new Map<string, Promise<void>>();
  private readonly deletes = new Set<Promise<void>>();
  private readonly starting = new Set<string>();
  private readonly timers = new Set<{ cancel(): void }>();
  private readonly shimPath: string;
  private readonly layout: CgroupLayout;
  private readonly cgroupParent: string;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly server: ShimServer | undefined;
  private closed = false;

  private constructor(private readonly opts: RuntimeOptions) {
    this.shimPath = opts.shimPath ?? defaultShimPath;
    this.layout = opts.cgroupLayout ?? detectCgroupLayout();
    this.cgroupParent = opts.cgroupParent ?? 'shoal';
    this.clock = opts.clock ?? systemClock;
    this.random = opts.random ?? systemRandom;
    this.server = opts.useShimServer === false ? undefined : new ShimServer(this.shimPath, path.join(opts.root, 'shim.sock'));
  }

  /** Opens the runtime over its data root, re-attaching to running containers and cleaning up after dead ones. */
  static async open(opts: RuntimeOptions): Promise<ContainerRuntime> {
    if (!path.isAbsolute(opts.root)) throw new InvalidArgumentError(`runtime root must be absolute, got ${JSON.stringify(opts.root)}`);
    if (!fs.existsSync(opts.shimPath ?? defaultShimPath)) {
      throw new FailedPreconditionError(`container shim not found at ${opts.shimPath ?? defaultShimPath}`, { hint: 'run `npm run build` (needs a C compiler)' });
    }
    const rt = new ContainerRuntime(opts);
    fs.mkdirSync(path.join(opts.root, 'containers'), { recursive: true });
    await rt.recover();
    return rt;
  }

  private paths(id: string): ContainerPaths {
    return new ContainerPaths(this.opts.root, id);
  }

  private newId(): string {
    let id = '';
    for (let i = 0; i < 8; i++) id += this.random.int(0x10000).toString(16).padStart(4, '0');
    return id;
  }

  /** Finds a container by full id, unique id prefix, or name. */
  private resolve(ref: string): string {
    if (this.states.has(ref)) return ref;
    const matches = [...this.states.values()].filter((s) => s.name === ref || (ref.length >= 4 && s.id.startsWith(ref)));
    if (matches.length === 1) return matches[0].id;
    if (matches.length > 1) throw new InvalidArgumentError(`container reference ${JSON.stringify(ref)} is ambiguous`);
    throw new NotFoundError(`no such container: ${ref}`);
  }

  private save(s: ContainerState): void {
    this.states.set(s.id, s);
    writeJsonAtomic(this.paths(s.id).state, s);
  }

  /** Creates a container (its dirs and config) without starting it; returns its id. */
  async create(opts: CreateOptions): Promise<string> {
    await Promise.resolve();
    validateCreate(opts);
    for (const d of opts.layerDirs) {
      if (!fs.statSync(d, { throwIfNoEntry: false })?.isDirectory()) throw new InvalidArgumentError(`layer dir ${d} does not exist or is not a directory`);
    }
    const id = this.newId();
    const name = opts.name ?? `c-${id.slice(0, 12)}`;
    if ([...this.states.values()].some((s) => s.name === name)) throw new ConflictError(`container name ${JSON.stringify(name)} is already in use`, { hint: 'remove that container or pick another name' });
    const p = this.paths(id);
    fs.mkdirSync(p.dir, { mode: 0o700 });
    for (const d of [p.rootfs, p.upper, p.work]) fs.mkdirSync(d);
    writeJsonAtomic(p.config, opts.config);
    this.configs.set(id, opts.config);
    this.save({ id, name, createdAt: new Date().toISOString(), layerDirs: opts.layerDirs, status: 'created' });
    return id;
  }

  /** Starts a created container; resolves once its command has been exec'd. */
  async start(ref: string): Promise<void> {
    const id = this.resolve(ref);
    const st = this.states.get(id)!;
    if (st.status !== 'created') throw new ConflictError(`container ${id} is ${st.status}; only a created container can be started`);
    if (this.starting.has(id)) throw new ConflictError(`container ${id} is already being started`);
    this.starting.add(id);
    try {
      await this.startCreated(id, st);
    } finally {
      this.starting.delete(id);
    }
  }

  private async startCreated(id: string, st: ContainerState): Promise<void> {
    const config = this.configs.get(id)!;
    const p = this.paths(id);
    const cg = openCgroup(this.layout, this.cgroupParent, id, true);
    let attachment: NetworkAttachment = { mode: config.network ?? 'bridge', ports: [] };
    try {
      cg.apply(config.limits ?? {});
      for (const m of config.mounts ?? []) if (m.type === 'volume') fs.mkdirSync(volumeDataDir(this.opts.root, m.name), { recursive: true });
      if (attachment.mode === 'bridge') {
        if (!this.opts.network) throw new FailedPreconditionError('network bridge asked for, but this runtime has no bridge network', { hint: 'use network none or host' });
        attachment = await this.opts.network.reserve(id, config.ports ?? []);
      }
      fs.rmSync(p.exit, { force: true }); // from an earlier failed start
      const ids: Partial<ResolvedUser> = config.user === undefined ? {} : resolveUser(st.layerDirs, config.user);
      const etc = writeEtcFiles(p.etcDir, {
        hostname: config.hostname ?? id.slice(0, 12),
        ip: attachment.ip,
        hostResolvConf: readHostResolvConf(),
        hostNetwork: attachment.mode === 'host',
      });
      // The user's own mounts come last so that they can override /etc/hosts and the like.
      const resolved = { ...config, ...ids, groups: [...(ids.groups ?? []), ...(config.groups ?? [])], mounts: [...etc, ...(config.mounts ?? [])] };
      fs.writeFileSync(p.spec, encodeShimSpec(p, st.layerDirs, resolved, cg));
      const net = this.opts.network;
      const handle = await startShim(this.shimPath, this.server, p.dir, async (pid) => {
        if (attachment.mode === 'bridge') await net!.attach(id, pid, attachment);
      });
      this.cgroups.set(id, cg);
      this.monitors.set(id, handle);
      this.save({ ...st, status: 'running', pid: handle.pid, monitorPid: handle.monitorPid, startedAt: new Date().toISOString(), network: attachment });
      void this.watchExit(id);
    } catch (err) {
      await cg.killAll();
      cg.remove();
      if (attachment.mode === 'bridge' && attachment.ip) await this.opts.network!.release(id, attachment);
      throw err;
    }
  }

  /** Resolves with the final state once the container has exited. */
  async wait(ref: string): Promise<ContainerState> {
    const id = this.resolve(ref);
    const st = this.states.get(id)!;
    if (st.status === 'exited') return st;
    if (st.status === 'created') throw new FailedPreconditionError(`container ${id} has not been started`);
    // The monitor is unref'd so that a detached container does not keep Node alive; a waiter does.
    const monitor = this.monitors.get(id);
    monitor?.ref();
    try {
      return await this.watchExit(id);
    } finally {
      monitor?.unref();
    }
  }

  private watchExit(id: string): Promise<ContainerState> {
    let p = this.exits.get(id);
    if (p) return p;
    p = new Promise<void>((resolve) => {
      const monitor = this.monitors.get(id);
      if (monitor) {
        void monitor.exited.then(() => { if (!this.closed) resolve(); });
        return;
      }
      // Re-attached: the monitor is not our child, so look for its exit file or its end.
      const st = this.states.get(id)!;
      const poll = (): void => {
        if (this.closed) return;
        if (fs.existsSync(this.paths(id).exit) || !monitorAlive(st.monitorPid, this.paths(id).dir)) { resolve(); return; }
        const t = this.clock.setTimer(this.opts.pollMs ?? 50, () => { this.timers.delete(t); poll(); });
        this.timers.add(t);
      };
      poll();
    }).then(() => this.finalize(id));
    // Nobody may be waiting: a failed finalize is seen by the next wait, never unhandled.
    p.catch(() => { /* reported to waiters */ });
    this.exits.set(id, p);
    return p;
  }

  /** Records the exit (code, signal, time, OOM kill), kills stragglers and frees the cgroup and the network. */
  private async finalize(id: string): Promise<ContainerState> {
    const st = this.states.get(id)!;
    if (st.status === 'exited') return st;
    const exit = readExitFile(this.paths(id).exit);
    const cg = this.cgroups.get(id) ?? openCgroup(this.layout, this.cgroupParent, id, false);
    let oomKilled = false;
    if (cg.exists()) {
      oomKilled = cg.stats().oomKills > 0;
      await cg.killAll();
      cg.remove();
    }
    this.cgroups.delete(id);
    this.monitors.delete(id);
    const done: ContainerState = {
      ...st,
      status: 'exited',
      pid: undefined,
      monitorPid: undefined,
      exitCode: exit?.exitCode ?? 255,
      exitSignal: exit?.signal ?? 0,
      finishedAt: new Date(exit?.finishedAtMs ?? Date.now()).toISOString(),
      oomKilled,
      error: exit ? undefined : 'monitor lost: no exit status recorded',
    };
    this.save(done);
    // Network teardown runs in the background: nothing about a later start waits for it.
    if (st.network?.mode === 'bridge' && this.opts.network) {
      const net = this.opts.network;
      const t = net.release(id, st.network).catch(() => { /* retried by recover at the next open */ });
      this.teardowns.set(id, t.finally(() => this.teardowns.delete(id)));
    }
    return done;
  }

  /** Sends a signal to the container's first process. */
  kill(ref: string, signal = 'SIGKILL'): void {
    const id = this.resolve(ref);
    const st = this.states.get(id)!;
    if (st.status !== 'running' || st.pid === undefined) throw new ConflictError(`container ${id} is not running`);
    process.kill(st.pid, signalNumber(signal));
  }

  /**
   * Stops a container as Docker does: its stop signal (SIGTERM by default), then after the
   * grace period SIGKILL to every process of its cgroup. Resolves with the final state.
   */
  async stop(ref: string, graceMs?: number): Promise<ContainerState> {
    const id = this.resolve(ref);
    const st = this.states.get(id)!;
    if (st.status !== 'running') return st;
    const config = this.configs.get(id)!;
    const grace = graceMs ?? config.stopGraceMs ?? defaultStopGraceMs;
    const exited = this.watchExit(id);
    if (grace > 0) {
      try {
        process.kill(st.pid!, signalNumber(config.stopSignal ?? 'SIGTERM'));
      } catch {
        /* already gone */
      }
      let timer: { cancel(): void } | undefined;
      const timedOut = await Promise.race([
        exited.then(() => false),
        new Promise<boolean>((r) => { timer = this.clock.setTimer(grace, () => r(true)); }),
      ]);
      timer?.cancel();
      if (!timedOut) return exited;
    }
    // SIGKILL to PID 1 ends its whole PID namespace; the cgroup sweep catches anything else.
    try {
      process.kill(st.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
    const cg = this.cgroups.get(id) ?? openCgroup(this.layout, this.cgroupParent, id, false);
    if (cg.exists()) await cg.killAll();
    return exited;
  }

  /** Removes a container and everything of it (state dir, upper dir, cgroup, network); force kills a running one first. */
  async remove(ref: string, opts: { force?: boolean } = {}): Promise<void> {
    const id = this.resolve(ref);
    const st = this.states.get(id)!;
    if (st.status === 'running') {
      if (!opts.force) throw new ConflictError(`container ${id} is running`, { hint: 'stop it first or remove with force' });
      await this.stop(id, 0);
    }
    await this.teardowns.get(id);
    // Renaming is one metadata write; the unlinks (several ms on a busy disk) go to the
    // background, and the next open finishes any a crash interrupted.
    const trash = path.join(this.opts.root, 'trash');
    fs.mkdirSync(trash, { recursive: true });
    const gone = path.join(trash, id);
    fs.renameSync(this.paths(id).dir, gone);
    this.trackDelete(gone);
    this.states.delete(id);
    this.configs.delete(id);
    this.exits.delete(id);
  }

  /** Every container this runtime knows. */
  list(): ContainerState[] {
    return [...this.states.values()].map((s) => ({ ...s }));
  }

  /** One container's state and config. */
  inspect(ref: string): ContainerInfo {
    const id = this.resolve(ref);
    return { ...this.states.get(id)!, config: this.configs.get(id)! };
  }

  /** Usage figures of a running container's cgroup. */
  stats(ref: string): CgroupStats {
    const id = this.resolve(ref);
    const cg = this.cgroups.get(id);
    if (!cg) throw new ConflictError(`container ${id} is not running`);
    return cg.stats();
  }

  /** The container's output; with follow, until it exits. */
  logs(ref: string, opts: LogOptions = {}): AsyncGenerator<LogEntry> {
    const id = this.resolve(ref);
    const config = this.configs.get(id)!;
    return readLogs(this.paths(id).log, config.logMaxFiles ?? 2, opts, () => this.states.get(id)?.status !== 'running');
  }

  private trackDelete(dir: string): void {
    const p = fs.promises.rm(dir, { recursive: true, force: true }).catch(() => { /* retried at the next open */ });
    this.deletes.add(p);
    void p.finally(() => this.deletes.delete(p));
  }

  /** Waits for background teardowns and deletions; tests call it before checking that nothing is left. */
  async settle(): Promise<void> {
    await Promise.all([...this.teardowns.values(), ...this.deletes]);
  }

  /**
   * Forgets this runtime's watchers without touching any container (they keep running);
   * with stopShimServer also ends the per-node shim server (tests, uninstall).
   */
  close(opts: { stopShimServer?: boolean } = {}): void {
    if (opts.stopShimServer) this.server?.stop();
    this.closed = true;
    for (const t of this.timers) t.cancel();
    this.timers.clear();
  }

  private async recover(): Promise<void> {
    const dir = path.join(this.opts.root, 'containers');
    const trash = path.join(this.opts.root, 'trash');
    if (fs.existsSync(trash)) for (const t of fs.readdirSync(trash)) this.trackDelete(path.join(trash, t));
    const live = new Map<string, NetworkAttachment>();
    for (const id of fs.readdirSync(dir)) {
      const p = this.paths(id);
      let st: ContainerState;
      let config: ContainerConfig;
      try {
        st = JSON.parse(fs.readFileSync(p.state, 'utf8')) as ContainerState;
        config = JSON.parse(fs.readFileSync(p.config, 'utf8')) as ContainerConfig;
      } catch (err) {
        throw new ShoalError('Internal', `container state in ${p.dir} is unreadable: ${(err as Error).message}`, { cause: err, hint: `inspect or remove ${p.dir} by hand` });
      }
      this.states.set(id, st);
      this.configs.set(id, config);
      if (st.status !== 'running') continue;
      if (monitorAlive(st.monitorPid, p.dir)) {
        this.cgroups.set(id, openCgroup(this.layout, this.cgroupParent, id, false));
        if (st.network) live.set(id, st.network);
        void this.watchExit(id);
      } else {
        await this.finalize(id);
      }
    }
    await this.removeStrayCgroups();
    if (this.opts.network) await this.opts.network.recover(live);
  }

  /** Cgroups under our parent that belong to no running container (a crash mid-start) are killed and removed. */
  private async removeStrayCgroups(): Promise<void> {
    const bases = this.layout.version === 1
      ? ['memory', 'cpu', 'cpuacct', 'pids', 'devices'].map((c) => path.join(this.layout.root, c, this.cgroupParent))
      : [path.join(this.layout.root, this.cgroupParent)];
    const names = new Set<string>();
    for (const base of bases) {
      try {
        for (const e of fs.readdirSync(base, { withFileTypes: true })) if (e.isDirectory()) names.add(e.name);
      } catch {
        /* controller not mounted or parent not made yet */
      }
    }
    for (const name of names) {
      if (this.states.get(name)?.status === 'running') continue;
      const cg = openCgroup(this.layout, this.cgroupParent, name, false);
      await cg.killAll();
      cg.remove();
    }
  }
}

function readHostResolvConf(): string {
  try {
    return fs.readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    return '';
  }
}

/** True if the pid is a live shim monitoring this state dir (not a recycled pid). */
function monitorAlive(pid: number | undefined, stateDir: string): boolean {
  if (pid === undefined) return false;
  try {
    const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return cmd[1] === stateDir && path.basename(cmd[0] ?? '').startsWith('shoal-shim');
  } catch {
    return false;
  }
}
