import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ShoalError } from '../../src/types/errors';
import { DaemonSet, runningTaskContainers, sleep, waitFor, type TestDaemon } from './helpers';

describe('shoald: a group of managers', function () {
  this.timeout(60_000);
  let set: DaemonSet;

  beforeEach(() => {
    set = new DaemonSet('mgrs');
  });

  afterEach(async () => {
    const problems = await set.destroy();
    assert.deepEqual(problems, []);
  });

  /** n1 inits a swarm; n2 joins it as a manager through n1, n3 through `n3Via`. */
  async function threeManagers(n3Via: 'n1' | 'n2'): Promise<[TestDaemon, TestDaemon, TestDaemon]> {
    const n1 = await set.start('n1');
    await n1.daemon.backend.swarmInit({ listenAddr: '', advertiseAddr: '', forceNewCluster: false });
    const token = (await n1.daemon.backend.control().getCluster()).joinTokens.manager;
    const n2 = await set.start('n2');
    await n2.daemon.backend.swarmJoin({ remoteAddrs: [n1.addr], joinToken: token, listenAddr: '', advertiseAddr: '' });
    const n3 = await set.start('n3');
    await n3.daemon.backend.swarmJoin({ remoteAddrs: [(n3Via === 'n1' ? n1 : n2).addr], joinToken: token, listenAddr: '', advertiseAddr: '' });
    return [n1, n2, n3];
  }

  it('a manager joins through a follower; the leader leaves with --force and the other two keep a quorum', async () => {
    // n3 joins through n2, a follower: the CA join, the raft seat and the vote are all forwarded to the leader.
    const [n1, n2, n3] = await threeManagers('n2');
    const voters = (): readonly number[] => n2.daemon.daemonBackend.swarmNode!.managerParts!.raft.status().confState.voters;
    assert.equal(voters().length, 3);
    const managers = await n3.daemon.backend.control().listNodes({ roles: ['manager'], names: [] });
    assert.equal(managers.length, 3);

    // Docker's guard, then the forced leave of the leader.
    await assert.rejects(n1.daemon.backend.swarmLeave(false), (e: unknown) => ShoalError.is(e, 'FailedPrecondition') && /leaves 2 managers out of 3/.test((e as Error).message));
    await n1.daemon.backend.swarmLeave(true);
    assert.equal(n1.daemon.backend.swarmState().state, 'inactive');
    await waitFor(() => voters().length === 2, 'the leaving manager out of the raft group');
    const control = n2.daemon.backend.control();
    const svc = await waitFor(() => control.createService({ name: 'after', replicas: 1, task: { container: { image: 'busybox:latest', command: ['sleep', '1000'], stopGraceMs: 300 } } }), 'a write after the leader left');
    assert.equal((await n3.daemon.backend.control().getService('after')).id, svc.id);
    await control.removeService('after');
  });

  it('a demoted manager gives up its raft seat and CA key and carries on as a worker, also after a restart; promoted again, it takes a new seat', async () => {
    const n1 = await set.start('n1');
    await n1.daemon.backend.swarmInit({ listenAddr: '', advertiseAddr: '', forceNewCluster: false });
    const control = n1.daemon.backend.control();
    const n2 = await set.start('n2');
    await n2.daemon.backend.swarmJoin({ remoteAddrs: [n1.addr], joinToken: (await control.getCluster()).joinTokens.manager, listenAddr: '', advertiseAddr: '' });
    const id2 = n2.daemon.backend.swarmState().nodeId;
    await waitFor(async () => (await control.getNode(id2)).status.state === 'ready', 'the second manager ready');

    // Read-modify-write, again if the managers' own writes (its promotion to voter, its reachability) raced it.
    await waitFor(async () => {
      const before = await control.getNode(id2);
      return control.updateNode(id2, before.meta.version, { role: 'worker' });
    }, 'the second manager demoted');
    // The node finds out, stops being a manager, then forgets its Raft log and CA key.
    await waitFor(() => !n2.daemon.backend.swarmState().controlAvailable && !fs.existsSync(path.join(n2.dataRoot, 'raft')), 'the demoted node to stop being a manager', 20_000);
    assert.equal(n2.daemon.daemonBackend.swarmNode!.identity.info.role, 'worker');
    assert.equal(fs.existsSync(path.join(n2.dataRoot, 'certificates', 'ca.key')), false);
    assert.deepEqual(n1.daemon.daemonBackend.swarmNode!.managerParts!.raft.status().confState.voters.length, 1);
    assert.throws(() => n2.daemon.backend.control(), (e: unknown) => ShoalError.is(e, 'FailedPrecondition'));

    // As a worker it still runs tasks, with its new certificate, also after a restart.
    await n2.restart();
    assert.equal(n2.daemon.backend.swarmState().controlAvailable, false);
    assert.equal(n2.daemon.backend.swarmState().nodeId, id2);
    // Read-modify-write, again if the managers' own status writes raced it.
    await waitFor(async () => {
      const self = await control.getNode(n1.daemon.backend.swarmState().nodeId);
      return control.updateNode(self.id, self.meta.version, { availability: 'drain' });
    }, 'the manager drained');
    await control.createService({ name: 'on-demoted', replicas: 1, task: { container: { image: 'busybox:latest', command: ['sleep', '1000'], stopGraceMs: 300 } } });
    await waitFor(async () => (await runningTaskContainers(n2)).length === 1, 'a task on the demoted node');
    await control.removeService('on-demoted');
    await waitFor(async () => (await runningTaskContainers(n2)).length === 0, 'the task gone');

    // Promoted again, it takes a manager certificate and a new raft seat.
    await waitFor(async () => {
      const n = await control.getNode(id2);
      return control.updateNode(id2, n.meta.version, { role: 'manager' });
    }, 'the promotion written');
    await waitFor(() => n2.daemon.backend.swarmState().controlAvailable, 'the promoted node to be a manager', 30_000);
    assert.equal(n2.daemon.daemonBackend.swarmNode!.identity.info.role, 'manager');
    assert.equal(n1.daemon.daemonBackend.swarmNode!.managerParts!.raft.status().confState.voters.length, 2);
    const managers = await n2.daemon.backend.control().listNodes({ roles: ['manager'], names: [] });
    assert.equal(managers.length, 2);
    assert.ok(fs.existsSync(path.join(n2.dataRoot, 'certificates', 'ca.key')));
  });

  it('the leader of three managers restarts: another leads meanwhile, and it comes back as a follower serving control', async () => {
    const [n1, n2, n3] = await threeManagers('n1');
    const svc = await n1.daemon.backend.control().createService({ name: 'kept', replicas: 3, task: { container: { image: 'busybox:latest', command: ['sleep', '1000'], stopGraceMs: 300 } } });
    await waitFor(async () => (await n1.daemon.backend.control().listTasks({ serviceIds: [svc.id], nodeIds: [], desiredStates: [] })).filter((t) => t.status.state === 512).length === 3, '3 running tasks');
    const before = (await n1.daemon.backend.containers.listContainers()).map((c) => c.id).sort();

    await n1.daemon.stop();
    const raft2 = n2.daemon.daemonBackend.swarmNode!.managerParts!.raft;
    await waitFor(() => raft2.leaderId() !== 0 && n2.daemon.daemonBackend.swarmNode!.managerParts!.raft.peers().size === 3 && (raft2.isLeader() || n3.daemon.daemonBackend.swarmNode!.managerParts!.raft.isLeader()), 'n2 or n3 to lead');
    await n1.restart();
    const control = n1.daemon.backend.control();
    const again = await waitFor(() => control.getService('kept'), 'control through the restarted manager');
    assert.equal(again.id, svc.id);
    await waitFor(() => n1.daemon.daemonBackend.swarmNode!.managerParts!.raft.leaderId() !== 0, 'the restarted manager to know the leader');
    const managers = await waitFor(async () => {
      const ms = await control.listNodes({ roles: ['manager'], names: [] });
      return ms.filter((m) => m.managerStatus?.leader === true).length === 1 ? ms : undefined;
    }, 'one leader among the managers');
    assert.equal(managers!.length, 3);
    // Its tasks run on in the same containers: none was made twice.
    await waitFor(async () => (await control.getNode(n1.daemon.backend.swarmState().nodeId)).status.state === 'ready', 'n1\'s agent back');
    await sleep(1000);
    assert.equal((await control.listTasks({ serviceIds: [svc.id], nodeIds: [], desiredStates: [] })).filter((t) => t.status.state === 512).length, 3);
    assert.deepEqual((await n1.daemon.backend.containers.listContainers()).map((c) => c.id).sort(), before);
    // Writes from the restarted follower reach the new leader.
    await control.removeService('kept');
    await waitFor(async () => (await n1.daemon.backend.containers.listContainers()).filter((c) => c.status === 'running').length === 0, 'the tasks stopped on n1');
  });
});
