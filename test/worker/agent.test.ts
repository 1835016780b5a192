import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { systemClock, type Clock } from '../../src/types/clock';
import { NotFoundError } from '../../src/types/errors';
import { SeededRandom } from '../../src/types/random';
import { TaskState, type Node, type ServiceSpec, type SpecInput, type Task } from '../../src/types/objects';
import { initClusterPki, issueLocal, type ClusterPki } from '../../src/pki/cluster-init';
import { MtlsServer } from '../../src/pki/mtls-server';
import { NodeIdentity } from '../../src/pki/node-identity';
import { nodeCertValidity } from '../../src/pki/root-ca';
import { clusterChannelOptions } from '../../src/pki/tls-credentials';
import type { NodeRole } from '../../src/pki/node-role';
import { addDispatcherService, type DispatcherFaults } from '../../src/manager/dispatcher/dispatcher-server';
import { createService, removeService, updateService } from '../../src/manager/controlapi/services';
import type { ContainerRuntime } from '../../src/runtime/container-runtime';
import { Agent } from '../../src/worker/agent';
import { DispatcherClient } from '../../src/worker/dispatcher-client';
import { addLogsService, LogsClientCtor, workerChannelCredentials, workerPolicy } from '../../src/worker/logs-server';
import { containerName, Executor, type ImageResolver } from '../../src/worker/executor';
import { describeHost } from '../../src/worker/node-description';
import { StatusReporter } from '../../src/worker/status-reporter';
import { WorkerStore } from '../../src/worker/worker-store';
import { Harness } from '../manager/sim/harness';
import { makeNode } from '../manager/sim/fixtures';
import { busyboxLayer, leftovers, testEnv, type TestEnv } from '../runtime/helpers';

/** The cluster's heartbeat period in these tests (short, so that periods are seen to pass). */
const PERIOD_MS = 2000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** What the test is waiting on, shown when a wait times out. */
let diagnose: () => string = () => '';

async function waitFor(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}; ${diagnose()}`);
    await sleep(20);
  }
}

/** The images on this test node: busybox only. */
const images: ImageResolver = {
  resolve: (ref) => (ref === 'busybox' ? Promise.resolve({ layerDirs: [busyboxLayer()], config: { cmd: ['sh'] } }) : Promise.reject(new NotFoundError(`no image ${ref}`))),
};

/** One worker node: its runtime, LevelDB, executor and agent, which a test can restart. */
interface WorkerNode {
  rt: ContainerRuntime;
  store: WorkerStore;
  reporter: StatusReporter;
  executor: Executor;
  agent: Agent;
}

describe('worker agent with a real dispatcher over mTLS and the real runtime', function () {
  this.timeout(90_000);
  let h: Harness;
  let pki: ClusterPki;
  let env: TestEnv;
  let dbDir: string;
  let identity: NodeIdentity;
  let w: WorkerNode | undefined;
  const servers: MtlsServer[] = [];
  const roles = new Map<string, NodeRole>();
  const addrs: string[] = [];
  const closedServers = new Set<number>();
  const errors: unknown[] = [];
  let pump: NodeJS.Timeout | undefined;
  let nodeId = '';
  const managerIds: NodeIdentity[] = [];
  const faults: DispatcherFaults = {};
  /** The manager (index) cut off from the agent, or -1. */
  let partitioned = -1;
  /** The faults of manager i's gRPC service: the shared ones, and its partition from the agent. */
  const faultsOf = (i: number): DispatcherFaults => ({
    dropAssignment: (n, m) => faults.dropAssignment?.(n, m) ?? false,
    failStatusUpdate: (n) => faults.failStatusUpdate?.(n),
    partitioned: (n) => partitioned === i && n === nodeId,
  });
  const nodeOf = (): Node => h.store().view.get('node', nodeId)!;

  async function issue(role: NodeRole): Promise<NodeIdentity> {
    const issued = await issueLocal(pki.rootCa, { role }, nodeCertValidity(Date.now()));
    roles.set(issued.info.nodeId, role);
    return new NodeIdentity(issued.material);
  }

  async function startWorker(managers: readonly string[]): Promise<WorkerNode> {
    const rt = await env.open();
    const store = await WorkerStore.open(dbDir);
    const reporter = new StatusReporter(systemClock);
    // Status timestamps on the managers' time base (it follows real time), as on a real cluster.
    const clock: Clock = { now: () => h.clock.now(), setTimer: (ms, fn) => systemClock.setTimer(ms, fn) };
    const executor = await Executor.open({ runtime: rt, images, store, reporter, clock, nodeName: 'w2', onError: (e) => errors.push(e) });
    const agent = new Agent({
      identity, managers, description: describeHost('w2'), addr: '127.0.0.1', store,
      executor, reporter, clock: systemClock, random: new SeededRandom(7), backoffBaseMs: 50,
    });
    agent.start();
    return { rt, store, reporter, executor, agent };
  }

  /** The agent process goes away; its containers stay. */
  async function stopWorker(node: WorkerNode): Promise<void> {
    await node.agent.stop();
    node.executor.close();
    node.reporter.close();
    node.rt.close();
    await node.store.close();
  }

  before(async () => {
    env = testEnv('worker');
    dbDir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-worker-db-'));
    h = await Harness.create(61, { dispatcher: { heartbeatPeriodMs: PERIOD_MS } });
    // The simulated clock of the managers follows real time, so heartbeat deadlines mean what they say.
    let last = Date.now();
    pump = setInterval(() => { const n = Date.now(); h.clock.advance(n - last); last = n; }, 5);
    pki = await initClusterPki({ clock: systemClock });
    const leader = h.sim.leaderIndex();
    for (const i of [0, 1, 2]) {
      const id = await issue('manager');
      managerIds.push(id);
      const server = new MtlsServer({ identity: id, host: '127.0.0.1', port: 0, clusterId: pki.rootCa.clusterId, membership: { roleOf: (n) => roles.get(n) }, clock: systemClock });
      addDispatcherService(server.grpc, () => (h.managers[i].isLeading() ? h.managers[i].dispatcher : undefined), { faults: faultsOf(i), managers: () => h.managers[i].dispatcher.managers() });
      servers.push(server);
      addrs.push(`127.0.0.1:${await server.listen()}`);
      // The managers as the cluster records them: the dispatcher tells agents their managerStatus.addr.
      // Drained and without an agent here: no task is placed on them.
      const m = makeNode(h.random, { hostname: `m${i}`, role: 'manager', state: 'down' });
      await h.store().write([{ op: 'create', target: { kind: 'node', object: { ...m, spec: { ...m.spec, availability: 'drain' }, id: id.info.nodeId, managerStatus: { raftId: i + 1, addr: addrs[i], leader: i === leader, reachability: 'reachable' } } } }]);
    }
    identity = await issue('worker');
    const node = { ...makeNode(h.random, { hostname: 'w2' }), id: identity.info.nodeId };
    nodeId = node.id;
    await h.store().write([{ op: 'create', target: { kind: 'node', object: node } }]);
    diagnose = () => JSON.stringify({ agent: w?.agent.stats, node: nodeOf().status, tasks: h.store().view.tasksOfNode(nodeId).map((t) => [t.spec.container.command.join(' ').slice(0, 30), t.desiredState, t.status.state, t.status.err]) });
    // Only the leader is configured: the others are learned from the session.
    w = await startWorker([addrs[leader]]);
    await waitFor(() => nodeOf().status.state === 'ready', 'the node to be ready');
    // Addresses come and go as other tests make interfaces on this host; the rest is fixed.
    const { addresses, ...rest } = nodeOf().description;
    const { addresses: _now, ...expected } = describeHost('w2');
    assert.deepEqual(rest, expected, 'the session reported the host description');
    assert.ok(Array.isArray(addresses) && addresses.every((a) => typeof a === 'string'), 'and the host addresses');
  });

  after(async () => {
    if (w !== undefined) await stopWorker(w).catch(() => undefined);
    clearInterval(pump);
    await Promise.all(servers.map((s, i) => (closedServers.has(i) ? Promise.resolve() : s.close())));
    h?.close();
    const rt = await env.open();
    for (const c of rt.list()) await rt.remove(c.id, { force: true }).catch(() => undefined);
    await rt.settle();
    rt.close({ stopShimServer: true });
    // The shim server ends on SIGTERM a moment after it is sent.
    for (let i = 0; i < 100 && leftovers(env).length > 0; i++) await sleep(20);
    const left = leftovers(env);
    env.cleanup();
    fs.rmSync(dbDir, { recursive: true, force: true });
    assert.deepEqual(left, [], 'no container, mount, cgroup or shim left behind');
  });

  afterEach(() => {
    assert.deepEqual(errors.splice(0).map(String), [], 'the executor reported no errors');
  });

  async function service(name: string, task: SpecInput<ServiceSpec>['task']): Promise<string> {
    const s = await createService(h.store(), h.random, { name, replicas: 1, task: { restartPolicy: { condition: 'none' }, ...task } });
    return s.id;
  }
  const tasksOf = (serviceId: string): Task[] => h.store().view.tasksOfService(serviceId);
  const stateOf = (serviceId: string): number | undefined => tasksOf(serviceId)[0]?.status.state;
  const containersOf = (rt: ContainerRuntime, t: Task) => rt.list().filter((c) => c.name === containerName(t.id));

  it('runs an assigned task in a busybox container and reports RUNNING with its container id and pid; scaled down, it gets SIGTERM, then SIGKILL after its grace period', async () => {
    // It traps SIGTERM (says so, and goes on), so only the SIGKILL after the grace period ends it.
    const sid = await service('sleeper', { container: { image: 'busybox', command: ['sh', '-c', 'trap "echo got TERM" TERM; echo up; while :; do sleep 0.05; done'], stopGraceMs: 500 } });
    await waitFor(() => stateOf(sid) === TaskState.RUNNING, 'the task RUNNING in the store');
    const t = tasksOf(sid)[0];
    const cs = containersOf(w!.rt, t);
    assert.equal(cs.length, 1);
    assert.deepEqual([cs[0].status, t.status.containerId, t.status.pid], ['running', cs[0].id, cs[0].pid]);
    const lines: { line: string; time: string }[] = [];
    const following = (async () => {
      try {
        for await (const e of w!.rt.logs(cs[0].id, { follow: true })) lines.push(e);
      } catch { /* the container was removed */ }
    })();

    const seen: { state: number; exitCode: number }[] = [];
    const unwatch = h.store().watch((e) => {
      for (const c of e.changes) if (c.kind === 'task' && c.id === t.id && c.after !== undefined) seen.push({ state: (c.after as Task).status.state, exitCode: (c.after as Task).status.exitCode });
    });
    try {
      const s = h.store().view.get('service', sid)!;
      await updateService(h.store(), h.clock, sid, s.meta.version, { ...s.spec, replicas: 0 });
      await waitFor(() => seen.some((x) => x.state === TaskState.SHUTDOWN), 'the task SHUTDOWN in the store');
    } finally {
      unwatch();
    }
    await following;
    assert.deepEqual(lines.map((l) => l.line), ['up', 'got TERM'], 'SIGTERM first, and the container went on');
    assert.deepEqual(seen.find((x) => x.state === TaskState.SHUTDOWN), { state: TaskState.SHUTDOWN, exitCode: 137 }, 'then SIGKILL');
    await waitFor(() => containersOf(w!.rt, t).length === 0, 'the container removed once the task is gone');
  });

  it('a rolling update (stop-first, forced) stops the old container (SIGKILL after its grace period, SHUTDOWN with exit code 137) before the new one starts; service rm leaves no container or task', async () => {
    // The task ignores SIGTERM, as `sleep` does as a container's PID 1: only the SIGKILL after the grace period ends it.
    const s0 = await createService(h.store(), h.random, {
      name: 'rolling', replicas: 1,
      task: { container: { image: 'busybox', command: ['sh', '-c', 'trap "" TERM; while :; do sleep 0.05; done'], stopGraceMs: 700 } },
      update: { monitorMs: 200 },
    });
    const sid = s0.id;
    await waitFor(() => stateOf(sid) === TaskState.RUNNING, 'the task RUNNING in the store');
    const old = tasksOf(sid)[0];
    const oldContainer = old.status.containerId;
    let oldStatusWhenNewStarted = '';
    const unwatch = h.store().watch((e) => {
      for (const c of e.changes) {
        const t = c.after as Task | undefined;
        if (c.kind === 'task' && t !== undefined && t.id !== old.id && t.status.state >= TaskState.STARTING && oldStatusWhenNewStarted === '') {
          oldStatusWhenNewStarted = w!.rt.inspect(oldContainer).status;
        }
      }
    });
    try {
      const s = h.store().view.get('service', sid)!;
      await updateService(h.store(), h.clock, sid, s.meta.version, { ...s.spec, task: { ...s.spec.task, forceUpdate: 1 } });
      await waitFor(() => h.store().view.get('service', sid)?.updateStatus?.state === 'completed', 'the update completed');
    } finally {
      unwatch();
    }
    const after = h.store().view.get('task', old.id)!;
    assert.deepEqual([after.desiredState, after.status.state, after.status.exitCode], [TaskState.SHUTDOWN, TaskState.SHUTDOWN, 137], 'the old task is SHUTDOWN with its exit code');
    assert.equal(oldStatusWhenNewStarted, 'exited', `the old container had exited when the new task started; tasks: ${JSON.stringify(tasksOf(sid).map((t) => [t.id, t.desiredState, t.status]))}`);
    const fresh = tasksOf(sid).filter((t) => t.id !== old.id);
    assert.equal(fresh.length, 1);
    assert.deepEqual([fresh[0].spec.forceUpdate, fresh[0].desiredState, fresh[0].status.state], [1, TaskState.RUNNING, TaskState.RUNNING]);
    assert.ok(fresh[0].status.timestamp >= after.status.timestamp, 'started after the old one stopped');
    assert.deepEqual([old, fresh[0]].flatMap((t) => containersOf(w!.rt, t)).filter((c) => c.status === 'running').map((c) => c.id), [fresh[0].status.containerId], 'one container runs');

    await removeService(h.store(), sid);
    await waitFor(() => tasksOf(sid).length === 0, 'the tasks of the removed service gone from the store');
    await waitFor(() => [old, fresh[0]].every((t) => containersOf(w!.rt, t).length === 0), 'their containers removed');
    assert.equal(h.store().view.get('task', fresh[0].id), undefined);
  });

  it('reports COMPLETE for exit 0 and FAILED with the exit code for exit 3', async () => {
    const ok = await service('ok', { container: { image: 'busybox', command: ['sh', '-c', 'exit 0'] } });
    const bad = await service('bad', { container: { image: 'busybox', command: ['sh', '-c', 'exit 3'] } });
    await waitFor(() => stateOf(ok) === TaskState.COMPLETE && stateOf(bad) === TaskState.FAILED, 'COMPLETE and FAILED in the store');
    assert.equal(tasksOf(ok)[0].status.exitCode, 0);
    assert.deepEqual([tasksOf(bad)[0].status.exitCode, tasksOf(bad)[0].status.err], [3, 'task: non-zero exit (3)']);
  });

  it('a task that exits 3 is FAILED with exit code 3 and the restart policy replaces it with a new task that runs again', async () => {
    const sid = await service('flaky', { container: { image: 'busybox', command: ['sh', '-c', 'exit 3'] }, restartPolicy: { condition: 'on-failure', delayMs: 100, maxAttempts: 2, windowMs: 0 } });
    await waitFor(() => tasksOf(sid).filter((t) => t.status.state === TaskState.FAILED).length === 3, 'the task and its two replacements FAILED')
      .catch((e: Error) => { throw new Error(`${e.message}: ${JSON.stringify(tasksOf(sid).map((t) => [t.desiredState, t.status.state, t.status.exitCode]))}`); });
    assert.deepEqual(tasksOf(sid).map((t) => [t.status.state, t.status.exitCode]), Array.from({ length: 3 }, () => [TaskState.FAILED, 3]));
    assert.equal(new Set(tasksOf(sid).map((t) => t.status.containerId)).size, 3, 'each attempt ran in its own container');
  });

  it('applies the task\'s memory limit, and reports an OOM kill as FAILED with exit code 137 naming the OOM killer', async () => {
    const sid = await service('hog', { container: { image: 'busybox', command: ['sh', '-c', 'a=xxxxxxxxxxxxxxxx; while :; do a=$a$a; done'] }, resources: { limits: { memoryBytes: 24 * 1024 * 1024 } } });
    await waitFor(() => stateOf(sid) === TaskState.FAILED, 'FAILED in the store');
    assert.deepEqual([tasksOf(sid)[0].status.exitCode, tasksOf(sid)[0].status.err], [137, 'container killed by the kernel OOM killer (exit code 137)']);
  });

  it('reports a command that cannot be run as FAILED, with the runtime\'s message and the command named', async () => {
    const sid = await service('no-such-command', { container: { image: 'busybox', command: ['/no/such/program'] } });
    await waitFor(() => (stateOf(sid) ?? 0) >= TaskState.COMPLETE, 'the task ended');
    const st = tasksOf(sid)[0].status;
    assert.equal(st.state, TaskState.FAILED);
    assert.match(st.err, /^container start failed: .*"\/no\/such\/program"/, `the error names the command: ${JSON.stringify(st)}`);
  });

  it('heartbeats at the period the manager sets, and follows a change of it', async () => {
    assert.equal(w!.agent.stats.periodMs, PERIOD_MS);
    const setPeriod = async (ms: number): Promise<void> => {
      const c = h.store().view.cluster()!;
      await h.store().write([{ op: 'update', target: { kind: 'cluster', object: { ...c, spec: { ...c.spec, dispatcher: { heartbeatPeriodMs: ms } } } } }]);
    };
    await setPeriod(1500);
    try {
      await waitFor(() => w!.agent.stats.periodMs === 1500, 'the new period, told by a heartbeat', 3 * PERIOD_MS);
    } finally {
      await setPeriod(PERIOD_MS);
    }
    await waitFor(() => w!.agent.stats.periodMs === PERIOD_MS, 'the period back', 3 * PERIOD_MS);
  });

  it('rejects a task whose image is not on the node, with the message naming image and node', async () => {
    const sid = await service('missing', { container: { image: 'busybox:1.36', command: ['true'] } });
    await waitFor(() => stateOf(sid) === TaskState.REJECTED, 'REJECTED in the store');
    assert.equal(tasksOf(sid)[0].status.err, 'image busybox:1.36 not found on node w2');
    assert.equal(containersOf(w!.rt, tasksOf(sid)[0]).length, 0);
  });

  it('learns the managers from its session (started with only the leader), keeps them in its store, and follows changes told by heartbeats', async () => {
    const leader = addrs[h.sim.leaderIndex()];
    const all = [leader, ...addrs.filter((a) => a !== leader).sort()];
    await waitFor(() => w!.agent.managerList().length === 3, 'the three managers learned');
    assert.deepEqual(w!.agent.managerList(), all, 'the leader first, then the others');
    assert.deepEqual(await w!.store.managers(), all, 'persisted for a restart');
    // A fourth manager joins, the cluster finds it unreachable, and it leaves: heartbeats carry each list.
    const extra = { ...makeNode(h.random, { hostname: 'm3', role: 'manager', state: 'down' }), managerStatus: { raftId: 4, addr: '127.0.0.1:1', leader: false, reachability: 'unreachable' as const } };
    await h.store().write([{ op: 'create', target: { kind: 'node', object: { ...extra, spec: { ...extra.spec, availability: 'drain' as const } } } }]);
    await waitFor(() => w!.agent.managerList().length === 4, 'the new manager learned from a heartbeat', 3 * PERIOD_MS);
    assert.equal(w!.agent.managerList()[3], '127.0.0.1:1', 'an unreachable manager comes last');
    await h.store().write([{ op: 'remove', kind: 'node', id: extra.id, expectedVersion: 0 }]);
    await waitFor(() => w!.agent.managerList().length === 3, 'the removed manager forgotten', 3 * PERIOD_MS);
    await waitFor(() => JSON.stringify(all) === JSON.stringify(w!.agent.managerList()), 'the list as before');
    assert.deepEqual(await w!.store.managers(), all);
  });

  it('reports changed engine labels and addresses to the Node object without a new session', async () => {
    const sessions = w!.agent.stats.sessions;
    w!.agent.setLabels({ zone: 'east', disk: 'ssd' });
    await waitFor(() => JSON.stringify(nodeOf().description.labels) === JSON.stringify({ zone: 'east', disk: 'ssd' }), 'the labels on the Node object');
    w!.agent.setAddresses(['10.1.2.3', 'fd00::3'], '127.0.0.2');
    await waitFor(() => nodeOf().status.addr === '127.0.0.2', 'the new address on the Node object');
    assert.deepEqual(nodeOf().description.addresses, ['10.1.2.3', 'fd00::3']);
    assert.deepEqual([nodeOf().description.hostname, nodeOf().description.labels, nodeOf().status.state], ['w2', { zone: 'east', disk: 'ssd' }, 'ready']);
    assert.equal(w!.agent.stats.sessions, sessions, 'the same session');
    w!.agent.setAddresses(describeHost('w2').addresses ?? [], '127.0.0.1');
    await waitFor(() => nodeOf().status.addr === '127.0.0.1', 'the address back');
  });

  it('refuses a malformed description with the field and value named, and leaves the Node object as it was', async () => {
    const before = nodeOf();
    const c = new DispatcherClient(w!.agent.stats.manager, identity);
    try {
      const bad = { ...describeHost('w2'), labels: { zone: 7 } };
      await assert.rejects(c.updateDescription('whatever', JSON.stringify(bad), '127.0.0.9', 5000),
        (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT && e.details === 'description_json: labels must be a map of strings, got {"zone":7}');
      await assert.rejects(c.updateDescription('whatever', '{"hostname":', '127.0.0.9', 5000), (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT && /description_json is not valid JSON/.test(e.details));
      await assert.rejects(c.updateDescription('not-my-session', JSON.stringify(describeHost('w2')), '127.0.0.9', 5000), (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND);
    } finally {
      c.close();
    }
    assert.deepEqual(nodeOf(), before);
  });

  it('when an assignments message is lost, sees the gap, gets the complete set again, and runs exactly the tasks assigned', async () => {
    const resyncs = w!.agent.stats.fullResyncs;
    let dropped = 0;
    faults.dropAssignment = (n, m) => {
      if (n !== nodeId || m.type !== 'incremental' || dropped > 0) return false;
      dropped++;
      return true;
    };
    try {
      const lost = await service('lost', { container: { image: 'busybox', command: ['sleep', '60'], stopGraceMs: 200 } });
      await waitFor(() => dropped === 1, 'the assignment of the first task dropped');
      const second = await service('second', { container: { image: 'busybox', command: ['sleep', '60'], stopGraceMs: 200 } });
      await waitFor(() => stateOf(lost) === TaskState.RUNNING && stateOf(second) === TaskState.RUNNING, 'both tasks RUNNING');
      assert.equal(w!.agent.stats.fullResyncs, resyncs + 1, 'one full resync');
      for (const sid of [lost, second]) {
        assert.equal(tasksOf(sid).length, 1, 'no replacement task');
        assert.equal(containersOf(w!.rt, tasksOf(sid)[0]).length, 1, 'one container per task');
      }
      assert.deepEqual(new Set(w!.executor.taskIds()), new Set(h.store().view.tasksOfNode(nodeId).filter((t) => t.status.state >= TaskState.ASSIGNED).map((t) => t.id)), 'the agent holds exactly the tasks assigned to it');
      for (const sid of [lost, second]) await removeService(h.store(), sid);
      await waitFor(() => w!.rt.list().every((c) => c.status !== 'running'), 'the containers stopped once their services are gone');
    } finally {
      delete faults.dropAssignment;
    }
  });

  it('retries status reports after failed UpdateTaskStatus calls until acknowledged; no state is lost or reported twice as a different one', async () => {
    const failures = { before: 0, after: 0 };
    faults.failStatusUpdate = (n) => {
      if (n !== nodeId) return undefined;
      if (failures.before < 3) { failures.before++; return 'before'; }
      if (failures.after < 3) { failures.after++; return 'after'; }
      return undefined;
    };
    const seen: { id: string; state: number; timestamp: number }[] = [];
    const unwatch = h.store().watch((e) => {
      for (const c of e.changes) {
        const t = c.after as Task | undefined;
        if (c.kind === 'task' && t !== undefined && t.nodeId === nodeId && (c.before as Task | undefined)?.status.timestamp !== t.status.timestamp) seen.push({ id: t.id, state: t.status.state, timestamp: t.status.timestamp });
      }
    });
    try {
      const sid = await service('retried', { container: { image: 'busybox', command: ['sh', '-c', 'sleep 0.5; exit 0'] } });
      await waitFor(() => stateOf(sid) === TaskState.COMPLETE, 'COMPLETE in the store despite the failures');
      assert.equal(failures.before, 3, 'calls failed unprocessed');
      assert.ok(failures.after >= 1, 'a call was processed but its acknowledgement lost');
      const t = tasksOf(sid)[0];
      assert.equal(t.status.exitCode, 0);
      const states = seen.filter((x) => x.id === t.id).map((x) => x.state);
      assert.ok(states.every((st, i) => i === 0 || st > states[i - 1]), `states only move forward, each once: ${states.join(',')}`);
      assert.equal(states[states.length - 1], TaskState.COMPLETE);
      await waitFor(() => w!.reporter.pendingCount() === 0, 'nothing left to report');
      await removeService(h.store(), sid);
    } finally {
      unwatch();
      delete faults.failStatusUpdate;
    }
  });

  it('after an agent restart re-attaches to the running container without a second copy, reports one that exited meanwhile with its real exit code, and stops one removed meanwhile', async () => {
    const keep = await service('keep', { container: { image: 'busybox', command: ['sleep', '60'] } });
    const ends = await service('ends', { container: { image: 'busybox', command: ['sh', '-c', 'sleep 1; exit 4'] } });
    const gone = await service('gone', { container: { image: 'busybox', command: ['sleep', '60'], stopGraceMs: 200 } });
    await waitFor(() => [keep, ends, gone].every((sid) => stateOf(sid) === TaskState.RUNNING), 'all three RUNNING');
    const before = tasksOf(keep)[0].status;
    const goneTask = tasksOf(gone)[0];
    await stopWorker(w!);
    w = undefined;
    await removeService(h.store(), gone); // removed while no agent listens
    await sleep(1500); // 'ends' exits while no agent watches it
    // Nothing configured: the managers learned before the restart are in the worker's store.
    w = await startWorker([]);
    await waitFor(() => stateOf(ends) === TaskState.FAILED, 'the exit seen while down reported');
    assert.equal(tasksOf(ends)[0].status.exitCode, 4);
    await waitFor(() => w!.agent.stats.sessions === 1, 'a session of the new agent');
    await waitFor(() => containersOf(w!.rt, goneTask).length === 0, 'the container of the removed service stopped and removed');
    await sleep(300); // time for a wrong report or a second container to show
    const t = tasksOf(keep)[0];
    const cs = containersOf(w.rt, t);
    assert.equal(cs.length, 1, 'exactly one container for the task');
    assert.deepEqual([t.status.state, t.status.containerId, t.status.pid, cs[0].status, cs[0].pid], [TaskState.RUNNING, before.containerId, before.pid, 'running', before.pid]);
    assert.equal(w.rt.list().filter((c) => c.status === 'running').length, 1, 'no other container started');
  });

  it('when the managers restart (servers down, leader loops restarted, servers back on the same ports), reconnects and nothing is duplicated', async () => {
    const keep = await service('through-restart', { container: { image: 'busybox', command: ['sleep', '60'] } });
    await waitFor(() => stateOf(keep) === TaskState.RUNNING, 'RUNNING');
    const before = tasksOf(keep)[0];
    const sessions = w!.agent.stats.sessions;
    const leader = h.sim.leaderIndex();
    for (const i of [0, 1, 2]) await servers[i].close();
    // The leader's loops start again from the store, as after a restart: the dispatcher's sessions are gone.
    h.sim.transferTo((leader + 1) % 3);
    await waitFor(() => h.sim.leaderIndex() === (leader + 1) % 3, 'leadership moved away');
    h.sim.transferTo(leader);
    await waitFor(() => h.sim.leaderIndex() === leader, 'leadership back');
    for (const i of [0, 1, 2]) {
      const port = Number(addrs[i].split(':')[1]);
      const server = new MtlsServer({ identity: managerIds[i], host: '127.0.0.1', port, clusterId: pki.rootCa.clusterId, membership: { roleOf: (n) => roles.get(n) }, clock: systemClock });
      addDispatcherService(server.grpc, () => (h.managers[i].isLeading() ? h.managers[i].dispatcher : undefined), { faults: faultsOf(i), managers: () => h.managers[i].dispatcher.managers() });
      servers[i] = server;
      await server.listen();
    }
    await waitFor(() => w!.agent.stats.sessions > sessions && w!.agent.stats.manager === addrs[leader], 'a session with the restarted leader');
    await sleep(300); // time for a wrong report or a second container to show
    assert.equal(tasksOf(keep).length, 1, 'no replacement task');
    const t = tasksOf(keep)[0];
    assert.deepEqual([t.id, t.status.state, t.status.containerId, t.status.pid], [before.id, TaskState.RUNNING, before.status.containerId, before.status.pid]);
    assert.equal(containersOf(w!.rt, t).length, 1, 'one container for the task');
    assert.equal(nodeOf().status.state, 'ready');
  });

  it('when its manager stops answering (partitioned from it) and another leads, gives it up and reconnects to the new leader within two heartbeat periods', async () => {
    const keep = await service('partition-survivor', { container: { image: 'busybox', command: ['sleep', '60'] } });
    await waitFor(() => stateOf(keep) === TaskState.RUNNING, 'RUNNING');
    const before = tasksOf(keep)[0].status;
    const old = h.sim.leaderIndex();
    assert.equal(w!.agent.stats.manager, addrs[old]);
    const list = w!.agent.managerList();
    const next = addrs.indexOf(list[(list.indexOf(addrs[old]) + 1) % list.length]);
    const sessions = w!.agent.stats.sessions;
    // Nothing reaches the agent from the old leader any more, not even the end of its session.
    const cutAt = Date.now();
    partitioned = old;
    try {
      h.sim.transferTo(next);
      await waitFor(() => w!.agent.stats.sessions > sessions, 'a session with the new leader', 3 * PERIOD_MS);
      const tookMs = Date.now() - cutAt;
      assert.ok(tookMs <= 2 * PERIOD_MS, `reconnected after ${tookMs} ms, more than two heartbeat periods`);
      assert.equal(w!.agent.stats.manager, addrs[next]);
    } finally {
      partitioned = -1;
    }
    await sleep(300); // time for a wrong report or a second container to show
    const t = tasksOf(keep)[0];
    assert.deepEqual([tasksOf(keep).length, t.status.state, t.status.containerId], [1, TaskState.RUNNING, before.containerId]);
    assert.equal(containersOf(w!.rt, t).length, 1, 'still one container for the task');
    assert.equal(nodeOf().status.state, 'ready');
  });

  it('when its manager stops and another leads, reconnects to the new leader within two heartbeat periods; the running task keeps its one container and new work still arrives', async () => {
    const keep = await service('survivor', { container: { image: 'busybox', command: ['sleep', '60'] } });
    await waitFor(() => stateOf(keep) === TaskState.RUNNING, 'RUNNING');
    const before = tasksOf(keep)[0].status;
    const old = h.sim.leaderIndex();
    assert.equal(w!.agent.stats.manager, addrs[old]);
    const sessions = w!.agent.stats.sessions;
    const next = (old + 1) % 3;
    // The manager goes away first; the others elect a new leader meanwhile.
    const stoppedAt = Date.now();
    closedServers.add(old);
    await servers[old].close();
    h.sim.transferTo(next);
    await waitFor(() => w!.agent.stats.sessions > sessions, 'a session with the new leader', 2 * PERIOD_MS);
    const tookMs = Date.now() - stoppedAt;
    assert.ok(tookMs <= 2 * PERIOD_MS, `reconnected after ${tookMs} ms, more than two heartbeat periods`);
    assert.equal(w!.agent.stats.manager, addrs[next]);
    const after = await service('after-failover', { container: { image: 'busybox', command: ['sh', '-c', 'exit 0'] } });
    await waitFor(() => stateOf(after) === TaskState.COMPLETE, 'a task assigned by the new leader to complete');
    const t = tasksOf(keep)[0];
    assert.deepEqual([t.status.state, t.status.containerId], [TaskState.RUNNING, before.containerId]);
    assert.equal(containersOf(w!.rt, t).length, 1, 'still one container for the task');
  });

  it('serves a task\'s logs to managers over mTLS (tail, timestamps, follow), and refuses a worker certificate', async () => {
    const sid = await service('talker', { container: { image: 'busybox', command: ['sh', '-c', 'echo one; sleep 0.1; echo two >&2; sleep 0.1; echo three; sleep 0.3; echo four'] } });
    await waitFor(() => stateOf(sid) === TaskState.COMPLETE, 'the task COMPLETE');
    const taskId = tasksOf(sid)[0].id;
    const server = new MtlsServer({ identity, host: '127.0.0.1', port: 0, clusterId: pki.rootCa.clusterId, membership: { roleOf: (n) => roles.get(n) }, clock: systemClock, policy: workerPolicy });
    addLogsService(server.grpc, w!.rt, (id) => w!.executor.containerOf(id));
    const addr = `127.0.0.1:${await server.listen()}`;
    const clients: grpc.Client[] = [];
    const read = (id: NodeIdentity, req: Record<string, unknown>): Promise<{ stream: string; time: string; line: string }[]> => {
      const c = new LogsClientCtor(addr, workerChannelCredentials(id), clusterChannelOptions);
      clients.push(c);
      const call = (c as unknown as { taskLogs(r: unknown): grpc.ClientReadableStream<{ stream: string; time: string; line: string }> }).taskLogs(req);
      const out: { stream: string; time: string; line: string }[] = [];
      return new Promise((resolve, reject) => {
        call.on('data', (l: { stream: string; time: string; line: string }) => out.push(l));
        call.on('error', reject);
        call.on('end', () => resolve(out));
      });
    };
    try {
      const manager = await issue('manager');
      const all = await read(manager, { taskId, tail: -1 });
      assert.deepEqual(all.map((l) => [l.stream, l.line, l.time]), [['stdout', 'one', ''], ['stderr', 'two', ''], ['stdout', 'three', ''], ['stdout', 'four', '']]);
      const tail = await read(manager, { taskId, tail: 2, timestamps: true });
      assert.deepEqual(tail.map((l) => l.line), ['three', 'four']);
      assert.ok(tail.every((l) => /^\d{4}-\d\d-\d\dT/.test(l.time)), 'timestamps when asked');
      // 'four' came 300 ms after 'three': since a moment between them, only 'four'.
      const since = await read(manager, { taskId, tail: -1, sinceMs: Date.parse(tail[1].time) - 100 });
      assert.deepEqual(since.map((l) => l.line), ['four']);
      const followed = await read(manager, { taskId, tail: -1, follow: true });
      assert.equal(followed.length, 4, 'follow ends when the container has exited');
      await assert.rejects(read(manager, { taskId: 'nope', tail: -1 }), (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND && /task nope has no container/.test(e.details));
      await assert.rejects(read(await issue('worker'), { taskId, tail: -1 }), (e: grpc.ServiceError) => e.code === grpc.status.PERMISSION_DENIED);
    } finally {
      for (const c of clients) c.close();
      await server.close();
    }
  });
});
