import assert from 'node:assert/strict';
import { TaskState, type Task } from '../../src/types/objects';
import { Harness } from './sim/harness';
import { removeService } from '../../src/manager/controlapi/services';

describe('leader loops on a simulated cluster', function () {
  this.timeout(60_000);
  let h: Harness | undefined;
  afterEach(() => {
    h?.close();
    if (h !== undefined) assert.deepEqual(h.errors, [], 'no loop failed unexpectedly');
    for (const a of h?.agents.values() ?? []) assert.equal(a.gaps, 0, 'no assignment sequence gaps');
    h = undefined;
  });

  it('scales a replicated service 3 -> 10 -> 0, spreading tasks evenly', async () => {
    h = await Harness.create(11);
    const nodes = [];
    for (let i = 0; i < 4; i++) nodes.push(await h.addNode());
    const svc = await h.createService({ name: 'web', replicas: 3, task: { container: { image: 'nginx' } } });
    await h.until(() => h!.running(svc.id).length === 3, 20_000, '3 running');
    await h.updateService(svc.id, (s) => ({ ...s, replicas: 10 }));
    await h.until(() => h!.running(svc.id).length === 10, 20_000, '10 running');
    const slots = h.running(svc.id).map((t) => t.slot).sort((a, b) => a - b);
    assert.deepEqual(slots, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const perNode = nodes.map((n) => h!.running(svc.id).filter((t) => t.nodeId === n.id).length).sort();
    assert.deepEqual(perNode, [2, 2, 3, 3]);
    await h.updateService(svc.id, (s) => ({ ...s, replicas: 0 }));
    await h.until(() => h!.tasks(svc.id).length === 0, 20_000, 'all tasks removed');
    for (const a of h.agents.values()) assert.equal(a.running().length, 0);
  });

  it('stops and deletes every task of a removed service', async () => {
    h = await Harness.create(18);
    await h.addNode();
    await h.addNode();
    const svc = await h.createService({ name: 'gone', replicas: 4, task: { container: { image: 'g' } } });
    await h.until(() => h!.running(svc.id).length === 4, 20_000, '4 running');
    await h.settle(removeService(h.store(), svc.id));
    await h.until(() => h!.store().view.tasksOfService(svc.id).length === 0, 20_000, 'tasks deleted');
    for (const a of h.agents.values()) assert.equal(a.running().length, 0, 'agents stopped the containers');
  });

  it('runs one task of a global service on every eligible node, following nodes as they join, drain, go down or leave', async () => {
    h = await Harness.create(12, { dispatcher: { heartbeatPeriodMs: 1000 } });
    const n1 = await h.addNode();
    const n2 = await h.addNode();
    await h.addNode();
    const svc = await h.createService({ name: 'agent', mode: 'global', task: { container: { image: 'monitor' } } });
    await h.until(() => h!.running(svc.id).length === 3, 20_000, '3 global tasks');
    const n4 = await h.addNode();
    await h.until(() => h!.running(svc.id).some((t) => t.nodeId === n4.id), 20_000, 'a task on the new node');
    assert.equal(h.running(svc.id).length, 4);
    const node1 = h.store().view.get('node', n1.id)!;
    await h.settle(h.store().write([{ op: 'update', target: { kind: 'node', object: { ...node1, spec: { ...node1.spec, availability: 'drain' } } } }]));
    await h.until(() => !h!.desired(svc.id).some((t) => t.nodeId === n1.id), 20_000, 'drained node loses its task');
    h.agents.get(n2.id)!.stop();
    await h.until(() => h!.store().view.get('node', n2.id)?.status.state === 'down', 20_000, 'node 2 down');
    await h.until(() => !h!.desired(svc.id).some((t) => t.nodeId === n2.id), 20_000, 'down node loses its task');
    await h.run(3000);
    assert.deepEqual(new Set(h.running(svc.id).map((t) => t.nodeId)).size, 2);
    assert.equal(h.desired(svc.id).length, 2);
    // A node that leaves the cluster (node rm) loses its task too.
    await h.settle(h.store().write([{ op: 'remove', kind: 'node', id: n4.id, expectedVersion: 0 }]));
    await h.until(() => !h!.desired(svc.id).some((t) => t.nodeId === n4.id), 20_000, 'removed node loses its task');
    await h.run(3000);
    assert.equal(h.desired(svc.id).length, 1);
    assert.equal(h.running(svc.id).length, 1);
  });

  it('replaces the tasks of a node that stops heartbeating (down after 3 missed periods) on the other nodes', async () => {
    h = await Harness.create(13);
    const nodes = [await h.addNode(), await h.addNode(), await h.addNode()];
    const svc = await h.createService({ name: 'api', replicas: 6, task: { container: { image: 'api' } } });
    await h.until(() => h!.running(svc.id).length === 6, 20_000, '6 running');
    const victim = nodes[0];
    assert.ok(h.running(svc.id).some((t) => t.nodeId === victim.id));
    h.agents.get(victim.id)!.stop();
    const downAfter = await h.until(() => h!.store().view.get('node', victim.id)?.status.state === 'down', 30_000, 'node down');
    assert.ok(downAfter >= 10_000 && downAfter <= 15_500, `marked down after ${downAfter} ms (3 periods of 5 s from the last heartbeat)`);
    await h.until(() => h!.running(svc.id).length === 6 && h!.running(svc.id).every((t) => t.nodeId !== victim.id), 20_000, '6 running elsewhere');
    assert.deepEqual(h.running(svc.id).map((t) => t.slot).sort((a, b) => a - b), [1, 2, 3, 4, 5, 6]);
  });

  it('moves tasks off a drained node and places nothing new on a paused node', async () => {
    h = await Harness.create(14);
    const [a, b, c] = [await h.addNode(), await h.addNode(), await h.addNode()];
    const svc = await h.createService({ name: 'w', replicas: 6, task: { container: { image: 'w' } } });
    await h.until(() => h!.running(svc.id).length === 6, 20_000, '6 running');
    const setAvail = async (id: string, availability: 'pause' | 'drain' | 'active'): Promise<void> => {
      const n = h!.store().view.get('node', id)!;
      await h!.settle(h!.store().write([{ op: 'update', target: { kind: 'node', object: { ...n, spec: { ...n.spec, availability } } } }]));
    };
    await setAvail(a.id, 'drain');
    await h.until(() => h!.running(svc.id).length === 6 && h!.desired(svc.id).every((t) => t.nodeId !== a.id), 20_000, 'drained');
    assert.equal(h.agents.get(a.id)!.running().length, 0);
    await setAvail(b.id, 'pause');
    const onB = h.running(svc.id).filter((t) => t.nodeId === b.id).length;
    await h.updateService(svc.id, (s) => ({ ...s, replicas: 9 }));
    await h.until(() => h!.running(svc.id).length === 9, 20_000, '9 running');
    assert.equal(h.running(svc.id).filter((t) => t.nodeId === b.id).length, onB, 'paused node kept its tasks and got no new one');
    assert.equal(h.running(svc.id).filter((t) => t.nodeId === c.id).length, 9 - onB);
  });

  it('restarts a failed task after the delay, at most maxAttempts times, and not after a clean exit with on-failure', async () => {
    h = await Harness.create(15);
    const node = await h.addNode();
    const svc = await h.createService({ name: 'job', replicas: 1, task: { container: { image: 'job' }, restartPolicy: { condition: 'on-failure', delayMs: 2000, maxAttempts: 2, windowMs: 0 } } });
    await h.until(() => h!.running(svc.id).length === 1, 20_000, 'running');
    const agent = h.agents.get(node.id)!;
    for (let attempt = 1; attempt <= 2; attempt++) {
      const t: Task = h.running(svc.id)[0];
      agent.exit(t.id, 1);
      await h.until(() => h!.store().view.get('task', t.id)?.status.state === TaskState.FAILED, 5000, 'failure recorded');
      const failedAt = h.clock.now();
      await h.until(() => h!.running(svc.id).length === 1 && h!.running(svc.id)[0].id !== t.id, 20_000, `restart ${attempt}`);
      const replacement: Task = h.running(svc.id)[0];
      assert.ok(replacement.meta.createdAt >= failedAt + 2000 - 100, 'the restart waited for the delay');
      assert.equal(replacement.slot, t.slot);
    }
    const last = h.running(svc.id)[0];
    agent.exit(last.id, 1);
    await h.run(10_000);
    assert.equal(h.running(svc.id).length, 0, 'no third restart');
    assert.equal(h.tasks(svc.id).length, 3);
    assert.equal(h.store().view.get('task', last.id)?.desiredState, TaskState.COMPLETE);

    const once = await h.createService({ name: 'once', replicas: 1, task: { container: { image: 'once' }, restartPolicy: { condition: 'on-failure', delayMs: 0 } } });
    await h.until(() => h!.running(once.id).length === 1, 20_000, 'running');
    agent.exit(h.running(once.id)[0].id, 0);
    await h.run(5000);
    assert.equal(h.tasks(once.id).length, 1, 'a clean exit is not restarted under on-failure');
  });

  it('keeps at most 5 tasks of history per slot while a crashing task keeps restarting', async () => {
    h = await Harness.create(16);
    await h.addNode({}, { failingImages: new Set(['crash']) });
    let created = 0;
    h.store().watch((e) => { for (const c of e.changes) if (c.kind === 'task' && c.before === undefined) created++; });
    const svc = await h.createService({ name: 'crash', replicas: 1, task: { container: { image: 'crash' }, restartPolicy: { condition: 'any', delayMs: 500 } } });
    await h.until(() => created >= 9, 60_000, '9 attempts');
    await h.run(2000);
    const perSlot = h.tasks(svc.id).filter((t) => t.slot === 1).length;
    assert.ok(perSlot <= 5, `slot 1 keeps ${perSlot} tasks`);
    assert.ok(perSlot >= 4);
  });

  it('leaves an unsatisfiable task PENDING with the aggregated reason and schedules it when a matching node joins', async () => {
    h = await Harness.create(17);
    for (let i = 0; i < 3; i++) await h.addNode({ labels: { zone: 'b' }, memoryBytes: 2 ** 30 });
    for (let i = 0; i < 2; i++) await h.addNode({ labels: { zone: 'a' } });
    const svc = await h.createService({
      name: 'db', replicas: 1,
      task: { container: { image: 'db' }, resources: { reservations: { memoryBytes: 4 * 2 ** 30 } }, placement: { constraints: ['node.labels.zone==b'] } },
    });
    const reason = 'no suitable node (insufficient memory on 3 nodes; 2 nodes not matching constraint node.labels.zone==b)';
    await h.until(() => h!.tasks(svc.id)[0]?.status.err === reason, 10_000, 'the pending reason');
    await h.run(5000);
    assert.equal(h.tasks(svc.id)[0].status.state, TaskState.PENDING);
    const big = await h.addNode({ labels: { zone: 'b' }, memoryBytes: 16 * 2 ** 30 });
    await h.until(() => h!.running(svc.id).length === 1, 10_000, 'scheduled on the new node');
    assert.equal(h.running(svc.id)[0].nodeId, big.id);
  });
});
