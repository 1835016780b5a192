import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BridgeNetwork } from '../../src/runtime/bridge-network';
import { detectCgroupLayout } from '../../src/runtime/cgroups';

/** The built CLI, run as users run it. */
export const cliMain = path.resolve(__dirname, '../../src/cli/main.js');

/** What one CLI invocation did. */
export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A private data root, cgroup parent and bridge for one test file, so that nothing touches the host's shoal. */
export class CliEnv {
  readonly root = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-cli-'));
  readonly cgroupParent: string;
  readonly bridgeName: string;
  readonly bridgeSubnet: string;

  /** `slot` (0-9) keeps the environments of several test files apart. */
  constructor(slot: number) {
    this.cgroupParent = `shoal-test-cli${slot}-${process.pid}`;
    this.bridgeName = `shtc${slot}${process.pid % 100000}`;
    this.bridgeSubnet = `10.233.${(process.pid % 25) * 10 + slot}.0/24`;
  }

  get globalFlags(): string[] {
    return ['--data-root', this.root, '--cgroup-parent', this.cgroupParent, '--bridge', this.bridgeName, '--bridge-subnet', this.bridgeSubnet, '--ip-forward', 'false'];
  }

  /** Starts the CLI; the caller may signal it and must await `done`. */
  start(args: string[], opts: { stdinFile?: string; timeoutMs?: number } = {}): { pid: number; done: Promise<CliResult>; stdoutSoFar(): string } {
    const child = spawn(process.execPath, [cliMain, ...this.globalFlags, ...args], { stdio: [opts.stdinFile === undefined ? 'ignore' : fs.openSync(opts.stdinFile, 'r'), 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    const done = new Promise<CliResult>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }); });
    });
    return { pid: child.pid!, done, stdoutSoFar: () => stdout };
  }

  /** Runs the CLI to its end. */
  run(...args: string[]): Promise<CliResult> {
    return this.start(args).done;
  }

  /** Removes every container, the shim server, the cgroup parent, the bridge and the data root. */
  async cleanup(): Promise<void> {
    const ids = (await this.run('ps', '-a', '-q', '--no-trunc')).stdout.split('\n').filter((l) => l !== '');
    if (ids.length > 0) await this.run('rm', '-f', ...ids);
    this.stopShimServer();
    const layout = detectCgroupLayout();
    for (const c of layout.version === 1 ? ['memory', 'cpu', 'cpuacct', 'pids', 'devices'] : ['']) {
      try { fs.rmdirSync(path.join(layout.root, c, this.cgroupParent)); } catch { /* gone or never made */ }
    }
    await new BridgeNetwork({ name: this.bridgeName, subnet: this.bridgeSubnet, enableForwarding: false }).destroy();
    fs.rmSync(this.root, { recursive: true, force: true });
  }

  /** The per-node shim server outlives every CLI process by design; tests end it themselves. */
  stopShimServer(): void {
    const pidFile = path.join(this.root, 'shim.sock.pid');
    try {
      const pid = Number(fs.readFileSync(pidFile, 'utf8'));
      if (fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(this.root)) process.kill(pid, 'SIGTERM');
    } catch {
      /* not running */
    }
  }
}
