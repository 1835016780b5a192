import assert from 'node:assert/strict';
import { TaskState, type Node, type Service } from '../../src/types/objects';
import { deriveEvents, type ShoalEvent } from '../../src/events/event';
import { LevelRaftStorage } from '../../src/raft/storage/level-storage';
import { ShoalError } from '../../src/types/errors';
import * as path from 'node:path';
import { DurableCluster, type DurableManager } from './durable/durable-cluster';

const spec = (name: string, replicas: number, image: string, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ name, replicas, task: { container: { image } }, ...extra });

/** The managerStatus of manager m's Node as `on`'s store has it. */
const statusOf = (on: DurableManager, m: { nodeId: string }): Node['managerStatus'] => on.store.view.get('node', m.nodeId)?.managerStatus;

describe('managers on durable Raft nodes (LevelDB, mTLS gRPC)', function () {
  this.timeout(120_000);
  let c: DurableCluster | undefined;
  afterEach(async () => {
    await c?.destroy();
    c = undefined;
  });

  it('scales a service 3 -> 10 -> 0 and every manager holds the same tasks', async () => {
    c = await DurableCluster.create();
    for (const h of ['w1', 'w2', 'w3']) await c.addWorker(h);
    const leader = await c.leader();
    const svc = await leader.api.createService(spec('web', 3, 'web:1'));
    await c.until(() => c!.running(svc.id).length === 3, 30_000, '3 running');
    for (const replicas of [10, 0]) {
      const cur = leader.store.view.get('service', svc.id)!;
      await leader.api.updateService(svc.id, cur.meta.version, JSON.stringify({ ...cur.spec, replicas }), false);
      await c.until(() => c!.running(svc.id).length === replicas && leader.store.view.tasksOfService(svc.id).every((t) => t.desiredState <= TaskState.RUNNING || t.status.state >= TaskState.COMPLETE), 30_000, `${replicas} running`);
      if (replicas === 10) assert.deepEqual(c.running(svc.id).map((t) => t.slot).sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    }
    await c.until(() => [...c!.managers.values()].every((m) => m.store.view.version === leader.store.view.version), 10_000, 'every manager caught up');
    const image = (m: DurableManager): string => JSON.stringify(m.store.view.all());
    for (const m of c.managers.values()) assert.equal(image(m), image(leader), `manager ${m.raftId} holds the leader's objects`);
    c.assertNoLoopErrors();
  });

  it('a new leader resumes a rolling update after the leader stops, updating every slot exactly once', async () => {
    c = await DurableCluster.create();
    for (const h of ['w1', 'w2', 'w3']) await c.addWorker(h);
    const first = await c.leader();
    const svc = await first.api.createService(spec('api', 10, 'api:1', { update: { parallelism: 2, delayMs: 300, monitorMs: 300 } }));
    await c.until(() => c!.running(svc.id).length === 10, 30_000, '10 running');
    // Every slot's tasks of the new spec, as the surviving managers apply them.
    const created = new Map<number, Map<number, string[]>>();
    for (const m of c.managers.values()) {
      if (m === first) continue;
      const bySlot = new Map<number, string[]>();
      created.set(m.raftId, bySlot);
      m.store.watch((e) => {
        for (const ch of e.changes) {
          const t = ch.after as { slot?: number; spec?: { container: { image: string } } } | undefined;
          if (ch.kind === 'task' && ch.before === undefined && t?.spec?.container.image === 'api:2') bySlot.set(t.slot!, [...(bySlot.get(t.slot!) ?? []), ch.id]);
        }
      });
    }
    const cur = first.store.view.get('service', svc.id)!;
    await first.api.updateService(svc.id, cur.meta.version, JSON.stringify({ ...cur.spec, task: { ...cur.spec.task, container: { ...cur.spec.task.container, image: 'api:2' } } }), false);
    const fresh = (): number => first.store.view.tasksOfService(svc.id).filter((t) => t.spec.container.image === 'api:2').length;
    await c.until(() => fresh() >= 3, 30_000, 'the second batch to start');
    assert.ok(fresh() < 10, 'the update is still in progress when the leader stops');
    await c.stop(first.raftId);

    const next = await c.leader();
    assert.notEqual(next.raftId, first.raftId);
    await c.until(() => next.store.view.get('service', svc.id)?.updateStatus?.state === 'completed', 60_000, 'the update to complete under the new leader');
    await c.until(() => c!.running(svc.id).filter((t) => t.spec.container.image === 'api:2').length === 10, 30_000, '10 running the new image');
    for (const [raftId, bySlot] of created) {
      const slots = [...bySlot.keys()].sort((a, b) => a - b);
      assert.deepEqual(slots, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], `manager ${raftId}: every slot updated`);
      for (const [slot, ids] of bySlot) assert.equal(ids.length, 1, `manager ${raftId}: slot ${slot} updated once, got ${ids.join(', ')}`);
    }
    c.assertNoLoopErrors();
  });

  it('a manager restarted from its data directory comes back with an identical store (snapshot + log replay)', async () => {
    c = await DurableCluster.create({ snapshotEveryEntries: 10, keepTailEntries: 0 });
    for (const h of ['w1', 'w2']) await c.addWorker(h);
    const leader = await c.leader();
    const svc = await leader.api.createService(spec('db', 8, 'db:1'));
    await c.until(() => c!.running(svc.id).length === 8, 30_000, '8 running');
    await leader.api.createService(spec('cache', 2, 'cache:1'));
    await c.until(() => leader.store.view.tasksWithState(TaskState.RUNNING).length === 10, 30_000, '10 running');
    // Freeze the cluster: no loop writes any more.
    for (const m of c.managers.values()) m.manager.close();
    await c.until(() => [...c!.managers.values()].every((m) => m.store.view.version === leader.store.view.version), 10_000, 'every manager caught up');
    const follower = [...c.managers.values()].find((m) => m !== leader)!;
    // A few more writes, until the follower has a snapshot (its log starts after it) and entries after it.
    const snapshotAt = (): number => follower.node.status().firstIndex - 1;
    for (let i = 0; snapshotAt() === 0 || follower.node.status().applied - snapshotAt() < 2; i++) {
      assert.ok(i < 30, 'the follower takes a snapshot every 10 entries');
      const s = leader.store.view.get('service', svc.id)!;
      await leader.store.write([{ op: 'update', target: { kind: 'service', object: { ...s, spec: { ...s.spec, labels: { round: String(i) } } } } }]);
      await c.until(() => follower.store.view.version === leader.store.view.version, 10_000, 'the follower to apply');
    }
    const before = { version: follower.store.view.version, objects: JSON.stringify(follower.store.view.all()) };
    await c.stop(follower.raftId);

    const storage = await LevelRaftStorage.open(path.join(c.root, `manager${follower.raftId}`));
    const stored = await storage.load();
    await storage.close();
    assert.ok(stored?.state.snapshot !== null && stored!.state.snapshot.index > 0, 'the data directory holds a snapshot');
    assert.ok(stored!.state.entries.some((e) => e.index > stored!.state.snapshot!.index && e.type === 'normal' && e.data.length > 0), 'and store entries after it to replay');

    const back = await c.start(follower.raftId, undefined, { loops: false });
    await c.until(() => back.store.view.version >= before.version, 15_000, 'the restarted manager to replay its log');
    assert.equal(JSON.stringify(back.store.view.all()), before.objects, 'the store came back identical');
    assert.equal(JSON.stringify(back.store.view.all()), JSON.stringify(leader.store.view.all()), 'and equal to the leader store');
    assert.equal(back.store.view.tasksOfService(svc.id).length, 8, 'indexes rebuilt');
  });

  it('removing a manager with force takes it out of the Raft group, and the two left still commit', async () => {
    c = await DurableCluster.create();
    const leader = await c.leader();
    const managers = [...c.managers.values()];
    await c.until(() => managers.every((m) => statusOf(leader, m)?.reachability === 'reachable'), 15_000, 'every manager reachable');
    const victim = managers.find((m) => m !== leader)!;
    await leader.api.removeNode(victim.nodeId, true);
    assert.deepEqual(leader.node.status().confState.voters, managers.filter((m) => m !== victim).map((m) => m.raftId).sort());
    assert.equal(leader.store.view.get('node', victim.nodeId), undefined);
    await c.stop(victim.raftId);
    const svc: Service = await leader.api.createService(spec('after', 1, 'x:1'));
    const other = managers.find((m) => m !== leader && m !== victim)!;
    await c.until(() => other.store.view.get('service', svc.id) !== undefined, 10_000, 'the other manager to apply the write');
    assert.deepEqual(other.node.status().confState.voters, leader.node.status().confState.voters);
  });

  it('demoting the leader hands leadership over first; the retry on the new leader takes it out of the Raft group', async () => {
    c = await DurableCluster.create();
    const first = await c.leader();
    const managers = [...c.managers.values()];
    await c.until(() => managers.every((m) => statusOf(first, m)?.reachability === 'reachable'), 15_000, 'every manager reachable');
    const version = first.store.view.get('node', first.nodeId)!.meta.version;
    await assert.rejects(first.api.updateNode(first.nodeId, version, { availability: '', role: 'worker', labelsJson: '' }),
      (e: unknown) => ShoalError.is(e, 'Unavailable') && /leadership has moved/.test(e.message));
    assert.equal(first.store.view.get('node', first.nodeId)?.spec.role, 'manager', 'nothing written by the refused call');
    const next = await c.leader();
    assert.notEqual(next.raftId, first.raftId);
    const demoted = await next.api.updateNode(first.nodeId, next.store.view.get('node', first.nodeId)!.meta.version, { availability: '', role: 'worker', labelsJson: '' });
    assert.equal(demoted.spec.role, 'worker');
    assert.deepEqual(next.node.status().confState.voters, managers.filter((m) => m !== first).map((m) => m.raftId).sort());
    await c.until(() => next.store.view.get('node', first.nodeId)?.managerStatus === undefined, 10_000, 'the demoted node to lose its manager status');
    await c.stop(first.raftId);
    const svc = await next.api.createService(spec('after', 1, 'x:1'));
    assert.ok(next.store.view.get('service', svc.id) !== undefined, 'the two left still commit');
  });

  it('keeps managerStatus current: after a leader change the new leader is marked leader, the old one not and unreachable, and a leader-change event is derived', async () => {
    c = await DurableCluster.create();
    const first = await c.leader();
    const managers = [...c.managers.values()];
    await c.until(() => managers.every((m) => statusOf(first, m)?.leader === (m === first) && statusOf(first, m)?.reachability === 'reachable'), 15_000, 'leader and reachability recorded');
    const events: ShoalEvent[] = [];
    const watcher = managers.find((m) => m !== first)!;
    watcher.store.watch((e) => { if (!e.reset) events.push(...deriveEvents(e.changes, e.version, e.timeMs)); });
    await c.stop(first.raftId);
    const next = await c.leader();
    await c.until(() => statusOf(next, next)?.leader === true && statusOf(next, first)?.leader === false && statusOf(next, first)?.reachability === 'unreachable', 15_000, 'the new leader recorded');
    const third = managers.find((m) => m !== first && m !== next)!;
    assert.deepEqual(statusOf(next, third), { raftId: third.raftId, addr: third.address, leader: false, reachability: 'reachable' });
    const change = events.filter((e) => e.type === 'cluster' && e.action === 'leader-change');
    assert.deepEqual(change.map((e) => e.attributes.leader), [next.nodeId], 'one leader-change event naming the new leader');
    c.assertNoLoopErrors();
  });
});
