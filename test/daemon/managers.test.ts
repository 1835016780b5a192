import assert from 'node:assert/strict';
import { ShoalError } from '../../src/types/errors';
import { DaemonSet, waitFor } from './helpers';

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

  it('a manager joins through a follower; the leader leaves with --force and the other two keep a quorum', async () => {
    const n1 = await set.start('n1');
    await n1.daemon.backend.swarmInit({ listenAddr: '', advertiseAddr: '', forceNewCluster: false });
    const token = (await n1.daemon.backend.control().getCluster()).joinTokens.manager;
    const n2 = await set.start('n2');
    await n2.daemon.backend.swarmJoin({ remoteAddrs: [n1.addr], joinToken: token, listenAddr: '', advertiseAddr: '' });
    // n2 follows: the CA join, the raft seat and the vote are all forwarded to the leader.
    const n3 = await set.start('n3');
    await n3.daemon.backend.swarmJoin({ remoteAddrs: [n2.addr], joinToken: token, listenAddr: '', advertiseAddr: '' });
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
});
