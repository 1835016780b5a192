import assert from 'node:assert/strict';
import { assertOneTaskPerSlot, waitLiveContainers } from './harness/checks';
import { waitFor } from './harness/exec';
import { useSwarm } from './harness/suite';
import { quickStop, Swarm } from './harness/swarm';
import { TestRun } from './harness/test-run';

// Scenarios 6 and 7 of issue 10 on one cluster of 3 managers and 2 workers.

describe('cluster: partition and full restart (scenarios 6, 7)', function () {
  this.timeout(600_000);
  const suite = useSwarm(3, 2, { ready: true });
  let t: TestRun;
  let s: Swarm;
  before(() => ({ t, s } = suite));

  it('6. a manager partitioned away refuses writes (no quorum) while the majority goes on; after healing it catches up', async () => {
    const leader = await s.leader();
    assert.ok(leader);
    const isolated = s.managers.find((h) => s.nodeIdOf.get(h.name) !== leader.ID)!;
    const majority = s.managers.filter((h) => h !== isolated);
    await majority[0].cliOk('service', 'create', '--detach', '--name', 'p', '--replicas', '6', 'busybox', ...quickStop);
    await s.converged('p', 6);

    await isolated.drop('both');
    try {
      await whilePartitioned();
    } finally {
      await isolated.heal();
    }

    async function whilePartitioned(): Promise<void> {
      // the majority keeps accepting changes and converges without the isolated node
      await majority[0].cliOk('service', 'scale', '--detach', 'p=9');
      await majority[1].cliOk('service', 'create', '--detach', '--name', 'q', '--replicas', '4', 'busybox', ...quickStop);
      const onMajority = await s.converged('p', 9, { via: majority[0], where: (tk) => s.hostOfNode(tk.NodeID) !== isolated });
      assertOneTaskPerSlot(onMajority, 9);
      await s.converged('q', 4, { via: majority[0], where: (tk) => s.hostOfNode(tk.NodeID) !== isolated });

      // the isolated manager refuses a write with a clear error
      const refused = await isolated.cli('service', 'scale', '--detach', 'p=2');
      assert.notEqual(refused.code, 0, `write on the isolated manager: ${refused.stdout}`);
      assert.match(refused.stderr, /quorum|leader/i, `a clear error: ${refused.stderr}`);
      const create = await isolated.cli('service', 'create', '--detach', '--name', 'never', 'busybox', 'sleep', '1');
      assert.notEqual(create.code, 0);
      assert.match(create.stderr, /quorum|leader/i, create.stderr);
    }

    await waitFor(`${isolated.name} caught up`, async () => {
      const svcs = await s.services(isolated).catch(() => []);
      const p = svcs.find((x) => x.Spec.Name === 'p');
      return p?.Spec.Mode?.Replicated?.Replicas === 9 && svcs.some((x) => x.Spec.Name === 'q') && !svcs.some((x) => x.Spec.Name === 'never') ? true : undefined;
    }, { timeoutMs: 60_000 });
    await waitFor('all managers reachable', async () => {
      const ns = await s.nodes(isolated);
      return ns.filter((n) => n.ManagerStatus?.Reachability === 'reachable').length === 3 && ns.every((n) => n.Status.State === 'ready') ? true : undefined;
    }, { timeoutMs: 60_000 });
    assertOneTaskPerSlot(await s.converged('p', 9), 9);
    await waitLiveContainers(t, s, 9 + 4);
  });

  it('7. kill -9 of every node and a restart: the cluster comes back from disk with all services and the same replica counts', async () => {
    const before = (await s.services()).map((x) => [x.Spec.Name, x.Spec.Mode?.Replicated?.Replicas]).sort();
    for (const h of s.hosts) await h.kill9();
    await Promise.all(s.hosts.map((h) => h.restart()));
    await waitFor('a leader after the restart', async () => (await s.leader().catch(() => undefined)) ?? undefined, { timeoutMs: 60_000 });
    const after = (await s.services()).map((x) => [x.Spec.Name, x.Spec.Mode?.Replicated?.Replicas]).sort();
    assert.deepEqual(after, before);
    let states = '';
    await waitFor('5 ready nodes', async () => {
      const ns = await s.nodes();
      states = JSON.stringify(ns.map((n) => [n.Description?.Hostname, n.Status.State, n.ManagerStatus?.Reachability]));
      return ns.filter((n) => n.Status.State === 'ready').length === 5 ? true : undefined;
    }, { timeoutMs: 60_000, last: () => states });
    assertOneTaskPerSlot(await s.converged('p', 9), 9);
    assertOneTaskPerSlot(await s.converged('q', 4), 4);
    await waitLiveContainers(t, s, 9 + 4);
  });

  it('7b. two of three managers gone for good: swarm init --force-new-cluster on the third brings the cluster back from its state', async () => {
    const survivor = s.managers[2];
    const survivorId = s.nodeIdOf.get(survivor.name)!;
    const dead = s.managers.filter((h) => h !== survivor);
    const before = (await s.services(survivor)).map((x) => [x.Spec.Name, x.Spec.Mode?.Replicated?.Replicas]).sort();
    for (const h of dead) await h.kill9();
    const refused = await survivor.cli('service', 'scale', '--detach', 'p=7');
    assert.notEqual(refused.code, 0, 'a write without a quorum');
    assert.match(refused.stderr, /quorum|leader/i, refused.stderr);
    // A worker cannot do it.
    const onWorker = await s.workers[0].cli('swarm', 'init', '--force-new-cluster');
    assert.notEqual(onWorker.code, 0);
    assert.match(onWorker.stderr, /this node is a worker; only a manager can start a new cluster/, onWorker.stderr);

    await survivor.cliOk('swarm', 'init', '--force-new-cluster');
    // The survivor may have led before (its stored leader flag then shows at once): wait for the
    // new leadership's own write, which marks the lost managers unreachable in the same change.
    let seen = '';
    await waitFor('the survivor leading, the lost managers unreachable', async () => {
      const managers = (await s.nodes(survivor)).filter((n) => n.Spec.Role === 'manager');
      const view = managers.map((n) => [n.ID === survivorId, n.ManagerStatus?.Leader === true, n.ManagerStatus?.Reachability]).sort();
      seen = JSON.stringify(view);
      return seen === JSON.stringify([[false, false, 'unreachable'], [false, false, 'unreachable'], [true, true, 'reachable']]) ? true : undefined;
    }, { timeoutMs: 30_000, last: () => seen });
    assert.deepEqual((await s.services(survivor)).map((x) => [x.Spec.Name, x.Spec.Mode?.Replicated?.Replicas]).sort(), before, 'every service kept');

    // Writes are taken again, and the tasks of the dead managers' nodes are replaced on the living.
    await survivor.cliOk('service', 'scale', '--detach', 'p=7');
    const living = (tk: { NodeID?: string }): boolean => !dead.includes(s.hostOfNode(tk.NodeID)!);
    // Scaled from 9 while two nodes were lost: which 7 slots stay depends on where the tasks ran.
    assertOneTaskPerSlot(await s.converged('p', 7, { via: survivor, where: living, timeoutMs: 60_000 }), 7, { anySlots: true });
    await s.converged('q', 4, { via: survivor, where: living, timeoutMs: 60_000 });
    // The dead managers can be demoted and removed (they count toward no quorum now).
    await survivor.cliOk('node', 'demote', s.nodeIdOf.get(dead[0].name)!);
    await survivor.cliOk('node', 'rm', '--force', s.nodeIdOf.get(dead[0].name)!);
    await survivor.cliOk('node', 'rm', '--force', s.nodeIdOf.get(dead[1].name)!);
    const left = (await s.nodes(survivor)).map((n) => n.ID).sort();
    assert.deepEqual(left, [survivorId, ...s.workers.map((w) => s.nodeIdOf.get(w.name)!)].sort());
  });
});
