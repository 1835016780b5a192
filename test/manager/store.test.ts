import assert from 'node:assert/strict';
import { ManualClock } from '../../src/types/clock';
import { ShoalError } from '../../src/types/errors';
import { SeededRandom } from '../../src/types/random';
import { TaskState } from '../../src/types/objects';
import { Store, splitActions, type StoreEvent } from '../../src/manager/store/store';
import { decodeSnapshot, decodeTransaction, encodeSnapshot, encodeTransaction, patchTask, type StoreAction } from '../../src/manager/store/actions';
import { newTask } from '../../src/manager/orchestrator/new-task';
import type { ReplicatedLog } from '../../src/manager/replicated-log';
import { raftNodeLog } from '../../src/manager/raft-node-log';
import { SimRaftCluster, runUntil } from './sim/raft-cluster';
import { makeNode, makeService } from './sim/fixtures';

/** Three stores replicated by three RawNodes over the simulated network. */
async function threeManagers(seed = 1): Promise<{ clock: ManualClock; random: SeededRandom; stores: Store[]; sim: SimRaftCluster; leader: () => Store }> {
  const clock = new ManualClock();
  const random = new SeededRandom(seed);
  const logs: ReplicatedLog[] = [];
  const proxy = (i: number): ReplicatedLog => ({
    propose: (d) => logs[i].propose(d), isLeader: () => logs[i].isLeader(), onLeadershipChange: (cb) => logs[i].onLeadershipChange(cb),
  });
  const stores = [0, 1, 2].map((i) => new Store(proxy(i), clock));
  const sim = new SimRaftCluster(clock, random, stores);
  for (let i = 0; i < 3; i++) logs.push(sim.log(i));
  await runUntil(clock, () => sim.leaderIndex() >= 0, 5000, 'a leader');
  return { clock, random, stores, sim, leader: () => stores[sim.leaderIndex()] };
}

/** Runs a write to completion on the simulated clock. */
async function settle<T>(clock: ManualClock, p: Promise<T>): Promise<T> {
  let done = false;
  const q = p.finally(() => { done = true; });
  q.catch(() => undefined);
  await runUntil(clock, () => done, 5000, 'the write to settle');
  return q;
}

function assertReplicasIdentical(stores: Store[]): void {
  const images = stores.map((s) => JSON.stringify(s.view.all()));
  assert.equal(images[1], images[0], 'replica 2 differs from replica 1');
  assert.equal(images[2], images[0], 'replica 3 differs from replica 1');
}

describe('replicated store', () => {
  it('applies transactions identically on every manager, with version = Raft index', async () => {
    const { clock, random, stores, leader } = await threeManagers();
    const node = makeNode(random, { hostname: 'n1' });
    const svc = makeService(random, { name: 'web', replicas: 2, task: { container: { image: 'nginx' } } });
    const v = await settle(clock, leader().write([{ op: 'create', target: { kind: 'node', object: node } }, { op: 'create', target: { kind: 'service', object: svc } }]));
    await runUntil(clock, () => stores.every((s) => s.view.version >= v), 2000, 'followers to apply');
    assertReplicasIdentical(stores);
    for (const s of stores) {
      assert.equal(s.view.get('service', svc.id)?.meta.version, v);
      assert.equal(s.view.serviceNamed('web')?.id, svc.id);
      assert.equal(s.view.get('node', node.id)?.meta.createdAt, s.view.get('node', node.id)?.meta.updatedAt);
    }
  });

  it('refuses an update carrying a stale version with a Conflict naming the object and both versions', async () => {
    const { clock, random, stores, leader } = await threeManagers(2);
    const svc = makeService(random, { name: 'api', task: { container: { image: 'busybox' } } });
    await settle(clock, leader().write([{ op: 'create', target: { kind: 'service', object: svc } }]));
    const read = leader().view.get('service', svc.id)!;
    const v2 = await settle(clock, leader().write([{ op: 'update', target: { kind: 'service', object: { ...read, spec: { ...read.spec, replicas: 3 } } } }]));
    const stale = { ...read, spec: { ...read.spec, replicas: 7 } };
    await assert.rejects(settle(clock, leader().write([{ op: 'update', target: { kind: 'service', object: stale } }])), (err: unknown) => {
      assert.ok(ShoalError.is(err, 'Conflict'));
      assert.match(err.message, new RegExp(`service ${svc.id}.*version ${read.meta.version}.*version ${v2}`));
      return true;
    });
    await runUntil(clock, () => stores.every((s) => s.view.version >= v2 + 1), 2000, 'followers');
    for (const s of stores) assert.equal(s.view.get('service', svc.id)?.spec.replicas, 3);
    assertReplicasIdentical(stores);
  });

  it('applies a transaction all or nothing', async () => {
    const { clock, random, leader } = await threeManagers(3);
    const a = makeService(random, { name: 'a', task: { container: { image: 'x' } } });
    await settle(clock, leader().write([{ op: 'create', target: { kind: 'service', object: a } }]));
    const b = makeService(random, { name: 'b', task: { container: { image: 'x' } } });
    const dup = makeService(random, { name: 'a', task: { container: { image: 'x' } } });
    await assert.rejects(settle(clock, leader().write([
      { op: 'create', target: { kind: 'service', object: b } },
      { op: 'create', target: { kind: 'service', object: dup } },
    ])), /a service named a already exists/);
    assert.equal(leader().view.get('service', b.id), undefined);
  });

  it('splits a large write into entries bounded in count and bytes, and every replica gets all of it', async () => {
    const { clock, random, stores, leader } = await threeManagers(4);
    const svc = makeService(random, { name: 'big', replicas: 1200, task: { container: { image: 'x', env: ['PAD=' + 'p'.repeat(300)] } } });
    const actions: StoreAction[] = [{ op: 'create', target: { kind: 'service', object: svc } }];
    for (let slot = 1; slot <= 1200; slot++) actions.push({ op: 'create', target: { kind: 'task', object: newTask(svc, random, 0, { slot, nodeId: '' }) } });
    const limits = { actionsMax: 500, bytesMax: 128 * 1024 };
    const batches = splitActions(actions, limits);
    assert.ok(batches.length > 3, `expected the byte bound to split further, got ${batches.length} batches`);
    assert.ok(batches.every((b) => b.length <= 500));
    const before = leader().view.version;
    const out = await settle(clock, leader().writeBatched(actions));
    assert.deepEqual(out, { committed: 1201, errors: [] });
    assert.ok(leader().view.version - before >= 3, 'several entries were committed');
    await runUntil(clock, () => stores.every((s) => s.view.count('task') === 1200), 3000, 'followers');
    assert.equal(leader().view.tasksOfService(svc.id).length, 1200);
    assert.equal(leader().view.tasksWithState(TaskState.PENDING).length, 1200);
    assertReplicasIdentical(stores);
  });

  it('streams applied changes to watchers in log order, on followers too', async () => {
    const { clock, random, stores, sim, leader } = await threeManagers(5);
    const follower = stores[(sim.leaderIndex() + 1) % 3];
    const seen: StoreEvent[] = [];
    follower.watch((e) => seen.push(e));
    const n = makeNode(random);
    await settle(clock, leader().write([{ op: 'create', target: { kind: 'node', object: n } }]));
    const read = leader().view.get('node', n.id)!;
    await settle(clock, leader().write([{ op: 'update', target: { kind: 'node', object: { ...read, spec: { ...read.spec, availability: 'drain' } } } }]));
    await settle(clock, leader().write([{ op: 'remove', kind: 'node', id: n.id, expectedVersion: 0 }]));
    await runUntil(clock, () => seen.length === 3, 2000, 'three events');
    assert.deepEqual(seen.map((e) => [e.changes[0].before === undefined, e.changes[0].after === undefined]), [[true, false], [false, false], [false, true]]);
    assert.ok(seen[0].version < seen[1].version && seen[1].version < seen[2].version);
  });

  it('restores a snapshot into an identical store and tells watchers to start over', async () => {
    const { clock, random, leader } = await threeManagers(6);
    const svc = makeService(random, { name: 's', replicas: 3, task: { container: { image: 'x' } } });
    await settle(clock, leader().write([{ op: 'create', target: { kind: 'service', object: svc } },
      ...[1, 2, 3].map((slot) => ({ op: 'create' as const, target: { kind: 'task' as const, object: newTask(svc, random, 0, { slot, nodeId: 'n' }) } }))]));
    const fresh = new Store({ propose: () => Promise.reject(new Error('unused')), isLeader: () => false, onLeadershipChange: () => () => undefined }, clock);
    let reset = false;
    fresh.watch((e) => { reset = e.reset; });
    fresh.restore(leader().snapshot());
    assert.ok(reset);
    assert.equal(JSON.stringify(fresh.view.all()), JSON.stringify(leader().view.all()));
    assert.equal(fresh.view.version, leader().view.version);
    assert.equal(fresh.view.tasksOfNode('n').length, 3);
    assert.equal(fresh.view.tasksOfSlot(svc.id, 2).length, 1);
  });

  it('patches a few fields of a task under the same version check, re-indexing only what changed', async () => {
    const { clock, random, stores, leader } = await threeManagers(8);
    const svc = makeService(random, { name: 'p', task: { container: { image: 'x' } } });
    const t = newTask(svc, random, 0, { slot: 1, nodeId: '' });
    await settle(clock, leader().write([{ op: 'create', target: { kind: 'service', object: svc } }, { op: 'create', target: { kind: 'task', object: t } }]));
    const read = leader().view.get('task', t.id)!;
    const status = { ...read.status, state: TaskState.ASSIGNED };
    const v = await settle(clock, leader().write([patchTask(read, { nodeId: 'n1', status })]));
    await assert.rejects(settle(clock, leader().write([patchTask(read, { nodeId: 'n2' })])), (e: unknown) => ShoalError.is(e, 'Conflict'));
    await runUntil(clock, () => stores.every((s) => s.view.version >= v + 1), 2000, 'followers');
    for (const s of stores) {
      const got = s.view.get('task', t.id)!;
      assert.deepEqual([got.nodeId, got.status.state, got.meta.version, got.spec.container.image], ['n1', TaskState.ASSIGNED, v, 'x']);
      assert.deepEqual(s.view.tasksOfNode('n1').map((x) => x.id), [t.id]);
      assert.deepEqual(s.view.tasksWithState(TaskState.PENDING), []);
    }
    assertReplicasIdentical(stores);
  });

  it('plugs a RaftNode-shaped log in through the adapter, reporting leadership changes', async () => {
    const { clock, sim } = await threeManagers(9);
    const first = sim.leaderIndex();
    const logs = [0, 1, 2].map((i) => raftNodeLog(sim.members[i], clock, 20));
    const seen: [number, boolean][] = [];
    logs.forEach((l, i) => l.onLeadershipChange((leader) => seen.push([i, leader])));
    // The adapter reports the leadership it finds once the leader has applied everything before its term.
    await runUntil(clock, () => seen.length >= 1, 5000, 'the first leadership event');
    assert.deepEqual(seen, [[first, true]]);
    seen.length = 0;
    sim.transferTo((first + 1) % 3);
    await runUntil(clock, () => seen.length >= 2, 5000, 'leadership events');
    assert.deepEqual(seen.sort(), [[first, false], [(first + 1) % 3, true]].sort());
    assert.ok(logs[(first + 1) % 3].isLeader());
    for (const l of logs) l.close();
  });

  it('refuses writes on a follower with Unavailable', async () => {
    const { random, stores, sim } = await threeManagers(7);
    const follower = stores[(sim.leaderIndex() + 1) % 3];
    await assert.rejects(follower.write([{ op: 'create', target: { kind: 'node', object: makeNode(random) } }]), (e: unknown) => ShoalError.is(e, 'Unavailable'));
  });

  it('carries a spec shared by many tasks once per entry and per snapshot, and decoded tasks share one spec object', () => {
    const random = new SeededRandom(9);
    const svc = makeService(random, { name: 'many', replicas: 200, task: { container: { image: 'x:1', env: Array.from({ length: 20 }, (_, i) => `VAR_${i}=${'v'.repeat(40)}`) } } });
    const tasks = Array.from({ length: 200 }, (_, i) => newTask(svc, random, 0, { slot: i + 1, nodeId: '' }));
    const specBytes = JSON.stringify(svc.spec.task).length;
    const data = encodeTransaction({ actions: tasks.map((t) => ({ op: 'create', target: { kind: 'task', object: t } })), timestampMs: 1 });
    assert.ok(data.length < 200 * specBytes / 2, `entry of ${data.length} bytes carries the ${specBytes}-byte spec once, not 200 times`);
    const decoded = decodeTransaction(data).actions.map((a) => (a.op === 'create' && a.target.kind === 'task' ? a.target.object : assert.fail('a task create')));
    assert.deepEqual(decoded.map((t) => t.id), tasks.map((t) => t.id));
    assert.deepEqual(decoded[0].spec, svc.spec.task);
    assert.ok(decoded.every((t) => t.spec === decoded[0].spec), 'one shared spec object');
    const snap = decodeSnapshot(encodeSnapshot(tasks.map((t) => ({ kind: 'task', object: t })), 7));
    assert.equal(snap.version, 7);
    assert.deepEqual(snap.objects.map((o) => o.object), tasks);
  });
});
