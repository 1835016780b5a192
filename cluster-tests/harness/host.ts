import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { must, run, RunOptions, RunResult, sleep, trySync } from './exec';

/** The repository root (this file runs from dist/cluster-tests/harness). */
export const repoRoot = path.resolve(__dirname, '../../..');
const daemonMain = path.join(repoRoot, 'dist/src/daemon/main.js');
const cliMain = path.join(repoRoot, 'dist/src/cli/main.js');

/** An HTTP answer of the local API: status, raw text and the parsed JSON body (undefined if not JSON). */
export interface ApiResult {
  readonly status: number;
  readonly text: string;
  readonly json: unknown;
}

/** One impairment of a host's outgoing traffic. */
export interface Impairment {
  readonly delayMs?: number;
  readonly lossPercent?: number;
  /** A rate limit (kbit/s) — the stand-in for delay on kernels without sch_netem. */
  readonly rateKbit?: number;
}

/** Which packets a drop rule stops: everything to and from the subnet, only what comes in, or only what goes out. */
export type DropDirection = 'both' | 'in' | 'out';

/**
 * One test host: a network namespace with its own address on the test bridge, its own data
 * root, run root and API socket under the run's temp dir, and at most one shoald process.
 * Everything a user would do on that host goes through `cli` (the shoal CLI) or `api` (the local
 * API socket), exactly as on a real machine.
 */
export class Host {
  readonly name: string;
  readonly dir: string;
  readonly dataRoot: string;
  readonly runRoot: string;
  readonly socketPath: string;
  readonly logFile: string;
  private daemon: ChildProcess | undefined;
  private holder: ChildProcess | undefined;
  private daemonArgs: string[] = [];
  private daemonMainOverride: string | undefined;
  private readonly dropRules: string[][] = [];
  private iptablesLoss: string[] | undefined;
  private static netemChecked: boolean | undefined;

  constructor(readonly index: number, readonly ns: string, readonly ip: string, runDir: string, private readonly subnet: string) {
    this.name = `h${index}`;
    this.dir = path.join(runDir, this.name);
    this.dataRoot = path.join(this.dir, 'data');
    this.runRoot = path.join(this.dir, 'run');
    this.socketPath = path.join(this.runRoot, 'shoal.sock');
    this.logFile = path.join(this.dir, 'shoald.log');
    fs.mkdirSync(this.dataRoot, { recursive: true });
    fs.mkdirSync(this.runRoot, { recursive: true });
  }

  /**
   * The parent cgroup of this host's containers. Each shoald needs its own: a runtime removes
   * every cgroup under its parent that is not one of its own containers.
   */
  get cgroupParent(): string {
    return this.ns;
  }

  /** `host:2377`, the address other nodes join at. */
  get addr(): string {
    return `${this.ip}:2377`;
  }

  /**
   * Gives the host the rest of what a machine has besides its network: a mount namespace whose
   * /sys is the sysfs of its network namespace (so /sys/class/net lists its own links, as on a
   * real host; the cgroup hierarchies are carried over) and a UTS namespace with its name as
   * hostname. A holder process keeps them alive; every process of the host (shoald across its
   * restarts, probes) enters them. Synchronous: a run is built from synchronous steps.
   */
  boot(): void {
    const ready = path.join(this.dir, '.ready');
    const cg = path.join(this.dir, '.cgroup');
    const script = [
      'set -e', `hostname ${this.name}`, `mkdir -p ${cg}`,
      `mount --rbind /sys/fs/cgroup ${cg}`, 'umount -l /sys', 'mount -t sysfs sysfs /sys',
      `mount --move ${cg} /sys/fs/cgroup`, `rmdir ${cg}`, `touch ${ready}`, 'exec sleep infinity',
    ].join('\n');
    // nsenter, unshare and sh exec in turn: the holder's pid is the child's.
    this.holder = spawn('nsenter', [`--net=/run/netns/${this.ns}`, '--', 'unshare', '--mount', '--uts', '--propagation', 'private', '--', 'sh', '-c', script], { stdio: 'ignore' });
    const deadline = Date.now() + 10_000;
    while (!fs.existsSync(ready)) {
      if (this.holder.exitCode !== null || Date.now() > deadline) throw new Error(`${this.name}: the host's namespaces could not be set up`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }

  /** The argv prefix that runs a command inside this host (its network, mount and UTS namespaces). */
  nsPrefix(): string[] {
    if (this.holder?.pid === undefined) throw new Error(`${this.name}: host not booted`);
    return ['nsenter', '-t', String(this.holder.pid), '--net', '--mount', '--uts', '--'];
  }

  /** Runs a command inside this host's network namespace. */
  exec(cmd: string, args: readonly string[], opts?: RunOptions): Promise<RunResult> {
    const [c, ...rest] = this.nsPrefix();
    return run(c, [...rest, cmd, ...args], opts);
  }

  /** Starts a long-running command inside this host's namespace (the caller kills it). */
  spawnIn(cmd: string, args: readonly string[]): ChildProcess {
    const [c, ...rest] = this.nsPrefix();
    return spawn(c, [...rest, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  }

  // ---- shoald ------------------------------------------------------------------------------

  /** The pid of the running shoald, if any. */
  get daemonPid(): number | undefined {
    return this.daemon !== undefined && this.daemon.exitCode === null && this.daemon.signalCode === null ? this.daemon.pid : undefined;
  }

  /**
   * Starts shoald in this host: its own network, mount and UTS namespaces (hostname = the
   * host's name, so `node ls` tells hosts apart), its own data root, run root and socket, the
   * cluster port on its own address. Logs are appended to `logFile`. Resolves when /_ping answers.
   * `main` replaces shoald's entry point (the harness self-tests use a stand-in).
   */
  async startDaemon(extraArgs: readonly string[] = [], opts: { main?: string } = {}): Promise<void> {
    if (this.daemonPid !== undefined) throw new Error(`${this.name}: shoald is already running (pid ${this.daemonPid})`);
    this.daemonArgs = [...extraArgs];
    this.daemonMainOverride = opts.main;
    try { fs.rmSync(this.socketPath, { force: true }); } catch { /* none */ }
    const log = fs.openSync(this.logFile, 'a');
    fs.writeSync(log, `\n==== ${new Date().toISOString()} start shoald ${this.name}\n`);
    const args = [
      ...this.nsPrefix().slice(1), process.execPath, '--enable-source-maps', opts.main ?? daemonMain,
      '--data-root', this.dataRoot, '--exec-root', this.runRoot, '--host', `unix://${this.socketPath}`,
      '--listen-addr', this.addr, '--advertise-addr', this.ip, '--cgroup-parent', this.cgroupParent,
      '--log-level', process.env.SHOAL_CLUSTER_LOG_LEVEL ?? 'info',
      ...extraArgs,
    ];
    // nsenter execs, so the child's pid is shoald's own pid.
    const child = spawn('nsenter', args, { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    this.daemon = child;
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`${this.name}: shoald exited (${child.exitCode ?? child.signalCode}) before serving its API:\n${this.logTail(40)}`);
      }
      if (fs.existsSync(this.socketPath)) {
        const r = await this.api('GET', '/_ping').catch(() => undefined);
        if (r?.status === 200) return;
      }
      if (Date.now() > deadline) throw new Error(`${this.name}: shoald did not serve /_ping within 60 s:\n${this.logTail(40)}`);
      await sleep(100);
    }
  }

  /** `kill -9` of this host's shoald, and of nothing else; resolves once it is gone. */
  async kill9(): Promise<void> {
    const child = this.daemon;
    const pid = this.daemonPid;
    if (child === undefined || pid === undefined) throw new Error(`${this.name}: no shoald running to kill`);
    const gone = new Promise<void>((r) => child.once('exit', () => r()));
    process.kill(pid, 'SIGKILL');
    await gone;
  }

  /** Starts shoald again with the arguments of its last start. */
  restart(): Promise<void> {
    return this.startDaemon(this.daemonArgs, { main: this.daemonMainOverride });
  }

  /** Synchronous SIGKILL of shoald (teardown). */
  killDaemonSync(): void {
    const pid = this.daemonPid;
    if (pid !== undefined) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }

  /** The last `lines` lines of this host's shoald log. */
  logTail(lines: number): string {
    try {
      const all = fs.readFileSync(this.logFile, 'utf8').split('\n');
      return all.slice(-lines).map((l) => `  [${this.name}] ${l}`).join('\n');
    } catch {
      return `  [${this.name}] (no log)`;
    }
  }

  /** Runs the shoal CLI against this host's socket, as a user on that host would. */
  cli(...args: string[]): Promise<RunResult> {
    return run(process.execPath, [cliMain, '-H', `unix://${this.socketPath}`, ...args], { timeoutMs: 120_000 });
  }

  /** Like cli but throws, with the command and its output, unless it exits 0; returns stdout. */
  async cliOk(...args: string[]): Promise<string> {
    const r = await this.cli(...args);
    if (r.code !== 0) throw new Error(`${this.name}: shoal ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    return r.stdout;
  }

  /** One request to the local API over the unix socket. */
  api(method: string, urlPath: string, body?: unknown, opts: { contentType?: string; timeoutMs?: number } = {}): Promise<ApiResult> {
    const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = http.request({
        socketPath: this.socketPath, method, path: urlPath,
        headers: payload === undefined ? {} : { 'content-type': opts.contentType ?? 'application/json', 'content-length': payload.length },
        timeout: opts.timeoutMs ?? 60_000,
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try { json = JSON.parse(text); } catch { json = undefined; }
          resolve({ status: res.statusCode ?? 0, text, json });
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`${this.name}: ${method} ${urlPath} timed out`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** Like api but throws unless the status is 2xx; returns the parsed body. */
  async apiOk<T = unknown>(method: string, urlPath: string, body?: unknown, opts?: { contentType?: string; timeoutMs?: number }): Promise<T> {
    const r = await this.api(method, urlPath, body, opts);
    if (r.status < 200 || r.status > 299) throw new Error(`${this.name}: ${method} ${urlPath} -> ${r.status} ${r.text}`);
    return r.json as T;
  }

  // ---- faults ------------------------------------------------------------------------------

  /** Cuts the host off: its link goes down, so nothing reaches it and it reaches nothing. */
  async cut(): Promise<void> {
    await must('ip', ['-n', this.ns, 'link', 'set', 'eth0', 'down']);
  }

  /**
   * Drops the host's packets with iptables inside its namespace: to and from the whole test
   * subnet (`both`), or one way only; `peer` narrows the rule to one other host's address.
   */
  async drop(direction: DropDirection, peer?: Host): Promise<void> {
    const other = peer?.ip ?? this.subnet;
    const rules: string[][] = [];
    // A cut-off machine still talks to itself: its own address is reached over lo, which stays open.
    if (direction !== 'out') rules.push(['INPUT', '!', '-i', 'lo', '-s', other, '-j', 'DROP']);
    if (direction !== 'in') rules.push(['OUTPUT', '!', '-o', 'lo', '-d', other, '-j', 'DROP']);
    for (const r of rules) {
      const spec = [...r.slice(0, 1), '-m', 'comment', '--comment', 'shltst', ...r.slice(1)];
      await must(this.nsPrefix()[0], [...this.nsPrefix().slice(1), 'iptables', '-w', '-I', ...spec]);
      this.dropRules.push(spec);
    }
  }

  /**
   * Degrades the host's outgoing traffic with tc netem (delay and/or loss). On a kernel without
   * sch_netem, loss is applied with iptables' statistic match and a delay is refused; `rateKbit`
   * (tbf) is the way to slow a link there.
   */
  async impair(imp: Impairment): Promise<void> {
    const hasNetem = await this.netemAvailable();
    if (hasNetem && (imp.delayMs !== undefined || imp.lossPercent !== undefined)) {
      const args = ['-n', this.ns, 'qdisc', 'replace', 'dev', 'eth0', 'root', 'netem'];
      if (imp.delayMs !== undefined) args.push('delay', `${imp.delayMs}ms`);
      if (imp.lossPercent !== undefined) args.push('loss', `${imp.lossPercent}%`);
      if (imp.rateKbit !== undefined) args.push('rate', `${imp.rateKbit}kbit`);
      await must('tc', args);
      return;
    }
    if (imp.delayMs !== undefined) throw new Error(`${this.name}: this kernel has no sch_netem (CONFIG_NET_SCH_NETEM), so a fixed delay cannot be added; use rateKbit`);
    if (imp.rateKbit !== undefined) {
      await must('tc', ['-n', this.ns, 'qdisc', 'replace', 'dev', 'eth0', 'root', 'tbf', 'rate', `${imp.rateKbit}kbit`, 'burst', '1600', 'latency', '5s']);
    }
    if (imp.lossPercent !== undefined) {
      const spec = ['OUTPUT', '-m', 'comment', '--comment', 'shltst', '!', '-o', 'lo', '-d', this.subnet, '-m', 'statistic', '--mode', 'random', '--probability', String(imp.lossPercent / 100), '-j', 'DROP'];
      await must(this.nsPrefix()[0], [...this.nsPrefix().slice(1), 'iptables', '-w', '-I', ...spec]);
      this.iptablesLoss = spec;
    }
  }

  /** Undoes every fault: link up, drop and loss rules removed, qdisc back to the default. */
  async heal(): Promise<void> {
    await must('ip', ['-n', this.ns, 'link', 'set', 'eth0', 'up']);
    const rules = [...this.dropRules, ...(this.iptablesLoss ? [this.iptablesLoss] : [])];
    for (const spec of rules) await must(this.nsPrefix()[0], [...this.nsPrefix().slice(1), 'iptables', '-w', '-D', ...spec]);
    this.dropRules.length = 0;
    this.iptablesLoss = undefined;
    await run('tc', ['-n', this.ns, 'qdisc', 'del', 'dev', 'eth0', 'root']);
  }

  /** Whether the kernel has sch_netem (probed once, on this host's loopback). */
  private async netemAvailable(): Promise<boolean> {
    if (Host.netemChecked === undefined) {
      const r = await run('tc', ['-n', this.ns, 'qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '1ms']);
      Host.netemChecked = r.code === 0;
      if (r.code === 0) trySync('tc', ['-n', this.ns, 'qdisc', 'del', 'dev', 'lo', 'root']);
    }
    return Host.netemChecked;
  }
}
