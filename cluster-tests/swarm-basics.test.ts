import assert from 'node:assert/strict';
import { sleep, waitFor } from './harness/exec';
import { assertOneTaskPerSlot, waitLiveContainers } from './harness/checks';
import { useSwarm } from './harness/suite';
import { Swarm } from './harness/swarm';
import { TestRun } from './harness/test-run';

// Scenarios 1, 2, 4 and 5 of issue 10 on one cluster of 3 managers and 2 workers, one network
// namespace and one real shoald per host, driven through the shoal CLI and the local API.

describe('cluster: 3 managers + 2 workers (scenarios 1, 2, 4, 5)', function () {
  this.timeout(600_000);
  const suite = useSwarm(3, 2);
  let t: TestRun;
  let s: Swarm;
  before(() => ({ t, s } = suite));

  it('1. node ls shows 3 managers (1 leader) and 2 workers, all ready', async () => {
    const nodes = await waitFor('5 ready nodes', async () => {
      const ns = await s.nodes();
      return ns.length === 5 && ns.every((n) => n.Status.State === 'ready') ? ns : undefined;
    });
    const managers = nodes.filter((n) => n.Spec.Role === 'manager');
    const workers = nodes.filter((n) => n.Spec.Role === 'worker');
    assert.equal(managers.length, 3);
    assert.equal(workers.length, 2);
    assert.equal(managers.filter((n) => n.ManagerStatus?.Leader === true).length, 1, 'exactly one leader');
    assert.ok(managers.every((n) => n.ManagerStatus?.Reachability === 'reachable'), JSON.stringify(managers.map((n) => n.ManagerStatus)));
    assert.ok(workers.every((n) => n.ManagerStatus === undefined));
    assert.deepEqual(nodes.map((n) => n.Description?.Hostname).sort(), ['h1', 'h2', 'h3', 'h4', 'h5']);
    await s.learnNodeIds();

    // The same as a user sees it in `shoal node ls` on any manager.
    const out = await t.hosts[1].cliOk('node', 'ls');
    const rows = out.trim().split('\n').slice(1);
    assert.equal(rows.length, 5, out);
    assert.equal(rows.filter((r) => /\bLeader\b/.test(r)).length, 1, out);
    assert.equal(rows.filter((r) => /\bReachable\b/.test(r)).length, 2, out);
    assert.ok(rows.every((r) => /\bReady\b/.test(r) && /\bActive\b/.test(r)), out);
    // A worker cannot answer it: it is not a manager.
    const onWorker = await t.hosts[4].cli('node', 'ls');
    assert.notEqual(onWorker.code, 0);
    assert.match(onWorker.stderr, /manager/i);
  });

  it('2. 20 replicas spread 4 per node; scale to 40 (8 each), then to 5', async () => {
    await t.hosts[0].cliOk('service', 'create', '--detach', '--name', 'web', '--replicas', '20', 'busybox', 'sleep', '1000');
    let tasks = await s.converged('web', 20);
    assert.deepEqual(Object.values(s.perHost(tasks)), [4, 4, 4, 4, 4], JSON.stringify(s.perHost(tasks)));
    assertOneTaskPerSlot(tasks, 20);

    await t.hosts[1].cliOk('service', 'scale', '--detach', 'web=40');
    tasks = await s.converged('web', 40);
    assert.deepEqual(Object.values(s.perHost(tasks)), [8, 8, 8, 8, 8], JSON.stringify(s.perHost(tasks)));
    assertOneTaskPerSlot(tasks, 40);

    await t.hosts[2].cliOk('service', 'scale', '--detach', 'web=5');
    tasks = await s.converged('web', 5);
    assertOneTaskPerSlot(tasks, 5);
    // the containers of the 35 removed tasks are stopped on every host
    await waitLiveContainers(t, s, 5);
    const svc = await s.service('web');
    assert.equal(svc.Spec.Mode?.Replicated?.Replicas, 5);
  });

  it('4. kill -9 of the leader: a new leader within 3 s, scale accepted and converged, no task lost or duplicated, the old leader rejoins as a follower', async () => {
    const oldLeader = await s.leader();
    assert.ok(oldLeader, 'a leader before the kill');
    const oldHost = s.hostOfNode(oldLeader.ID)!;
    const others = s.managers.filter((h) => h !== oldHost);
    const t0 = Date.now();
    await oldHost.kill9();
    const newLeader = await waitFor('a new leader', async () => {
      for (const m of others) {
        const l = await s.leader(m).catch(() => undefined);
        if (l !== undefined && l.ID !== oldLeader.ID) return l;
      }
      return undefined;
    }, { timeoutMs: 10_000, everyMs: 50 });
    const electedMs = Date.now() - t0;
    assert.ok(electedMs <= 3000, `new leader after ${electedMs} ms (at most 3 s)`);

    const via = others[0];
    await waitFor('service scale accepted', async () => {
      const r = await via.cli('service', 'scale', '--detach', 'web=12');
      return r.code === 0 ? true : undefined;
    }, { timeoutMs: 10_000, everyMs: 100 });
    let tasks = await s.converged('web', 12, { via, where: (tk) => s.hostOfNode(tk.NodeID) !== oldHost });
    assertOneTaskPerSlot(tasks, 12);

    await oldHost.restart();
    await waitFor(`${oldHost.name} back as a reachable follower`, async () => {
      const ns = await s.nodes(via);
      const me = ns.find((n) => n.ID === oldLeader.ID);
      const leader = ns.find((n) => n.ManagerStatus?.Leader === true);
      return me?.ManagerStatus?.Reachability === 'reachable' && me.Status.State === 'ready' && leader?.ID === newLeader.ID ? true : undefined;
    }, { timeoutMs: 60_000 });
    // It answers as a manager again, sees the same state, and takes writes (forwarded to the leader).
    assert.equal((await s.service('web', oldHost)).Spec.Mode?.Replicated?.Replicas, 12);
    await oldHost.cliOk('service', 'scale', '--detach', 'web=12');
    tasks = await s.converged('web', 12);
    assertOneTaskPerSlot(tasks, 12);
    // The kernel's view: exactly 12 containers of the service live across all hosts.
    await waitLiveContainers(t, s, 12);
  });

  it('5. kill -9 of a worker: its tasks are replaced on the others; when it comes back its stale containers are stopped', async () => {
    const worker = t.hosts[4];
    await t.hosts[0].cliOk('service', 'create', '--detach', '--name', 'w5', '--replicas', '10', 'busybox', 'sleep', '1000');
    let tasks = await s.converged('w5', 10);
    const onWorker = tasks.filter((tk) => s.hostOfNode(tk.NodeID) === worker);
    assert.ok(onWorker.length > 0, `w5 has tasks on ${worker.name}: ${JSON.stringify(s.perHost(tasks))}`);
    const staleContainers = t.liveContainers(worker);
    assert.ok(staleContainers.length >= onWorker.length);

    const t0 = Date.now();
    await worker.kill9();
    tasks = await s.converged('w5', 10, { where: (tk) => s.hostOfNode(tk.NodeID) !== worker, timeoutMs: 120_000 });
    const replacedMs = Date.now() - t0;
    assertOneTaskPerSlot(tasks, 10);
    const node = (await s.nodes()).find((n) => n.ID === s.nodeIdOf.get(worker.name));
    assert.equal(node?.Status.State, 'down', `${worker.name} is marked down (replaced after ${replacedMs} ms)`);
    // its containers outlived shoald (their monitors hold them)
    assert.ok(staleContainers.every((c) => t.liveContainers(worker).includes(c)));

    await worker.restart();
    await waitFor(`${worker.name} ready again`, async () => {
      const n = (await s.nodes()).find((x) => x.ID === s.nodeIdOf.get(worker.name));
      return n?.Status.State === 'ready' ? true : undefined;
    }, { timeoutMs: 60_000 });
    await waitFor(`${worker.name}'s stale containers stopped`, () => {
      const live = t.liveContainers(worker);
      return staleContainers.every((c) => !live.includes(c)) ? true : undefined;
    }, { timeoutMs: 60_000, last: () => t.liveContainers(worker).join(',') });
    tasks = await s.converged('w5', 10);
    assertOneTaskPerSlot(tasks, 10);
    await sleep(1000);
    await waitLiveContainers(t, s, 12 + 10);
  });
});
