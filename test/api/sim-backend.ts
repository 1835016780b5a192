import * as crypto from 'node:crypto';
import type { ApiBackend, ControlOps, EngineInfo, EventStreamOptions, LocalSwarmState, ServiceLogLine, ServiceLogOptions, SwarmInitRequest, SwarmJoinRequest } from '../../src/api/backend';
import type { Backend as ContainerBackend } from '../../src/api/container-backend';
import { attachStore, EventBus } from '../../src/events/bus';
import type { ShoalEvent } from '../../src/events/event';
import { ControlApi } from '../../src/manager/controlapi/control-api';
import { FailedPreconditionError, ShoalError, UnavailableError } from '../../src/types/errors';
import { TaskState, type Node, type NodeSpec } from '../../src/types/objects';
import { Harness } from '../manager/sim/harness';

/** ControlOps as shoald's leader serves them: the real ControlApi on the leader's store, spec JSON in between. */
export class SimControlOps implements ControlOps {
  constructor(private readonly h: Harness) {}

  private api(): ControlApi {
    return new ControlApi(this.h.store(), this.h.clock, this.h.random, (role) => `SWMTKN-1-${role}-${crypto.randomBytes(12).toString('hex')}`);
  }

  private sync<T>(fn: () => T): Promise<T> {
    return new Promise((resolve) => resolve(fn()));
  }

  createService: ControlOps['createService'] = (spec) => this.api().createService(JSON.stringify(spec));
  getService: ControlOps['getService'] = (id) => this.sync(() => this.api().getService(id));
  listServices: ControlOps['listServices'] = (f) => this.sync(() => this.api().listServices({ ...f }));
  updateService: ControlOps['updateService'] = (id, version, spec, rollback) => this.api().updateService(id, version, spec === null ? '' : JSON.stringify(spec), rollback);
  removeService: ControlOps['removeService'] = (id) => this.api().removeService(id);
  getTask: ControlOps['getTask'] = (id) => this.sync(() => this.api().getTask(id));
  listTasks: ControlOps['listTasks'] = (f) => this.sync(() => this.api().listTasks({ ...f }));
  getNode: ControlOps['getNode'] = (id) => this.sync(() => this.api().getNode(id));
  listNodes: ControlOps['listNodes'] = (f) => this.sync(() => this.api().listNodes({ ...f }));
  updateNode = (id: string, version: number, spec: Partial<NodeSpec>): Promise<Node> =>
    this.api().updateNode(id, version, { availability: spec.availability ?? '', role: spec.role ?? '', labelsJson: spec.labels === undefined ? '' : JSON.stringify(spec.labels) });
  removeNode: ControlOps['removeNode'] = (id, force) => this.api().removeNode(id, force);
  getCluster: ControlOps['getCluster'] = () => this.sync(() => this.api().getCluster());
  updateCluster: ControlOps['updateCluster'] = (version, spec, rotate) => this.api().updateCluster(version, spec === null ? '' : JSON.stringify(spec), rotate.worker, rotate.manager);
}

/** Containers are not part of these tests: every call says so. */
export const noContainers: ContainerBackend = new Proxy({} as ContainerBackend, {
  get: (_t, prop) => (prop === 'close' ? () => undefined : () => Promise.reject(new UnavailableError(`containers are not served by this test backend (${String(prop)})`))),
});

/**
 * An ApiBackend over a whole simulated control plane: 3 managers on simulated Raft with the real
 * store, leader loops and ControlApi, simulated agents, and the real event bus on the leader's store.
 * The simulated clock is pumped (10 ms per real ms) while the backend is open.
 */
export class SimApiBackend implements ApiBackend {
  readonly bus = new EventBus();
  readonly ops: SimControlOps;
  role: 'manager' | 'worker' = 'manager';
  private state: LocalSwarmState['state'] = 'inactive';
  private self: Node | undefined;
  private readonly pump: NodeJS.Timeout;
  private readonly detach: () => void;
  /** Log lines each running task "prints" (the sim agents run no containers). */
  logLines = 2;

  private constructor(readonly h: Harness, readonly containers: ContainerBackend) {
    this.ops = new SimControlOps(h);
    this.pump = setInterval(() => h.clock.advance(10), 1);
    this.detach = attachStore(this.bus, h.store());
  }

  static async create(seed: number, containers: ContainerBackend = noContainers): Promise<SimApiBackend> {
    return new SimApiBackend(await Harness.create(seed), containers);
  }

  close(): void {
    clearInterval(this.pump);
    this.detach();
    this.h.close();
  }

  engine(): Promise<EngineInfo> {
    return Promise.resolve({
      version: '0.1.0-test', hostname: 'sim-host', os: 'linux', kernelVersion: '6.1.0', architecture: 'x86_64', ncpu: 4, memTotal: 8 * 2 ** 30,
      dataRoot: '/var/lib/shoal', containersRunning: 0, containersStopped: 0, images: 0, cgroupVersion: '2',
    });
  }

  swarmState(): LocalSwarmState {
    return {
      state: this.state, nodeId: this.self?.id ?? '', nodeAddr: this.state === 'inactive' ? '' : '10.0.0.1', clusterId: this.state === 'inactive' ? '' : this.h.store().view.cluster()?.id ?? '',
      controlAvailable: this.state === 'active' && this.role === 'manager', error: '',
      remoteManagers: this.self === undefined ? [] : [{ nodeId: this.self.id, addr: '10.0.0.1:2377' }],
    };
  }

  /** The last swarm init request, as the API passed it on. */
  lastInit: SwarmInitRequest | undefined;

  async swarmInit(req: SwarmInitRequest): Promise<string> {
    this.lastInit = req;
    if (this.state !== 'inactive') throw new FailedPreconditionError('this node is already part of a swarm');
    this.self = await this.h.addNode({ role: 'manager', hostname: 'sim-manager' });
    // The manager's own Raft membership, as the daemon records it on its node.
    const n = this.h.store().view.get('node', this.self.id)!;
    await this.h.store().write([{ op: 'update', target: { kind: 'node', object: { ...n, status: { ...n.status, addr: '10.0.0.1' }, managerStatus: { raftId: 1, addr: req.advertiseAddr === '' ? '10.0.0.1:2377' : req.advertiseAddr, leader: true, reachability: 'reachable' } } } }]);
    if (req.spec !== undefined) {
      const c = this.h.store().view.cluster()!;
      await this.h.store().write([{ op: 'update', target: { kind: 'cluster', object: { ...c, spec: req.spec } } }]);
    }
    this.state = 'active';
    return this.self.id;
  }

  swarmJoin(_req: SwarmJoinRequest): Promise<void> {
    return Promise.reject(new FailedPreconditionError('this node is already part of a swarm'));
  }

  swarmLeave(force: boolean): Promise<void> {
    if (this.role === 'manager' && !force) return Promise.reject(new FailedPreconditionError('You are attempting to leave the swarm on a node that is participating as a manager.', { hint: 'use --force to ignore this message' }));
    this.state = 'inactive';
    return Promise.resolve();
  }

  control(): ControlOps {
    if (this.state !== 'active' || this.role !== 'manager') throw new FailedPreconditionError('this node is not a swarm manager');
    return this.ops;
  }

  async *serviceLogs(idOrName: string, opts: ServiceLogOptions, signal: AbortSignal): AsyncIterable<ServiceLogLine> {
    const s = await this.ops.getService(idOrName);
    const tasks = (await this.ops.listTasks({ serviceIds: [s.id], nodeIds: [], desiredStates: [] })).filter((t) => t.status.state >= TaskState.RUNNING && t.nodeId !== '').sort((a, b) => a.slot - b.slot);
    let lines: ServiceLogLine[] = [];
    for (const t of tasks) {
      for (let i = 0; i < this.logLines; i++) {
        const time = new Date(t.status.timestamp + i).toISOString().replace('Z', '000000Z');
        lines.push({ stream: i % 2 === 0 ? 'stdout' : 'stderr', time, line: `line ${i} of slot ${t.slot}`, taskId: t.id, nodeId: t.nodeId, serviceId: s.id, slot: t.slot });
      }
    }
    if (opts.tail !== undefined) lines = lines.slice(Math.max(0, lines.length - opts.tail));
    for (const l of lines) {
      if (signal.aborted) return;
      yield l;
    }
  }

  async *events(opts: EventStreamOptions, signal: AbortSignal): AsyncIterable<ShoalEvent> {
    const queue: ShoalEvent[] = [];
    let wake: (() => void) | undefined;
    const unsubscribe = this.bus.subscribe({ ...(opts.sinceMs !== undefined ? { since: { timeMs: opts.sinceMs } } : {}), filter: opts.filter }, (e) => { queue.push(e); wake?.(); });
    const onAbort = (): void => wake?.();
    signal.addEventListener('abort', onAbort);
    const timer = setInterval(() => wake?.(), 20);
    try {
      for (;;) {
        while (queue.length > 0) {
          const e = queue.shift()!;
          if (opts.untilMs !== undefined && e.time > opts.untilMs) return;
          yield e;
        }
        if (signal.aborted || (opts.untilMs !== undefined && this.h.clock.now() > opts.untilMs)) return;
        await new Promise<void>((resolve) => { wake = resolve; });
        wake = undefined;
      }
    } finally {
      clearInterval(timer);
      signal.removeEventListener('abort', onAbort);
      unsubscribe();
    }
  }
}

/** True for a ShoalError with one of the codes (assert helper). */
export function isCode(err: unknown, code: ShoalError['code']): boolean {
  return ShoalError.is(err, code);
}
