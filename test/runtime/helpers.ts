import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BridgeNetwork } from '../../src/runtime/bridge-network';
import { ContainerRuntime, RuntimeOptions } from '../../src/runtime/container-runtime';
import { ContainerConfig } from '../../src/runtime/container-config';
import { ContainerState } from '../../src/runtime/container-state';
import { detectCgroupLayout } from '../../src/runtime/cgroups';

/** Fails the suite at once, with a clear message, when not run as root. */
export function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new Error('runtime tests need root (namespaces, cgroups, mounts): run them as root');
}

let layer: string | undefined;

/**
 * A one-layer busybox root filesystem built from Debian's busybox-static: /bin/busybox and a
 * symlink per applet, plus /etc/passwd and /etc/group. Built once per process, removed at exit.
 */
export function busyboxLayer(): string {
  if (layer) return layer;
  const bb = '/bin/busybox';
  if (!fs.existsSync(bb)) throw new Error('busybox not found at /bin/busybox: install the busybox-static package');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-busybox-'));
  fs.mkdirSync(path.join(dir, 'bin'));
  fs.copyFileSync(bb, path.join(dir, 'bin', 'busybox'));
  fs.chmodSync(path.join(dir, 'bin', 'busybox'), 0o755);
  const applets = execFileSync(bb, ['--list'], { encoding: 'utf8' }).split('\n').filter((a) => a !== '' && a !== 'busybox');
  for (const a of applets) fs.symlinkSync('busybox', path.join(dir, 'bin', a));
  for (const d of ['etc', 'tmp', 'root', 'proc', 'sys', 'dev']) fs.mkdirSync(path.join(dir, d));
  fs.chmodSync(path.join(dir, 'tmp'), 0o1777);
  fs.writeFileSync(path.join(dir, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
  fs.writeFileSync(path.join(dir, 'etc', 'group'), 'root:x:0:\nusers:x:100:nobody\nnogroup:x:65534:\n');
  layer = dir;
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

let udpLayer: string | undefined;

/** A second layer holding /bin/udp-recv, compiled from fixtures/udp-recv.c (busybox has no UDP server). */
export function udpRecvLayer(): string {
  if (udpLayer) return udpLayer;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-udp-layer-'));
  fs.mkdirSync(path.join(dir, 'bin'));
  const src = path.resolve(__dirname, '../../../test/runtime/fixtures/udp-recv.c');
  execFileSync('cc', ['-static', '-O2', '-o', path.join(dir, 'bin', 'udp-recv'), src]);
  udpLayer = dir;
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Kills what runs in a cgroup directory and below, then removes it, deepest first; gone already is fine. */
function removeCgroupTree(dir: string): void {
  let children: fs.Dirent[];
  try {
    children = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return; // gone or never made
  }
  for (const e of children) if (e.isDirectory()) removeCgroupTree(path.join(dir, e.name));
  const pids = (): number[] => {
    try {
      return fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter((l) => l !== '').map(Number);
    } catch {
      return [];
    }
  };
  for (const pid of pids()) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* exited */ }
  }
  // A killed process leaves its cgroup a moment later: retry for up to a second.
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < 100; i++) {
    try {
      fs.rmdirSync(dir);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      Atomics.wait(pause, 0, 0, 10);
    }
  }
}

/** A fresh data root and cgroup parent for one test file. */
export interface TestEnv {
  root: string;
  cgroupParent: string;
  open(extra?: Partial<RuntimeOptions>): Promise<ContainerRuntime>;
  cleanup(): void;
}

export function testEnv(tag: string): TestEnv {
  requireRoot();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `shoal-rt-${tag}-`));
  const cgroupParent = `shoal-test-${tag}-${process.pid}`;
  return {
    root,
    cgroupParent,
    open: (extra) => ContainerRuntime.open({ root, cgroupParent, pollMs: 20, ...extra }),
    cleanup: () => {
      const layout = detectCgroupLayout();
      const ctrls = layout.version === 1 ? ['memory', 'cpu', 'cpuacct', 'pids', 'devices'] : [''];
      // The whole tree: a test that failed half-way may have left a container's cgroup (and its
      // processes) under the parent, and then the parent alone cannot be removed.
      for (const c of ctrls) removeCgroupTree(path.join(layout.root, c, cgroupParent));
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Creates, starts and waits for a container; returns its final state and its output lines. */
export async function runToEnd(rt: ContainerRuntime, config: ContainerConfig): Promise<{ state: ContainerState; out: string[]; err: string[]; id: string }> {
  const id = await rt.create({ layerDirs: [busyboxLayer()], config: { network: 'none', ...config } });
  await rt.start(id);
  const state = await rt.wait(id);
  const { out, err } = await output(rt, id);
  return { state, out, err, id };
}

/** A container's stdout and stderr lines. */
export async function output(rt: ContainerRuntime, id: string): Promise<{ out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  for await (const e of rt.logs(id)) (e.stream === 'stdout' ? out : err).push(e.line);
  return { out, err };
}

/** What a runtime could leave on the host: mounts, cgroups, shim processes under this data root. */
export function leftovers(env: TestEnv): string[] {
  const found: string[] = [];
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    if (line.includes(env.root)) found.push(`mount: ${line}`);
  }
  const layout = detectCgroupLayout();
  const ctrls = layout.version === 1 ? ['memory', 'cpu', 'cpuacct', 'pids', 'devices'] : [''];
  for (const c of ctrls) {
    const d = path.join(layout.root, c, env.cgroupParent);
    if (!fs.existsSync(d)) continue;
    for (const e of fs.readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) found.push(`cgroup: ${path.join(d, e.name)}`);
  }
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.includes('shoal-shim') && cmd.includes(env.root)) found.push(`process ${pid}: ${cmd.replace(/\0/g, ' ')}`);
    } catch { /* gone */ }
  }
  for (const sub of ['containers', 'trash']) {
    const d = path.join(env.root, sub);
    if (fs.existsSync(d) && fs.readdirSync(d).length > 0) found.push(`${sub}: ${fs.readdirSync(d).join(', ')}`);
  }
  return found;
}

/** Resolves once the container has printed this line; throws if it ends first. */
export async function waitForLine(rt: ContainerRuntime, id: string, line: string): Promise<void> {
  for await (const e of rt.logs(id, { follow: true, pollMs: 10 })) if (e.line === line) return;
  throw new Error(`container ended before printing ${line}`);
}

/** A runtime whose containers join a test bridge of its own (see bridgeRuntime). */
export interface BridgeRuntime {
  env: TestEnv;
  bridge: BridgeNetwork;
  /** The runtime in use: a test that reopens the runtime sets it here, for close(). */
  rt: ContainerRuntime;
  /** Removes every container, stops the shim server, destroys the bridge and removes the data root. */
  close(): Promise<void>;
}

/** Opens a runtime in a fresh test env with a bridge `name` on `subnet` (both private to the test). */
export async function bridgeRuntime(tag: string, name: string, subnet: string): Promise<BridgeRuntime> {
  const env = testEnv(tag);
  const bridge = new BridgeNetwork({ name, subnet });
  let out: BridgeRuntime | undefined;
  const close = async (): Promise<void> => {
    const rt = out?.rt;
    try {
      if (rt !== undefined) {
        for (const c of rt.list()) await rt.remove(c.id, { force: true });
        await rt.settle();
      }
    } finally {
      // Even when a removal failed: the bridge, its rules and the data root go.
      rt?.close({ stopShimServer: true });
      await bridge.destroy();
      env.cleanup();
    }
  };
  try {
    await bridge.setup();
    out = { env, bridge, rt: await env.open({ network: bridge }), close };
  } catch (err) {
    await close();
    throw err;
  }
  return out;
}
