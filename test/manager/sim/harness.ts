import { ManualClock } from '../../../src/types/clock';
import { SeededRandom } from '../../../src/types/random';
import { TaskState, type Node, type Service, type ServiceSpec, type SpecInput, type Task } from '../../../src/types/objects';
import { Store } from '../../../src/manager/store/store';
import { Manager } from '../../../src/manager/manager';
import type { ReplicatedLog } from '../../../src/manager/replicated-log';
import type { Dispatcher } from '../../../src/manager/dispatcher/dispatcher';
import { createService, updateService } from '../../../src/manager/controlapi/services';
import { SimRaftCluster, runFor, runUntil } from './raft-cluster';
import { SimAgent, type SimAgentOptions } from './sim-agent';
import { makeCluster, makeNode } from './fixtures';

/** A whole control plane in one process: 3 managers on simulated Raft, simulated agents, one clock and seed. */
export class Harness {
  readonly clock = new ManualClock(1_000_000);
  readonly random: SeededRandom;
  readonly stores: Store[] = [];
  readonly managers: Manager[] = [];
  readonly sim: SimRaftCluster;
  readonly agents = new Map<string, SimAgent>();
  readonly errors: unknown[] = [];

  private constructor(seed: number) {
    this.random = new SeededRandom(seed);
    const logs: ReplicatedLog[] = [];
    const proxy = (i: number): ReplicatedLog => ({
      propose: (d) => logs[i].propose(d), isLeader: () => logs[i].isLeader(), onLeadershipChange: (cb) => logs[i].onLeadershipChange(cb),
    });
    for (let i = 0; i < 3; i++) this.stores.push(new Store(proxy(i), this.clock));
    this.sim = new SimRaftCluster(this.clock, this.random, this.stores);
    for (let i = 0; i < 3; i++) logs.push(this.sim.log(i));
    for (let i = 0; i < 3; i++) {
      this.managers.push(new Manager(this.stores[i], logs[i], this.clock, this.random, {
        onError: (_loop, err) => { if (!/Conflict|not the leader|leadership lost|replaced by another/.test(String(err))) this.errors.push(err); },
      }));
    }
  }

  /** A cluster with a leader and the cluster object written. */
  static async create(seed: number, cluster: Partial<ReturnType<typeof makeCluster>['spec']> = {}): Promise<Harness> {
    const h = new Harness(seed);
    await runUntil(h.clock, () => h.sim.leaderIndex() >= 0, 5000, 'a leader');
    await h.settle(h.store().write([{ op: 'create', target: { kind: 'cluster', object: makeCluster(h.random, cluster) } }]));
    return h;
  }

  /** The leader's store (reads there see every committed write once applied). */
  store(): Store {
    const i = this.sim.leaderIndex();
    return this.stores[i >= 0 ? i : 0];
  }

  dispatcher(): Dispatcher | undefined {
    const i = this.sim.leaderIndex();
    return i >= 0 ? this.managers[i].dispatcher : undefined;
  }

  /** Runs the simulation until the promise settles. */
  async settle<T>(p: Promise<T>, maxMs = 10_000): Promise<T> {
    let done = false;
    const q = p.finally(() => { done = true; });
    q.catch(() => undefined);
    await runUntil(this.clock, () => done, maxMs, 'an operation to settle');
    return q;
  }

  /** Joins a node (as the CA would create it) and starts its simulated agent. */
  async addNode(opts: Parameters<typeof makeNode>[1] = {}, agent: Partial<SimAgentOptions> = {}): Promise<Node> {
    const node = makeNode(this.random, opts);
    await this.settle(this.store().write([{ op: 'create', target: { kind: 'node', object: node } }]));
    const a = new SimAgent(node, this.clock, () => this.dispatcher(), agent);
    this.agents.set(node.id, a);
    a.start();
    await this.until(() => this.store().view.get('node', node.id)?.status.state === 'ready', 10_000, `node ${node.id} ready`);
    return node;
  }

  /** The host comes back: a fresh agent (no local tasks) for the same node. */
  restartAgent(nodeId: string, agent: Partial<SimAgentOptions> = {}): void {
    const old = this.agents.get(nodeId);
    if (old === undefined) throw new Error(`no agent for ${nodeId}`);
    old.stop();
    const a = new SimAgent(old.node, this.clock, () => this.dispatcher(), agent);
    this.agents.set(nodeId, a);
    a.start();
  }

  async createService(spec: SpecInput<ServiceSpec>): Promise<Service> {
    return this.settle(createService(this.store(), this.random, spec));
  }

  async updateService(id: string, change: (s: ServiceSpec) => SpecInput<ServiceSpec>): Promise<Service> {
    const s = this.store().view.get('service', id)!;
    return this.settle(updateService(this.store(), this.clock, id, s.meta.version, change(s.spec)));
  }

  tasks(serviceId: string): Task[] {
    return this.store().view.tasksOfService(serviceId);
  }

  /** Tasks that should run and do. */
  running(serviceId: string): Task[] {
    return this.tasks(serviceId).filter((t) => t.desiredState === TaskState.RUNNING && t.status.state === TaskState.RUNNING);
  }

  /** Tasks that should run (whatever their state). */
  desired(serviceId: string): Task[] {
    return this.tasks(serviceId).filter((t) => t.desiredState <= TaskState.RUNNING);
  }

  async until(cond: () => boolean, maxMs: number, what: string): Promise<number> {
    return runUntil(this.clock, cond, maxMs, what);
  }

  async run(ms: number): Promise<void> {
    await runFor(this.clock, ms);
  }

  close(): void {
    for (const a of this.agents.values()) a.stop();
    for (const m of this.managers) m.close();
  }
}
