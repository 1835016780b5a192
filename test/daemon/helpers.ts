// Test harness: shoald daemons in this process, each with its own data root, cgroup parent and
// loopback port; cleanup removes every container, the shim servers, cgroups and temp dirs.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { DaemonConfig } from '../../src/daemon/config';
import { Daemon, type DaemonLogger } from '../../src/daemon/daemon';
import { detectCgroupLayout } from '../../src/runtime/cgroups';
import { ContainerRuntime } from '../../src/runtime/container-runtime';
import { TaskState, type Task } from '../../src/types/objects';
import { buildBusyboxImage } from '../runtime/fixtures/busybox-image';
import { requireRoot } from '../runtime/helpers';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls until cond() returns a truthy value; fails naming what it waited for. */
export async function waitFor<T>(cond: () => T | Promise<T>, what: string, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await cond();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}${last === undefined ? '' : ` (last error: ${last instanceof Error ? last.message : JSON.stringify(last)})`}`);
    await sleep(50);
  }
}

/** A free TCP port on loopback (bound and released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** A logger that keeps what it is told (printed when SHOAL_TEST_LOG is set). */
export function testLogger(name: string): DaemonLogger & { lines: string[] } {
  const lines: string[] = [];
  const put = (level: string) => (obj: object | string, msg?: string): void => {
    const line = `${name} ${level} ${typeof obj === 'string' ? obj : `${msg ?? ''} ${JSON.stringify(obj)}`}`;
    lines.push(line);
    if (process.env.SHOAL_TEST_LOG) console.log(line);
  };
  return { lines, info: put('info'), warn: put('warn'), error: put('error'), debug: put('debug') };
}

/** One daemon of a test, restartable on the same data root. */
export interface TestDaemon {
  readonly name: string;
  readonly dataRoot: string;
  readonly cgroupParent: string;
  readonly port: number;
  readonly addr: string;
  daemon: Daemon;
  readonly logger: DaemonLogger & { lines: string[] };
  restart(): Promise<void>;
}

let image: { dir: string; tarball: string; reference: string } | undefined;

/** The test image (busybox from Debian's busybox-static), built once per process. */
export async function busyboxImage(): Promise<{ tarball: string; reference: string }> {
  if (image === undefined) {
    image = await buildBusyboxImage();
    const dir = image.dir;
    process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  }
  return image;
}

/** Daemons of one test; always call destroy() (after each test). */
export class DaemonSet {
  readonly all: TestDaemon[] = [];

  constructor(private readonly tag: string) {
    requireRoot();
  }

  /** Starts a daemon on a fresh data root with the busybox image loaded. */
  async start(name: string, opts: { eventsNats?: string } = {}): Promise<TestDaemon> {
    const dataRoot = fs.mkdtempSync(path.join(os.tmpdir(), `shoal-d-${name}-`));
    const cgroupParent = `shoal-test-daemon-${this.tag}-${name}-${process.pid}`;
    const port = await freePort();
    const logger = testLogger(name);
    const cfg: DaemonConfig = {
      dataRoot, socketPath: path.join(dataRoot, 'shoal.sock'), runRoot: dataRoot, listenAddr: `127.0.0.1:${port}`, advertiseAddr: '',
      metricsAddr: '', logLevel: 'debug', eventsNats: opts.eventsNats ?? '', labels: {},
    };
    const open = (): Promise<Daemon> => Daemon.start(cfg, {
      logger, tuning: { hostname: name, cgroupParent, taskNetwork: 'none', raft: { heartbeatMs: 50, electionTimeoutMs: 500 } },
    });
    const td: TestDaemon = {
      name, dataRoot, cgroupParent, port, addr: `127.0.0.1:${port}`, logger,
      daemon: undefined as unknown as Daemon,
      restart: async () => {
        await td.daemon.stop();
        td.daemon = await open();
      },
    };
    this.all.push(td);
    td.daemon = await open();
    const img = await busyboxImage();
    await td.daemon.backend.containers.loadImages(img.tarball);
    return td;
  }

  /** Stops every daemon, removes every container it left, its shim server, cgroups and data root. */
  async destroy(): Promise<string[]> {
    const problems: string[] = [];
    for (const td of this.all) {
      await td.daemon?.stop().catch((err: unknown) => problems.push(`${td.name}: stop: ${String(err)}`));
    }
    for (const td of this.all) {
      try {
        const rt = await ContainerRuntime.open({ root: td.dataRoot, cgroupParent: td.cgroupParent, pollMs: 20 });
        for (const c of rt.list()) await rt.remove(c.id, { force: true }).catch((err: unknown) => problems.push(`${td.name}: remove ${c.id}: ${String(err)}`));
        await rt.settle();
        rt.close({ stopShimServer: true });
      } catch (err) {
        problems.push(`${td.name}: cleanup runtime: ${String(err)}`);
      }
      const layout = detectCgroupLayout();
      const ctrls = layout.version === 1 ? ['memory', 'cpu', 'cpuacct', 'pids', 'devices'] : [''];
      for (const c of ctrls) {
        try { fs.rmdirSync(path.join(layout.root, c, td.cgroupParent)); } catch { /* gone or never made */ }
      }
      fs.rmSync(td.dataRoot, { recursive: true, force: true });
    }
    this.all.length = 0;
    return problems;
  }
}

/** Tasks of a service that run (desired and actual state RUNNING). */
export function runningTasks(tasks: readonly Task[]): Task[] {
  return tasks.filter((t) => t.desiredState === TaskState.RUNNING && t.status.state === TaskState.RUNNING);
}

/** Containers of service tasks running on a daemon's host. */
export async function runningTaskContainers(td: TestDaemon): Promise<string[]> {
  return (await td.daemon.backend.containers.listContainers()).filter((c) => c.status === 'running' && c.name.startsWith('shoal-task-')).map((c) => c.name);
}
