import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { systemClock } from '../../src/types/clock';
import { NotFoundError } from '../../src/types/errors';
import { systemRandom } from '../../src/types/random';
import { TaskState, type Task } from '../../src/types/objects';
import type { NodeIdentity } from '../../src/pki/node-identity';
import { addDispatcherService } from '../../src/manager/dispatcher/dispatcher-server';
import type { ContainerRuntime } from '../../src/runtime/container-runtime';
import { Agent } from '../../src/worker/agent';
import { containerName, Executor, type ImageResolver } from '../../src/worker/executor';
import { describeHost } from '../../src/worker/node-description';
import { StatusReporter } from '../../src/worker/status-reporter';
import { WorkerStore } from '../../src/worker/worker-store';
import { DurableCluster, type DurableManager } from '../manager/durable/durable-cluster';
import { makeNode } from '../manager/sim/fixtures';
import { busyboxLayer, leftovers, testEnv, type TestEnv } from '../runtime/helpers';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The heartbeat period of this cluster: long enough that two periods cover a Raft election (500 ms timeout). */
const PERIOD_MS = 2000;

const images: ImageResolver = {
  resolve: (ref) => (ref === 'busybox' ? Promise.resolve({ layerDirs: [busyboxLayer()], config: { cmd: ['sh'] } }) : Promise.reject(new NotFoundError(`no image ${ref}`))),
};

describe('worker agent with durable managers (real RaftNodes on LevelDB, mTLS) and the real runtime', function () {
  this.timeout(120_000);
  let c: DurableCluster;
  let env: TestEnv;
  let dbDir: string;
  let identity: NodeIdentity;
  let nodeId = '';
  let rt: ContainerRuntime | undefined;
  let store: WorkerStore | undefined;
  let reporter: StatusReporter | undefined;
  let executor: Executor | undefined;
  let agent: Agent | undefined;
  const errors: unknown[] = [];
  /** The host's addresses as the agent's refreshDescription sees them; a test changes them. */
  let hostAddrs = ['192.0.2.10'];

  const leading = (): DurableManager | undefined => c.leading();
  const tasksOf = (serviceId: string): Task[] => leading()?.store.view.tasksOfService(serviceId) ?? [];
  const stateOf = (serviceId: string): number | undefined => tasksOf(serviceId)[0]?.status.state;
  const describe_ = (): string => JSON.stringify({ agent: agent?.stats, leader: leading()?.address, node: leading()?.store.view.get('node', nodeId)?.status, tasks: leading()?.store.view.tasksOfNode(nodeId).map((t) => [t.desiredState, t.status.state, t.status.err]) });

  async function waitFor(cond: () => boolean, what: string, ms = 30_000): Promise<void> {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}; ${describe_()}`);
      await sleep(20);
    }
  }

  before(async () => {
    env = testEnv('worker-durable');
    dbDir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-worker-durable-db-'));
    c = await DurableCluster.create({
      // The daemon's wiring: every manager serves the dispatcher; a follower refuses sessions and names the managers.
      addServices: (m) => addDispatcherService(m.server.grpc, () => (m.manager.isLeading() ? m.manager.dispatcher : undefined), { managers: () => m.manager.dispatcher.managers() }),
    });
    const leader = await c.leader();
    const cluster = leader.store.view.cluster()!;
    identity = await c.identity('worker');
    nodeId = identity.info.nodeId;
    await leader.store.write([
      { op: 'update', target: { kind: 'cluster', object: { ...cluster, spec: { ...cluster.spec, dispatcher: { heartbeatPeriodMs: PERIOD_MS } } } } },
      { op: 'create', target: { kind: 'node', object: { ...makeNode(systemRandom, { hostname: 'w2' }), id: nodeId } } },
    ]);
    // The leader's manager-status loop names the leader among the managers.
    await waitFor(() => leading()?.store.view.nodes().some((n) => n.managerStatus?.leader === true && n.managerStatus.addr === leading()?.address) === true, 'the leader flagged');
  });

  after(async () => {
    await stopWorker().catch(() => undefined);
    await c?.destroy();
    const r = await env.open();
    for (const x of r.list()) await r.remove(x.id, { force: true }).catch(() => undefined);
    await r.settle();
    r.close({ stopShimServer: true });
    for (let i = 0; i < 100 && leftovers(env).length > 0; i++) await sleep(20);
    const left = leftovers(env);
    env.cleanup();
    fs.rmSync(dbDir, { recursive: true, force: true });
    assert.deepEqual(left, [], 'no container, mount, cgroup or shim left behind');
  });

  afterEach(() => {
    assert.deepEqual(errors.splice(0).map(String), [], 'the executor reported no errors');
  });

  async function startWorker(managers: readonly string[]): Promise<void> {
    rt = await env.open();
    store = await WorkerStore.open(dbDir);
    reporter = new StatusReporter(systemClock);
    executor = await Executor.open({ runtime: rt, images, store, reporter, clock: systemClock, nodeName: 'w2', onError: (e) => errors.push(e) });
    agent = new Agent({
      identity, managers, description: describeHost('w2'), addr: '127.0.0.1', store, executor, reporter, clock: systemClock, random: systemRandom, backoffBaseMs: 50,
      labels: { 'com.example.rack': 'r1' }, refreshDescription: () => ({ ...describeHost('w2'), addresses: hostAddrs }),
    });
    agent.start();
  }

  async function stopWorker(): Promise<void> {
    await agent?.stop();
    executor?.close();
    reporter?.close();
    rt?.close();
    await store?.close();
    agent = undefined;
  }

  async function service(name: string, command: string[]): Promise<string> {
    const leader = await c.leader();
    const s = await leader.api.createService(JSON.stringify({ name, replicas: 1, task: { container: { image: 'busybox', command, stopGraceMs: 200 }, restartPolicy: { condition: 'none' } } }));
    return s.id;
  }

  const containersOf = (t: Task) => rt!.list().filter((x) => x.name === containerName(t.id));

  it('joins through a follower: learns the managers from its refusal, opens the session with the leader and runs a task', async () => {
    const leader = await c.leader();
    const follower = [...c.managers.values()].find((m) => m !== leader)!;
    await startWorker([follower.address]);
    await waitFor(() => agent!.stats.sessions === 1, 'a session');
    assert.equal(agent!.stats.manager, leader.address);
    assert.deepEqual(new Set(agent!.managerList()), new Set([...c.managers.values()].map((m) => m.address)));
    assert.equal(agent!.managerList()[0], leader.address, 'the leader first');
    assert.deepEqual(leader.store.view.get('node', nodeId)?.description.labels, { 'com.example.rack': 'r1' }, 'engine labels reported at session start');
    const sid = await service('first', ['sleep', '60']);
    await waitFor(() => stateOf(sid) === TaskState.RUNNING, 'RUNNING');
    assert.equal(containersOf(tasksOf(sid)[0]).length, 1);
  });

  it('reports a change of the host it finds at a heartbeat (refreshDescription) to the Node object, in the same session', async () => {
    const sessions = agent!.stats.sessions;
    hostAddrs = ['192.0.2.10', '198.51.100.7'];
    await waitFor(() => JSON.stringify(leading()?.store.view.get('node', nodeId)?.description.addresses) === JSON.stringify(hostAddrs), 'the new addresses on the Node object', 3 * PERIOD_MS);
    assert.deepEqual(leading()?.store.view.get('node', nodeId)?.description.labels, { 'com.example.rack': 'r1' }, 'the labels kept');
    assert.equal(agent!.stats.sessions, sessions, 'the same session');
  });

  it('when the leading manager stops (Raft, store and server), reconnects to the new leader within two heartbeat periods; nothing is duplicated', async () => {
    const sid = await service('survivor', ['sleep', '60']);
    await waitFor(() => stateOf(sid) === TaskState.RUNNING, 'RUNNING');
    const before = tasksOf(sid)[0];
    const old = await c.leader();
    assert.equal(agent!.stats.manager, old.address);
    const sessions = agent!.stats.sessions;
    const stoppedAt = Date.now();
    await c.stop(old.raftId);
    await waitFor(() => agent!.stats.sessions > sessions, 'a session with the new leader', 4 * PERIOD_MS);
    const tookMs = Date.now() - stoppedAt;
    assert.ok(tookMs <= 2 * PERIOD_MS, `reconnected after ${tookMs} ms (Raft election included), more than two heartbeat periods`);
    assert.equal(agent!.stats.manager, (await c.leader()).address);
    await sleep(500); // time for a wrong report or a second container to show
    assert.equal(tasksOf(sid).length, 1, 'no replacement task');
    const t = tasksOf(sid)[0];
    assert.deepEqual([t.id, t.status.state, t.status.containerId], [before.id, TaskState.RUNNING, before.status.containerId]);
    assert.equal(containersOf(t).length, 1);
    await c.start(old.raftId); // back as a follower
  });

  it('when every manager restarts from its data directory, reconnects and finds its tasks as they were: nothing lost, nothing duplicated', async () => {
    const sid = await service('through-restart', ['sleep', '60']);
    await waitFor(() => stateOf(sid) === TaskState.RUNNING, 'RUNNING');
    const held = (await c.leader()).store.view.tasksOfNode(nodeId).filter((t) => t.desiredState === TaskState.RUNNING).map((t) => [t.id, t.status.containerId]);
    assert.equal(held.length, 3, 'the tasks of the three services');
    const sessions = agent!.stats.sessions;
    const ids = [...c.managers.keys()];
    for (const id of ids) await c.stop(id);
    await sleep(500);
    for (const id of ids) await c.start(id);
    await waitFor(() => agent!.stats.sessions > sessions && leading()?.address === agent!.stats.manager, 'a session with the restarted leader');
    await waitFor(() => leading()?.store.view.get('node', nodeId)?.status.state === 'ready', 'the node ready');
    await sleep(500); // time for a wrong report or a second container to show
    const now = leading()!.store.view.tasksOfNode(nodeId).filter((t) => t.desiredState === TaskState.RUNNING);
    assert.deepEqual(now.map((t) => [t.id, t.status.containerId]).sort(), [...held].sort());
    assert.ok(now.every((t) => t.status.state === TaskState.RUNNING));
    for (const t of now) assert.equal(containersOf(t).length, 1, `one container for ${t.id}`);
    assert.equal(rt!.list().filter((x) => x.status === 'running').length, 3, 'no other container started');
    c.assertNoLoopErrors();
  });
});
