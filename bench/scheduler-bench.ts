// npm run bench:scheduler — 100,000 tasks of 100 services onto 1,000 simulated nodes through the
// real store on a 3-manager in-process Raft (RawNode over the simulated network), timed on the
// wall clock from the creation of the services until every task is ASSIGNED and committed.
import { ManualClock } from '../src/types/clock';
import { SeededRandom } from '../src/types/random';
import { TaskState } from '../src/types/objects';
import { Store } from '../src/manager/store/store';
import { Manager } from '../src/manager/manager';
import type { ReplicatedLog } from '../src/manager/replicated-log';
import type { StoreAction } from '../src/manager/store/actions';
import { SimRaftCluster, flush } from '../test/manager/sim/raft-cluster';
import { makeCluster, makeNode, makeService } from '../test/manager/sim/fixtures';

const NODES = Number(process.env.BENCH_NODES ?? 1000);
const SERVICES = 100;
const TASKS = Number(process.env.BENCH_TASKS ?? 100_000);

async function until(clock: ManualClock, cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; !cond(); i++) {
    if (i > 5_000_000) throw new Error(`bench stuck waiting for ${what}`);
    clock.advance(1);
    await flush();
  }
}

async function main(): Promise<void> {
  const clock = new ManualClock(0);
  const random = new SeededRandom(42);
  const logs: ReplicatedLog[] = [];
  const proxy = (i: number): ReplicatedLog => ({ propose: (d) => logs[i].propose(d), isLeader: () => logs[i].isLeader(), onLeadershipChange: (cb) => logs[i].onLeadershipChange(cb) });
  const stores = [0, 1, 2].map((i) => new Store(proxy(i), clock));
  const sim = new SimRaftCluster(clock, random, stores, { tickMs: 10, latencyMs: 1, electionTick: 1000 });
  for (let i = 0; i < 3; i++) logs.push(sim.log(i));
  const errors: unknown[] = [];
  const managers = stores.map((s, i) => new Manager(s, logs[i], clock, random, { schedulerDebounceMs: 5, onError: (_l, e) => errors.push(e) }));
  await until(clock, () => sim.leaderIndex() >= 0, 'a leader');
  const leader = stores[sim.leaderIndex()];
  const setup: StoreAction[] = [{ op: 'create', target: { kind: 'cluster', object: makeCluster(random) } }];
  for (let i = 0; i < NODES; i++) setup.push({ op: 'create', target: { kind: 'node', object: makeNode(random, { state: 'ready', hostname: `node-${i}`, labels: { zone: `z${i % 3}` } }) } });
  let done = false;
  void leader.writeBatched(setup).then(() => { done = true; });
  await until(clock, () => done, 'nodes');

  const perService = Math.floor(TASKS / SERVICES);
  const services: StoreAction[] = [];
  for (let i = 0; i < SERVICES; i++) {
    services.push({ op: 'create', target: { kind: 'service', object: makeService(random, {
      name: `svc-${i}`, replicas: perService,
      task: { container: { image: `img-${i}` }, resources: { reservations: { memoryBytes: 16 * 2 ** 20, nanoCPUs: 1e7 } }, placement: i % 10 === 0 ? { preferences: [{ spread: 'node.labels.zone' }] } : {} },
    }) } });
  }
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  done = false;
  void leader.writeBatched(services).then(() => { done = true; });
  const view = leader.view;
  await until(clock, () => done && view.countTasksWithState(TaskState.ASSIGNED) === perService * SERVICES && stores.every((s) => s.view.version >= view.version), 'all tasks assigned');
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  const rssMb = Math.round(process.memoryUsage().rss / 2 ** 20);
  for (const m of managers) m.close();
  // The machine is shared: CPU seconds of this process tell how much of the wall time was ours.
  process.stderr.write(`cpu: ${((cpu.user + cpu.system) / 1e6).toFixed(3)} s (user ${(cpu.user / 1e6).toFixed(3)}, system ${(cpu.system / 1e6).toFixed(3)})\n`);
  if (errors.length > 0) process.stderr.write(`loop errors: ${errors.length}, first: ${String(errors[0])}\n`);
  const tasks = perService * SERVICES;
  process.stdout.write(`${JSON.stringify({ bench: 'scheduler', nodes: NODES, tasks, seconds: Number(seconds.toFixed(3)), tasks_per_s: Math.round(tasks / seconds), rss_mb: rssMb })}\n`);
}

main().then(() => process.exit(0), (err: unknown) => { process.stderr.write(`${String(err)}\n`); process.exit(1); });
