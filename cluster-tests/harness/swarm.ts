import * as fs from 'node:fs';
import * as path from 'node:path';
import { busyboxRootfsTar, imageArchive, busyboxRunConfig } from '../../test/runtime/fixtures/busybox-image';
import { waitFor } from './exec';
import { Host } from './host';
import { TestRun } from './test-run';

// What the scenarios read from shoald: the Docker Engine API v1.41 shapes of nodes, services
// and tasks, as `docker node ls` / `service ps` read them. Only the fields the tests look at.

/** A node as GET /nodes returns it. */
export interface DNode {
  ID: string;
  Version: { Index: number };
  Spec: { Role: 'manager' | 'worker'; Availability: 'active' | 'pause' | 'drain'; Name?: string };
  Description?: { Hostname?: string };
  Status: { State: string; Addr?: string; Message?: string };
  ManagerStatus?: { Leader?: boolean; Reachability: string; Addr: string };
}

/** A service as GET /services returns it. */
export interface DService {
  ID: string;
  Version: { Index: number };
  Spec: {
    Name: string;
    Mode?: { Replicated?: { Replicas?: number }; Global?: object };
    TaskTemplate: { ContainerSpec: { Image: string; Args?: string[]; Command?: string[] } };
  };
  PreviousSpec?: DService['Spec'];
  UpdateStatus?: { State?: string; Message?: string };
}

/** A task as GET /tasks returns it. */
export interface DTask {
  ID: string;
  ServiceID: string;
  NodeID?: string;
  Slot?: number;
  DesiredState: string;
  CreatedAt?: string;
  Status: { State: string; Timestamp?: string; Message?: string; Err?: string; ContainerStatus?: { ContainerID?: string; ExitCode?: number } };
  Spec: { ContainerSpec: { Image: string } };
}

/** The busybox image every host loads, and variants for updates and failures. */
export const images = {
  busybox: 'busybox:latest',
  busyboxV2: 'busybox:v2',
  /** Its entrypoint is /bin/false: every task of it exits 1 at once. */
  failing: 'failer:latest',
};

/** A command that ends at once on SIGTERM (a PID 1 sleep would ignore it and wait out the stop grace). */
export const quickStop = ['sh', '-c', "trap 'exit 0' TERM; while true; do sleep 1; done"];

/** Writes the test image tarballs into `dir` (one busybox layer; three references). */
export async function writeImages(dir: string): Promise<string[]> {
  fs.mkdirSync(dir, { recursive: true });
  const layer = await busyboxRootfsTar();
  const out: string[] = [];
  const specs = [
    { reference: images.busybox, runConfig: busyboxRunConfig },
    { reference: images.busyboxV2, runConfig: busyboxRunConfig },
    { reference: images.failing, runConfig: { ...busyboxRunConfig, Entrypoint: ['/bin/false'], Cmd: [] } },
  ];
  for (const s of specs) {
    const file = path.join(dir, `${s.reference.replace(/[:/]/g, '_')}.tar`);
    fs.writeFileSync(file, imageArchive({ layers: [layer], reference: s.reference, runConfig: s.runConfig }, 'docker-legacy'));
    out.push(file);
  }
  return out;
}

/** Loads image tarballs into a host through its local API (POST /images/load, as `docker load`). */
export async function loadImages(h: Host, tarballs: readonly string[]): Promise<void> {
  for (const t of tarballs) {
    const r = await h.api('POST', '/images/load?quiet=1', fs.readFileSync(t), { contentType: 'application/x-tar', timeoutMs: 120_000 });
    if (r.status !== 200) throw new Error(`${h.name}: POST /images/load ${path.basename(t)} -> ${r.status} ${r.text}`);
  }
}

/** A swarm formed over a run's hosts: which are managers, which workers, and node ids by host. */
export class Swarm {
  readonly nodeIdOf = new Map<string, string>();

  constructor(readonly run: TestRun, readonly managers: Host[], readonly workers: Host[], readonly tarballs: string[]) {}

  get hosts(): Host[] {
    return [...this.managers, ...this.workers];
  }

  /** The host a node id belongs to (by the ids learned at join, then by hostname). */
  hostOfNode(nodeId: string | undefined): Host | undefined {
    for (const [name, id] of this.nodeIdOf) if (id === nodeId) return this.run.hosts.find((h) => h.name === name);
    return undefined;
  }

  /** A manager whose shoald is up, preferring `prefer` (queries go to it). */
  anyManager(prefer?: Host): Host {
    if (prefer?.daemonPid !== undefined) return prefer;
    const m = this.managers.find((h) => h.daemonPid !== undefined);
    if (m === undefined) throw new Error('no manager is running');
    return m;
  }

  /**
   * A read through `via`, or when none is named through the first running manager that answers
   * (as a user would ask another manager when one has no leader to forward to).
   */
  private async read<T>(urlPath: string, via?: Host): Promise<T> {
    if (via !== undefined) return via.apiOk<T>('GET', urlPath);
    let last: unknown;
    for (const m of this.managers.filter((h) => h.daemonPid !== undefined)) {
      try {
        return await m.apiOk<T>('GET', urlPath);
      } catch (e) {
        last = e;
      }
    }
    throw last instanceof Error ? last : new Error('no manager is running');
  }

  async nodes(via?: Host): Promise<DNode[]> {
    return this.read<DNode[]>('/nodes', via);
  }

  async services(via?: Host): Promise<DService[]> {
    return this.read<DService[]>('/services', via);
  }

  async service(name: string, via?: Host): Promise<DService> {
    return this.read<DService>(`/services/${encodeURIComponent(name)}`, via);
  }

  /** All tasks of one service (by name). */
  async tasks(serviceName: string, via?: Host): Promise<DTask[]> {
    const s = await this.service(serviceName, via);
    const all = await this.read<DTask[]>(`/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [s.ID] }))}`, via);
    return all.filter((t) => t.ServiceID === s.ID);
  }

  /** Waits until exactly `n` tasks of the service run (desired and actual state running); returns them. */
  async converged(serviceName: string, n: number, opts: { timeoutMs?: number; via?: Host; where?: (t: DTask) => boolean } = {}): Promise<DTask[]> {
    let last: DTask[] = [];
    let all: DTask[] = [];
    return waitFor(`${n} running tasks of ${serviceName}`, async () => {
      all = await this.tasks(serviceName, opts.via);
      last = running(all);
      if (opts.where) last = last.filter(opts.where);
      return last.length === n ? last : undefined;
    }, { timeoutMs: opts.timeoutMs ?? 120_000, everyMs: 250, last: () => `${last.length} running: ${JSON.stringify(this.perHost(last))}; others meant to run: ${this.describe(all.filter((tk) => tk.DesiredState === 'running' && !last.includes(tk)))}` });
  }

  /** Tasks summarised as host/state/error with counts, for failure messages. */
  describe(tasks: readonly DTask[]): string {
    const counts = new Map<string, number>();
    for (const tk of tasks) {
      const k = `${this.hostOfNode(tk.NodeID)?.name ?? tk.NodeID ?? '-'} ${tk.Status.State}${tk.Status.Err ? ` (${tk.Status.Err})` : tk.Status.Message ? ` (${tk.Status.Message})` : ''}`;
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    return [...counts].map(([k, c]) => `${c}x ${k}`).join('; ') || 'none';
  }

  /** Running tasks counted by host name. */
  perHost(tasks: readonly DTask[]): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const h of this.hosts) counts[h.name] = 0;
    for (const t of tasks) {
      const name = this.hostOfNode(t.NodeID)?.name ?? `node:${t.NodeID}`;
      counts[name] = (counts[name] ?? 0) + 1;
    }
    return counts;
  }

  /** The current leader's node, as the given manager sees it (undefined when none is known). */
  async leader(via?: Host): Promise<DNode | undefined> {
    const ns = await this.nodes(via);
    return ns.find((n) => n.ManagerStatus?.Leader === true);
  }

  /** The host of the current leader. */
  async leaderHost(): Promise<Host> {
    const l = await this.leader();
    const h = this.hostOfNode(l?.ID);
    if (h === undefined) throw new Error(`no leader known (${JSON.stringify(l?.ID)})`);
    return h;
  }

  /** Learns node ids by hostname (each host's shoald runs with hostname = host name). */
  async learnNodeIds(): Promise<void> {
    for (const n of await this.nodes()) {
      const name = n.Description?.Hostname;
      if (name !== undefined && this.run.hosts.some((h) => h.name === name)) this.nodeIdOf.set(name, n.ID);
    }
  }

  /** Joins one more host (shoald already started, images loaded) with the given role's token. */
  async join(h: Host, role: 'manager' | 'worker'): Promise<void> {
    const leaderHost = this.managers[0].daemonPid !== undefined ? this.managers[0] : this.anyManager();
    const token = (await leaderHost.cliOk('swarm', 'join-token', '-q', role)).trim();
    await h.cliOk('swarm', 'join', '--token', token, '--advertise-addr', h.ip, '--listen-addr', h.addr, leaderHost.addr);
    (role === 'manager' ? this.managers : this.workers).push(h);
    const info = await h.apiOk<{ Swarm: { NodeID: string } }>('GET', '/info');
    this.nodeIdOf.set(h.name, info.Swarm.NodeID);
  }
}

/** Tasks that run and are meant to. */
export function running(tasks: readonly DTask[]): DTask[] {
  return tasks.filter((t) => t.DesiredState === 'running' && t.Status.State === 'running');
}

/**
 * Starts shoald on every host, loads the images, `swarm init` on the first, and joins the other
 * managers and then the workers with their tokens through the CLI, as a user would.
 */
export async function formSwarm(run: TestRun, managers: number, workers: number): Promise<Swarm> {
  try {
    return await formSwarmSteps(run, managers, workers);
  } catch (e) {
    // The hosts' logs go with the run's directory at teardown: show them with the failure.
    if (e instanceof Error) e.message += `\n${run.logs(60)}`;
    throw e;
  }
}

async function formSwarmSteps(run: TestRun, managers: number, workers: number): Promise<Swarm> {
  if (run.hosts.length < managers + workers) throw new Error(`the run has ${run.hosts.length} hosts, ${managers + workers} wanted`);
  const tarballs = await writeImages(path.join(run.dir, 'images'));
  const hosts = run.hosts.slice(0, managers + workers);
  await Promise.all(hosts.map(async (h) => {
    await h.startDaemon();
    await loadImages(h, tarballs);
  }));
  const first = hosts[0];
  await first.cliOk('swarm', 'init', '--advertise-addr', first.ip, '--listen-addr', first.addr);
  const s = new Swarm(run, [first], [], tarballs);
  s.nodeIdOf.set(first.name, (await first.apiOk<{ Swarm: { NodeID: string } }>('GET', '/info')).Swarm.NodeID);
  for (const h of hosts.slice(1, managers)) await s.join(h, 'manager');
  for (const h of hosts.slice(managers)) await s.join(h, 'worker');
  return s;
}

/** Starts one more host's shoald with the images loaded (for a node that joins later). */
export async function prepareHost(s: Swarm, h: Host): Promise<void> {
  await h.startDaemon();
  await loadImages(h, s.tarballs);
}
