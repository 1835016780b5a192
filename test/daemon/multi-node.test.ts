import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ShoalError } from '../../src/types/errors';
import { DaemonSet, runningTaskContainers, runningTasks, waitFor, type TestDaemon } from './helpers';

describe('shoald: joining a swarm', function () {
  this.timeout(60_000);
  let set: DaemonSet;

  beforeEach(() => {
    set = new DaemonSet('multi');
  });

  afterEach(async () => {
    const problems = await set.destroy();
    assert.deepEqual(problems, []);
  });

  async function initFirst(): Promise<{ n1: TestDaemon; workerToken: string; managerToken: string }> {
    const n1 = await set.start('n1');
    await n1.daemon.backend.swarmInit({ listenAddr: '', advertiseAddr: '', forceNewCluster: false });
    const c = await n1.daemon.backend.control().getCluster();
    return { n1, workerToken: c.joinTokens.worker, managerToken: c.joinTokens.manager };
  }

  it('a worker joins with the worker token and runs tasks; a manager joins with the manager token and becomes a raft voter', async () => {
    const { n1, workerToken, managerToken } = await initFirst();
    const n2 = await set.start('n2');
    await n2.daemon.backend.swarmJoin({ remoteAddrs: [n1.addr], joinToken: workerToken, listenAddr: '', advertiseAddr: '' });
    const st2 = n2.daemon.backend.swarmState();
    assert.equal(st2.state, 'active');
    assert.equal(st2.controlAvailable, false);
    assert.equal(st2.clusterId, n1.daemon.backend.swarmState().clusterId);
    assert.throws(() => n2.daemon.backend.control(), (e: unknown) => ShoalError.is(e, 'FailedPrecondition'));
    assert.throws(() => n2.daemon.backend.events({ filter: {} }, new AbortController().signal), (e: unknown) => ShoalError.is(e, 'FailedPrecondition'));

    const control = n1.daemon.backend.control();
    await waitFor(async () => (await control.getNode(st2.nodeId)).status.state === 'ready', 'the worker to be ready');
    const w = await control.getNode(st2.nodeId);
    assert.equal(w.spec.role, 'worker');
    assert.equal(w.description.hostname, 'n2');
    assert.equal(w.status.addr, n2.addr);

    const svc = await control.createService({ name: 'spread', replicas: 4, task: { container: { image: 'busybox:latest', command: ['sleep', '1000'], stopGraceMs: 300 } } });
    await waitFor(async () => runningTasks(await control.listTasks({ serviceIds: [svc.id], nodeIds: [], desiredStates: [] })).length === 4, '4 running tasks');
    const onWorker = runningTasks(await control.listTasks({ serviceIds: [svc.id], nodeIds: [st2.nodeId], desiredStates: [] }));
    assert.ok(onWorker.length >= 1, 'the scheduler spreads tasks to the worker');
    assert.deepEqual((await runningTaskContainers(n2)).sort(), onWorker.map((t) => `shoal-task-${t.id}`).sort());

    // The manager reads a task's logs from the worker's logs service over mTLS.
    const abort = new AbortController();
    const lines = [];
    for await (const l of n1.daemon.backend.serviceLogs('spread', { follow: false, timestamps: false }, abort.signal)) lines.push(l);
    assert.deepEqual(lines, []); // sleep prints nothing; every stream ended cleanly

    const n3 = await set.start('n3');
    await n3.daemon.backend.swarmJoin({ remoteAddrs: [n1.addr], joinToken: managerToken, listenAddr: '', advertiseAddr: '' });
    const st3 = n3.daemon.backend.swarmState();
    assert.equal(st3.controlAvailable, true);
    const managers = (await waitFor(async () => {
      const ms = await n3.daemon.backend.control().listNodes({ roles: ['manager'], names: [] });
      return ms.length === 2 && ms.every((m) => m.managerStatus !== undefined) ? ms : undefined;
    }, 'two managers listed through the new manager'))!;
    assert.equal(managers.filter((m) => m.managerStatus!.leader).length, 1);
    assert.equal(managers.find((m) => m.managerStatus!.leader)!.id, n1.daemon.backend.swarmState().nodeId);
    assert.equal(managers.find((m) => m.id === st3.nodeId)!.managerStatus!.addr, n3.addr);
    const raft = n1.daemon.daemonBackend.swarmNode!.managerParts!.raft;
    assert.deepEqual(raft.status().confState.voters.length, 2);
    // The follower forwards writes to the leader.
    await n3.daemon.backend.control().removeService('spread');
    await waitFor(async () => (await runningTaskContainers(n2)).length === 0 && (await runningTaskContainers(n1)).length === 0, 'no task containers left');
  });

  it('refuses a wrong join token with a clear error and leaves the joining node inactive', async () => {
    const { n1, workerToken } = await initFirst();
    const n2 = await set.start('n2');
    const wrongSecret = workerToken.replace(/-[0-9a-z]{25}$/, `-${'0'.repeat(25)}`);
    await assert.rejects(
      n2.daemon.backend.swarmJoin({ remoteAddrs: [n1.addr], joinToken: wrongSecret, listenAddr: '', advertiseAddr: '' }),
      (e: unknown) => ShoalError.is(e, 'Unauthenticated') && /join token is not valid/.test((e as Error).message),
    );
    const otherCluster = `SWMTKN-1-${'1'.repeat(50)}-${'2'.repeat(25)}`;
    await assert.rejects(
      n2.daemon.backend.swarmJoin({ remoteAddrs: [n1.addr], joinToken: otherCluster, listenAddr: '', advertiseAddr: '' }),
      (e: unknown) => ShoalError.is(e, 'Unauthenticated') && /pins/.test((e as Error).message),
    );
    await assert.rejects(
      n2.daemon.backend.swarmJoin({ remoteAddrs: [n1.addr], joinToken: 'not-a-token', listenAddr: '', advertiseAddr: '' }),
      (e: unknown) => ShoalError.is(e, 'InvalidArgument'),
    );
    assert.equal(n2.daemon.backend.swarmState().state, 'inactive');
    assert.equal(fs.existsSync(path.join(n2.dataRoot, 'certificates', 'node.crt')), false);
    assert.equal(fs.existsSync(path.join(n2.dataRoot, 'swarm.json')), false);
    // Nothing was recorded on the manager either.
    assert.equal((await n1.daemon.backend.control().listNodes({ roles: [], names: [] })).length, 1);
    // The node can still join with the right token afterwards.
    await n2.daemon.backend.swarmJoin({ remoteAddrs: [n1.addr], joinToken: workerToken, listenAddr: '', advertiseAddr: '' });
    assert.equal(n2.daemon.backend.swarmState().state, 'active');
  });
});
