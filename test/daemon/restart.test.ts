import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Daemon } from '../../src/daemon/daemon';
import { ShoalError } from '../../src/types/errors';
import { DaemonSet, runningTaskContainers, runningTasks, sleep, testLogger, waitFor, type TestDaemon } from './helpers';

const spec = (name: string, replicas: number) => ({ name, replicas, task: { container: { image: 'busybox:latest', command: ['sleep', '1000'], stopGraceMs: 300 } } });

/** Every task container on a host, running or not, by id. */
async function containerIds(td: TestDaemon): Promise<string[]> {
  return (await td.daemon.backend.containers.listContainers()).filter((c) => c.name.startsWith('shoal-task-')).map((c) => c.id).sort();
}

describe('shoald: restart on the same data root', function () {
  this.timeout(60_000);
  let set: DaemonSet;

  beforeEach(() => {
    set = new DaemonSet('restart');
  });

  afterEach(async () => {
    const problems = await set.destroy();
    assert.deepEqual(problems, []);
  });

  it('a manager comes back as the same node with its services and tasks, re-attached to the same containers', async () => {
    const n1 = await set.start('n1');
    const nodeId = await n1.daemon.backend.swarmInit({ listenAddr: '', advertiseAddr: '', forceNewCluster: false });
    const svc = await n1.daemon.backend.control().createService(spec('keep', 3));
    await waitFor(async () => runningTasks(await n1.daemon.backend.control().listTasks({ serviceIds: [svc.id], nodeIds: [], desiredStates: [] })).length === 3, '3 running tasks');
    const tasksBefore = (await n1.daemon.backend.control().listTasks({ serviceIds: [svc.id], nodeIds: [], desiredStates: [] })).map((t) => t.id).sort();
    const containersBefore = await containerIds(n1);
    assert.equal(containersBefore.length, 3);

    await n1.restart();
    const st = n1.daemon.backend.swarmState();
    assert.equal(st.state, 'active');
    assert.equal(st.nodeId, nodeId);
    const control = n1.daemon.backend.control();
    const again = await waitFor(() => control.getService('keep'), 'the service after the restart');
    assert.equal(again.id, svc.id);
    // The agent re-registers (the node is ready again) and reports its re-attached tasks.
    await waitFor(async () => (await control.getNode(nodeId)).status.state === 'ready', 'the node ready again');
    await sleep(1500);
    const tasksAfter = await control.listTasks({ serviceIds: [svc.id], nodeIds: [], desiredStates: [] });
    assert.deepEqual(tasksAfter.map((t) => t.id).sort(), tasksBefore);
    assert.equal(runningTasks(tasksAfter).length, 3);
    assert.deepEqual(await containerIds(n1), containersBefore, 'no container was added or replaced');
    assert.equal((await runningTaskContainers(n1)).length, 3);
  });

  it('a worker comes back re-attached to its containers without duplicating a task', async () => {
    const n1 = await set.start('n1');
    await n1.daemon.backend.swarmInit({ listenAddr: '', advertiseAddr: '', forceNewCluster: false });
    const control = n1.daemon.backend.control();
    // Only the worker runs tasks: the manager is drained.
    const selfId = n1.daemon.backend.swarmState().nodeId;
    await waitFor(async () => (await control.getNode(selfId)).status.state === 'ready', 'the manager\'s own agent ready');
    // Read-modify-write, again if the managers' own status writes raced it.
    await waitFor(async () => {
      const self = await control.getNode(selfId);
      return control.updateNode(self.id, self.meta.version, { availability: 'drain' });
    }, 'the manager drained');
    const n2 = await set.start('n2');
    await n2.daemon.backend.swarmJoin({ remoteAddrs: [n1.addr], joinToken: (await control.getCluster()).joinTokens.worker, listenAddr: '', advertiseAddr: '' });
    const workerId = n2.daemon.backend.swarmState().nodeId;
    await waitFor(async () => (await control.getNode(workerId)).status.state === 'ready', 'the worker ready');
    const svc = await control.createService(spec('onworker', 2));
    await waitFor(async () => runningTasks(await control.listTasks({ serviceIds: [svc.id], nodeIds: [workerId], desiredStates: [] })).length === 2, '2 running tasks on the worker');
    const before = await containerIds(n2);
    assert.equal(before.length, 2);

    await n2.restart();
    assert.equal(n2.daemon.backend.swarmState().nodeId, workerId);
    await waitFor(async () => (await control.getNode(workerId)).status.state === 'ready', 'the worker ready again');
    await sleep(1500);
    assert.deepEqual(await containerIds(n2), before);
    assert.equal(runningTasks(await control.listTasks({ serviceIds: [svc.id], nodeIds: [], desiredStates: [] })).length, 2);

    // Leaving stops and removes the worker's containers and wipes its swarm state.
    await n2.daemon.backend.swarmLeave(false);
    assert.equal(n2.daemon.backend.swarmState().state, 'inactive');
    assert.deepEqual(await containerIds(n2), []);
    for (const f of ['certificates', 'worker', 'swarm.json']) assert.equal(fs.existsSync(path.join(n2.dataRoot, f)), false, `${f} is wiped`);
  });

  it('refuses to start on a data root whose swarm state is half there, naming what is wrong', async () => {
    const n1 = await set.start('n1');
    await n1.daemon.backend.swarmInit({ listenAddr: '', advertiseAddr: '', forceNewCluster: false });
    await n1.daemon.stop();
    fs.rmSync(path.join(n1.dataRoot, 'swarm.json'));
    const cfg = {
      dataRoot: n1.dataRoot, socketPath: '', runRoot: n1.dataRoot, listenAddr: n1.addr, advertiseAddr: '', metricsAddr: '',
      logLevel: 'info' as const, eventsNats: '', labels: {},
    };
    await assert.rejects(
      Daemon.start(cfg, { logger: testLogger('again'), tuning: { cgroupParent: n1.cgroupParent, taskNetwork: 'none' } }),
      (e: unknown) => ShoalError.is(e, 'FailedPrecondition') && /damaged/.test((e as Error).message) && /swarm\.json is missing/.test((e as Error).message),
    );
  });

  it('refuses to start a manager whose raft log is damaged, naming it, instead of starting empty', async () => {
    const n1 = await set.start('n1');
    await n1.daemon.backend.swarmInit({ listenAddr: '', advertiseAddr: '', forceNewCluster: false });
    await n1.daemon.stop();
    fs.rmSync(path.join(n1.dataRoot, 'raft', 'db', 'CURRENT'));
    const cfg = {
      dataRoot: n1.dataRoot, socketPath: '', runRoot: n1.dataRoot, listenAddr: n1.addr, advertiseAddr: '', metricsAddr: '',
      logLevel: 'info' as const, eventsNats: '', labels: {},
    };
    await assert.rejects(
      Daemon.start(cfg, { logger: testLogger('again'), tuning: { cgroupParent: n1.cgroupParent, taskNetwork: 'none' } }),
      (e: unknown) => ShoalError.is(e) && (e as Error).message.includes(path.join(n1.dataRoot, 'raft')),
    );
  });
});
