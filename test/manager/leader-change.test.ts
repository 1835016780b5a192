import assert from 'node:assert/strict';
import { TaskState, type Task } from '../../src/types/objects';
import { updateService } from '../../src/manager/controlapi/services';
import { newTask } from '../../src/manager/orchestrator/new-task';
import type { Store } from '../../src/manager/store/store';
import { Harness } from './sim/harness';
import { makeNode } from './sim/fixtures';

/** Slots of a service that hold more than one task that should run, as "slot: ids". */
function twinSlots(store: Store, serviceId: string): string[] {
  const bySlot = new Map<number, Task[]>();
  for (const t of store.view.tasksOfService(serviceId)) {
    if (t.desiredState > TaskState.RUNNING) continue;
    bySlot.set(t.slot, [...(bySlot.get(t.slot) ?? []), t]);
  }
  return [...bySlot].filter(([, ts]) => ts.length > 1).map(([slot, ts]) => `${slot}: ${ts.map((t) => t.id).join(',')}`);
}

/** Exactly `replicas` running tasks, one in each slot 1..replicas, and nothing else wanted. */
function assertOnePerSlot(h: Harness, serviceId: string, replicas: number): void {
  const running = h.running(serviceId).map((t) => t.slot).sort((a, b) => a - b);
  assert.deepEqual(running, Array.from({ length: replicas }, (_, i) => i + 1), 'one running task in each slot 1..replicas');
  assert.equal(h.desired(serviceId).length, replicas, 'no other task is wanted');
}

describe('a leader change while the orchestrator writes', function () {
  this.timeout(60_000);
  let h: Harness | undefined;
  afterEach(() => {
    h?.close();
    if (h !== undefined) assert.deepEqual(h.errors, [], 'no loop failed unexpectedly');
    h = undefined;
  });

  it('a new leader never creates a second runnable task in a slot its predecessor filled, and ends with exactly one task per slot', async () => {
    h = await Harness.create(82);
    for (let i = 0; i < 3; i++) await h.addNode();
    const svc = await h.createService({ name: 'api', replicas: 2, task: { container: { image: 'api:1' } } });
    await h.until(() => h!.running(svc.id).length === 2, 20_000, '2 running');
    const old = h.sim.leaderIndex();

    // Every store, after every transaction it applies: no slot holds two tasks that should run.
    const twins: string[] = [];
    h.stores.forEach((s, i) => s.watch(() => { for (const t of twinSlots(s, svc.id)) twins.push(`manager ${i}, slot ${t}`); }));
    // The leader dies right after applying the third task change of the scale: the rest of its
    // writes are in the followers' logs but committed only by the next leader's first entry.
    let taskChanges = 0;
    let killed = false;
    h.stores[old].watch((ev) => {
      if (killed) return;
      taskChanges += ev.changes.filter((c) => c.kind === 'task').length;
      if (taskChanges < 3) return;
      killed = true;
      h!.sim.isolate(old);
      h!.sim.members[old].up = false;
    });
    const s = h.store().view.get('service', svc.id)!;
    await h.settle(updateService(h.store(), h.clock, svc.id, s.meta.version, { ...s.spec, replicas: 8 }));
    await h.until(() => killed, 10_000, 'the leader to die');
    await h.until(() => h!.sim.leaderIndex() >= 0 && h!.sim.leaderIndex() !== old, 10_000, 'a new leader');
    await h.until(() => h!.running(svc.id).length >= 8, 30_000, '8 running under the new leader');
    await h.run(5000);

    assert.deepEqual(twins, [], 'no slot ever held two runnable tasks');
    assertOnePerSlot(h, svc.id, 8);
  });

  it('records the leader and the reachability of every manager on its Node, and moves them on a leader change or an isolation', async () => {
    h = await Harness.create(84);
    const nodes = [1, 2, 3].map((raftId) => ({ ...makeNode(h!.random, { hostname: `m${raftId}`, role: 'manager' }), managerStatus: { raftId, addr: '', leader: false, reachability: 'unknown' as const } }));
    await h.settle(h.store().write(nodes.map((n) => ({ op: 'create' as const, target: { kind: 'node' as const, object: n } }))));
    const status = (): string => nodes.map((n) => { const ms = h!.store().view.get('node', n.id)!.managerStatus!; return `${ms.raftId}:${ms.leader ? 'leader' : '-'}:${ms.reachability}`; }).join(' ');
    const expect = (leader: number, unreachable: number[] = []): string => [0, 1, 2].map((i) => `${i + 1}:${i === leader ? 'leader' : '-'}:${unreachable.includes(i) ? 'unreachable' : 'reachable'}`).join(' ');
    const first = h.sim.leaderIndex();
    await h.until(() => status() === expect(first), 10_000, `status ${expect(first)}, got ${status()}`);
    const next = (first + 1) % 3;
    h.sim.transferTo(next);
    await h.until(() => h!.sim.leaderIndex() === next && status() === expect(next), 10_000, `status ${expect(next)}`);
    const other = (next + 1) % 3;
    h.sim.isolate(other);
    await h.until(() => status() === expect(next, [other]), 10_000, `status ${expect(next, [other])}`);
    h.sim.heal();
    await h.until(() => status() === expect(next), 10_000, `status ${expect(next)} again`);
  });

  it('shuts down all but one of the runnable tasks a slot holds, keeping the running one', async () => {
    h = await Harness.create(83);
    for (let i = 0; i < 2; i++) await h.addNode();
    const svc = await h.createService({ name: 'web', replicas: 3, task: { container: { image: 'web:1' } } });
    await h.until(() => h!.running(svc.id).length === 3, 20_000, '3 running');
    const before = h.running(svc.id);
    // Two stray twins of the current spec in slot 2 (what a leader acting on a stale store wrote).
    const service = h.store().view.get('service', svc.id)!;
    const strays = [0, 1].map(() => newTask(service, h!.random, h!.clock.now(), { slot: 2, nodeId: '' }));
    await h.settle(h.store().write(strays.map((t) => ({ op: 'create' as const, target: { kind: 'task' as const, object: t } }))));
    await h.until(() => twinSlots(h!.store(), svc.id).length === 0, 10_000, 'the twins shut down');
    await h.run(3000);

    assertOnePerSlot(h, svc.id, 3);
    assert.deepEqual(h.running(svc.id).map((t) => t.id).sort(), before.map((t) => t.id).sort(), 'the tasks that were running keep running');
    for (const t of strays) assert.equal(h.store().view.get('task', t.id)?.desiredState ?? TaskState.SHUTDOWN, TaskState.SHUTDOWN, `stray ${t.id} shut down`);
  });
});
