import assert from 'node:assert/strict';
import { ShoalError, FailedPreconditionError, NotFoundError } from '../../src/types/errors';
import { DaemonSet, runningTaskContainers, runningTasks, waitFor, type TestDaemon } from './helpers';

const sleepers = {
  name: 'sleepers',
  mode: 'replicated' as const,
  replicas: 3,
  task: { container: { image: 'busybox:latest', command: ['sleep', '1000'], stopGraceMs: 300 } },
};

describe('shoald: a single-node swarm', function () {
  this.timeout(60_000);
  let set: DaemonSet;
  let d: TestDaemon;

  beforeEach(async () => {
    set = new DaemonSet('single');
    d = await set.start('n1');
  });

  afterEach(async () => {
    const problems = await set.destroy();
    assert.deepEqual(problems, []);
  });

  it('starts out of any swarm, with the runtime up and control refused as Docker does', async () => {
    const st = d.daemon.backend.swarmState();
    assert.equal(st.state, 'inactive');
    assert.equal(st.controlAvailable, false);
    assert.throws(() => d.daemon.backend.control(), (e: unknown) => e instanceof FailedPreconditionError && /not a swarm manager/.test(e.message));
    const info = await d.daemon.backend.engine();
    assert.equal(info.dataRoot, d.dataRoot);
    assert.equal(info.images, 1);
    assert.deepEqual(await d.daemon.backend.containers.listContainers(), []);
    await assert.rejects(d.daemon.backend.swarmLeave(false), (e: unknown) => e instanceof FailedPreconditionError);

    // Single containers run through the daemon's runtime and image store.
    const c = d.daemon.backend.containers;
    const id = await c.createContainer({ image: 'busybox:latest', cmd: ['echo', 'hello from shoald'], config: { network: 'none' } });
    await c.startContainer(id);
    const done = await c.waitContainer(id);
    assert.equal(done.exitCode, 0);
    assert.equal(done.image, 'busybox:latest');
    const lines = [];
    for await (const l of c.containerLogs(id, {})) lines.push(l.line);
    assert.deepEqual(lines, ['hello from shoald']);
    await c.removeContainer(id, false);
    assert.equal((await d.daemon.backend.engine()).containersStopped, 0);
  });

  it('runs a replicated service of 3 busybox tasks in real containers, scales it to 1 and removes it', async () => {
    const b = d.daemon.backend;
    const nodeId = await b.swarmInit({ listenAddr: '', advertiseAddr: '', forceNewCluster: false });
    const st = b.swarmState();
    assert.equal(st.state, 'active');
    assert.equal(st.nodeId, nodeId);
    assert.equal(st.controlAvailable, true);
    assert.deepEqual(st.remoteManagers.map((m) => m.addr), [d.addr]);

    const control = b.control();
    const nodes = await control.listNodes({ roles: [], names: [] });
    assert.equal(nodes.length, 1);
    assert.equal(nodes[0].id, nodeId);
    assert.equal(nodes[0].spec.role, 'manager');
    assert.deepEqual(nodes[0].managerStatus, { raftId: nodes[0].managerStatus!.raftId, addr: d.addr, leader: true, reachability: 'reachable' });
    const cluster = await control.getCluster();
    assert.match(cluster.joinTokens.worker, /^SWMTKN-1-/);

    const svc = await control.createService(sleepers);
    await waitFor(async () => runningTasks(await control.listTasks({ serviceIds: [svc.id], nodeIds: [], desiredStates: [] })).length === 3, '3 running tasks');
    const tasks = runningTasks(await control.listTasks({ serviceIds: [svc.id], nodeIds: [], desiredStates: [] }));
    assert.deepEqual(new Set(tasks.map((t) => t.nodeId)), new Set([nodeId]));
    assert.deepEqual((await runningTaskContainers(d)).sort(), tasks.map((t) => `shoal-task-${t.id}`).sort());
    await waitFor(async () => (await control.getNode(nodeId)).status.state === 'ready', 'the node to be ready');

    // Errors of the leader come back as the same typed errors.
    await assert.rejects(control.getService('no-such-service'), (e: unknown) => e instanceof NotFoundError);
    await assert.rejects(control.createService({ ...sleepers, replicas: -1 }), (e: unknown) => ShoalError.is(e, 'InvalidArgument'));

    const cur = await control.getService('sleepers');
    await control.updateService(cur.id, cur.meta.version, { ...sleepers, replicas: 1 }, false);
    await waitFor(async () => (await runningTaskContainers(d)).length === 1, '1 running container after scaling to 1');

    await control.removeService('sleepers');
    await waitFor(async () => (await runningTaskContainers(d)).length === 0, 'no running container after removing the service');
    await assert.rejects(control.getService('sleepers'), (e: unknown) => e instanceof NotFoundError);

    // A manager leaves only with force; then it is out of the swarm with its state wiped.
    await assert.rejects(b.swarmLeave(false), (e: unknown) => e instanceof FailedPreconditionError && /--force/.test(e.message));
    await b.swarmLeave(true);
    assert.equal(b.swarmState().state, 'inactive');
    assert.throws(() => b.control(), FailedPreconditionError);
  });
});
