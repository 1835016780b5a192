import assert from 'node:assert/strict';
import { ShoalError } from '../../src/types/errors';
import { TaskState, type Service, type Task } from '../../src/types/objects';
import { createService, updateService } from '../../src/manager/controlapi/services';
import { Harness } from './sim/harness';

/** Slots that have no running task of the service right now. */
function slotsDown(h: Harness, svc: Service, replicas: number): number {
  const up = new Set(h.running(svc.id).map((t) => t.slot));
  let down = 0;
  for (let s = 1; s <= replicas; s++) if (!up.has(s)) down++;
  return down;
}

function imageTasks(h: Harness, svc: Service, image: string): Task[] {
  return h.tasks(svc.id).filter((t) => t.spec.container.image === image);
}

describe('rolling updates and spec checks', function () {
  this.timeout(60_000);
  let h: Harness | undefined;
  afterEach(() => {
    h?.close();
    if (h !== undefined) assert.deepEqual(h.errors, []);
    for (const a of h?.agents.values() ?? []) assert.equal(a.gaps, 0);
    h = undefined;
  });

  async function tenReplicas(seed: number, update: Record<string, unknown>, failing: string[] = []): Promise<{ h: Harness; svc: Service }> {
    const hh = await Harness.create(seed);
    for (let i = 0; i < 4; i++) await hh.addNode({}, { failingImages: new Set(failing) });
    const svc = await hh.createService({ name: 'web', replicas: 10, task: { container: { image: 'web:1' } }, update });
    await hh.until(() => hh.running(svc.id).length === 10, 20_000, '10 running');
    return { h: hh, svc };
  }

  it('rolls 10 replicas to a new image in batches of 2 (parallelism 2), never more than 2 slots down', async () => {
    const r = await tenReplicas(21, { parallelism: 2, delayMs: 1000, monitorMs: 500 });
    h = r.h;
    await h.updateService(r.svc.id, (s) => ({ ...s, task: { ...s.task, container: { ...s.task.container, image: 'web:2' } } }));
    let maxDown = 0;
    await h.until(() => {
      maxDown = Math.max(maxDown, slotsDown(h!, r.svc, 10));
      return h!.store().view.get('service', r.svc.id)?.updateStatus?.state === 'completed';
    }, 60_000, 'update completed');
    assert.ok(maxDown <= 2, `${maxDown} slots were down at once`);
    const fresh = imageTasks(h, r.svc, 'web:2');
    assert.equal(fresh.length, 10, 'each slot updated exactly once');
    assert.deepEqual(new Set(fresh.map((t) => t.slot)).size, 10);
    const batches = new Map<number, number>();
    for (const t of fresh) batches.set(t.meta.createdAt, (batches.get(t.meta.createdAt) ?? 0) + 1);
    assert.deepEqual([...batches.values()], [2, 2, 2, 2, 2]);
    const starts = [...batches.keys()].sort((a, b) => a - b);
    // As SwarmKit's updater: the next batch starts `delay` after the last one runs; the monitor
    // window only holds back completion (a failure within it still counts).
    for (let i = 1; i < starts.length; i++) assert.ok(starts[i] - starts[i - 1] >= 1000, 'batches wait for the delay');
    const lastRunning = Math.max(...fresh.map((t) => t.status.timestamp));
    const done = h.store().view.get('service', r.svc.id)!.updateStatus!;
    assert.ok(done.completedAt >= lastRunning + 500, `completed ${done.completedAt - lastRunning} ms after the last task ran, before the 500 ms monitor`);
    assert.ok(h.running(r.svc.id).every((t) => t.spec.container.image === 'web:2'));
  });

  it('an update that only bumps forceUpdate replaces every task, in batches of parallelism (docker service update --force)', async () => {
    const r = await tenReplicas(28, { parallelism: 3, delayMs: 500, monitorMs: 200 });
    h = r.h;
    const before = new Set(h.running(r.svc.id).map((t) => t.id));
    assert.equal(h.store().view.get('service', r.svc.id)!.spec.task.forceUpdate, 0, 'forceUpdate is 0 by default');
    await h.updateService(r.svc.id, (s) => ({ ...s, task: { ...s.task, forceUpdate: s.task.forceUpdate + 1 } }));
    assert.equal(h.store().view.get('service', r.svc.id)!.updateStatus?.state, 'updating', 'the bump alone starts an update');
    await h.until(() => h!.store().view.get('service', r.svc.id)?.updateStatus?.state === 'completed', 60_000, 'update completed');
    const fresh = h.tasks(r.svc.id).filter((t) => !before.has(t.id));
    assert.equal(fresh.length, 10, 'one new task per slot');
    assert.equal(new Set(fresh.map((t) => t.slot)).size, 10);
    assert.ok(fresh.every((t) => t.spec.forceUpdate === 1 && t.spec.container.image === 'web:1'));
    const batches = new Map<number, number>();
    for (const t of fresh) batches.set(t.meta.createdAt, (batches.get(t.meta.createdAt) ?? 0) + 1);
    assert.deepEqual([...batches.entries()].sort((a, b) => a[0] - b[0]).map(([, n]) => n), [3, 3, 3, 1]);
    await h.until(() => h!.running(r.svc.id).length === 10 && h!.running(r.svc.id).every((t) => !before.has(t.id)), 20_000, 'only new tasks running');
    // An update that changes nothing (forceUpdate unchanged) replaces nothing.
    const now = new Set(h.running(r.svc.id).map((t) => t.id));
    await h.updateService(r.svc.id, (s) => ({ ...s, labels: { touched: 'yes' } }));
    await h.run(3000);
    assert.deepEqual(new Set(h.running(r.svc.id).map((t) => t.id)), now);
  });

  it('stop-first starts a slot\'s new task only after its old task stopped, so two tasks of a slot never run at once', async () => {
    h = await Harness.create(29);
    // Old tasks take 3 s to stop (a container that ignores SIGTERM until its grace period ends).
    for (let i = 0; i < 2; i++) await h.addNode({}, { stopDelayMs: 3000 });
    const svc = await h.createService({ name: 'web', replicas: 4, task: { container: { image: 'web:1' } }, update: { parallelism: 2, monitorMs: 500 } });
    await h.until(() => h!.running(svc.id).length === 4, 20_000, '4 running');
    const before = new Set(h.tasks(svc.id).map((t) => t.id));
    const stoppedAt = new Map<number, number>(); // slot -> when its old task reported SHUTDOWN
    const startedAt = new Map<number, number>(); // slot -> when its new task reported STARTING
    const maxAlive = new Map<number, number>(); // slot -> most tasks STARTING or RUNNING at once
    const unwatch = h.store().watch((e) => {
      for (const c of e.changes) {
        if (c.kind !== 'task' || c.after === undefined) continue;
        const t = c.after as Task;
        if (before.has(t.id) && t.status.state === TaskState.SHUTDOWN && !stoppedAt.has(t.slot)) stoppedAt.set(t.slot, t.status.timestamp);
        if (!before.has(t.id) && t.status.state === TaskState.STARTING && !startedAt.has(t.slot)) startedAt.set(t.slot, t.status.timestamp);
      }
      for (let slot = 1; slot <= 4; slot++) {
        const alive = h!.store().view.tasksOfSlot(svc.id, slot).filter((t) => t.status.state >= TaskState.STARTING && t.status.state <= TaskState.RUNNING).length;
        maxAlive.set(slot, Math.max(maxAlive.get(slot) ?? 0, alive));
      }
    });
    try {
      await h.updateService(svc.id, (s) => ({ ...s, task: { ...s.task, container: { ...s.task.container, image: 'web:2' } } }));
      await h.until(() => h!.store().view.get('service', svc.id)?.updateStatus?.state === 'completed', 60_000, 'update completed');
    } finally {
      unwatch();
    }
    for (let slot = 1; slot <= 4; slot++) {
      assert.ok(stoppedAt.has(slot) && startedAt.has(slot), `slot ${slot}: old stopped and new started`);
      assert.ok(startedAt.get(slot)! >= stoppedAt.get(slot)!, `slot ${slot}: new task started at ${startedAt.get(slot)} before the old one stopped at ${stoppedAt.get(slot)}`);
      assert.equal(maxAlive.get(slot), 1, `slot ${slot} ran two tasks at once`);
    }
    assert.ok(h.tasks(svc.id).filter((t) => before.has(t.id)).every((t) => t.status.state === TaskState.SHUTDOWN), 'every old task reported SHUTDOWN by the end of the update');
    assert.equal(h.running(svc.id).filter((t) => t.spec.container.image === 'web:2').length, 4);
  });

  it('start-first keeps every slot running during the update', async () => {
    const r = await tenReplicas(22, { parallelism: 3, order: 'start-first', monitorMs: 0 });
    h = r.h;
    await h.updateService(r.svc.id, (s) => ({ ...s, task: { ...s.task, container: { ...s.task.container, image: 'web:2' } } }));
    let maxDown = 0;
    await h.until(() => {
      maxDown = Math.max(maxDown, slotsDown(h!, r.svc, 10));
      return h!.store().view.get('service', r.svc.id)?.updateStatus?.state === 'completed';
    }, 60_000, 'update completed');
    assert.equal(maxDown, 0);
    await h.until(() => h!.running(r.svc.id).length === 10 && h!.desired(r.svc.id).length === 10, 10_000, 'old tasks stopped');
  });

  it('pauses the update when the new image fails, leaving the other slots on the old spec', async () => {
    const r = await tenReplicas(23, { parallelism: 2, failureAction: 'pause', monitorMs: 1000 }, ['web:bad']);
    h = r.h;
    await h.updateService(r.svc.id, (s) => ({ ...s, task: { ...s.task, container: { ...s.task.container, image: 'web:bad' } } }));
    await h.until(() => h!.store().view.get('service', r.svc.id)?.updateStatus?.state === 'paused', 30_000, 'paused');
    const st = h.store().view.get('service', r.svc.id)!.updateStatus!;
    assert.match(st.message, /update paused due to failure or early termination of task [0-9a-z]{25}/);
    await h.run(10_000);
    assert.equal(new Set(imageTasks(h, r.svc, 'web:bad').map((t) => t.slot)).size, 2, 'only the first batch was touched');
    assert.equal(h.running(r.svc.id).filter((t) => t.spec.container.image === 'web:1').length, 8);
  });

  it('rolls back to the previous spec when the new image fails and failureAction is rollback', async () => {
    const r = await tenReplicas(24, { parallelism: 2, failureAction: 'rollback', monitorMs: 1000 }, ['web:bad']);
    h = r.h;
    await h.updateService(r.svc.id, (s) => ({ ...s, task: { ...s.task, container: { ...s.task.container, image: 'web:bad' } } }));
    await h.until(() => h!.store().view.get('service', r.svc.id)?.updateStatus?.state === 'rollback_started', 30_000, 'rollback started');
    await h.until(() => h!.store().view.get('service', r.svc.id)?.updateStatus?.state === 'rollback_completed', 60_000, 'rollback completed');
    const s = h.store().view.get('service', r.svc.id)!;
    assert.equal(s.spec.task.container.image, 'web:1');
    assert.equal(s.previousSpec?.task.container.image, 'web:bad');
    await h.until(() => h!.running(r.svc.id).length === 10, 20_000, '10 running');
    assert.ok(h.running(r.svc.id).every((t) => t.spec.container.image === 'web:1'));
  });

  it('goes on through every slot despite failures when failureAction is continue', async () => {
    const r = await tenReplicas(28, { parallelism: 5, failureAction: 'continue', monitorMs: 500 }, ['web:bad']);
    h = r.h;
    await h.updateService(r.svc.id, (s) => ({ ...s, task: { ...s.task, container: { ...s.task.container, image: 'web:bad' } } }));
    await h.until(() => h!.store().view.get('service', r.svc.id)?.updateStatus?.state === 'completed', 60_000, 'update completed');
    assert.equal(new Set(imageTasks(h, r.svc, 'web:bad').map((t) => t.slot)).size, 10, 'every slot was moved to the new spec');
    assert.equal(h.running(r.svc.id).filter((t) => t.spec.container.image === 'web:1').length, 0);
  });

  it('resumes an update after a leader change without updating a slot twice or skipping one', async () => {
    const r = await tenReplicas(25, { parallelism: 2, delayMs: 2000, monitorMs: 500 });
    h = r.h;
    const firstLeader = h.sim.leaderIndex();
    await h.updateService(r.svc.id, (s) => ({ ...s, task: { ...s.task, container: { ...s.task.container, image: 'web:2' } } }));
    await h.until(() => imageTasks(h!, r.svc, 'web:2').length >= 4, 30_000, 'two batches started');
    h.sim.transferTo((firstLeader + 1) % 3);
    await h.until(() => h!.sim.leaderIndex() === (firstLeader + 1) % 3, 10_000, 'new leader');
    await h.until(() => h!.store().view.get('service', r.svc.id)?.updateStatus?.state === 'completed', 60_000, 'update completed');
    const fresh = imageTasks(h, r.svc, 'web:2');
    assert.deepEqual(fresh.map((t) => t.slot).sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.ok(!h.managers[firstLeader].isLeading());
    await h.until(() => h!.running(r.svc.id).length === 10, 20_000, '10 running');
  });

  it('refuses an update carrying a stale version and changes nothing', async () => {
    h = await Harness.create(26);
    const svc = await h.createService({ name: 'v', replicas: 1, task: { container: { image: 'v' } } });
    await h.updateService(svc.id, (s) => ({ ...s, replicas: 2 }));
    const servicesBefore = JSON.stringify(h.store().view.list('service'));
    await assert.rejects(h.settle(updateService(h.store(), h.clock, svc.id, svc.meta.version, { ...svc.spec, replicas: 5 })), (err: unknown) => {
      assert.ok(ShoalError.is(err, 'Conflict'));
      assert.match(err.message, new RegExp(`service ${svc.id} refused: it was read at version ${svc.meta.version} but is now at version \\d+`));
      return true;
    });
    assert.equal(h.store().view.get('service', svc.id)?.spec.replicas, 2);
    assert.equal(JSON.stringify(h.store().view.list('service')), servicesBefore);
  });

  it('refuses invalid specs with errors naming the field and value, and writes nothing', async () => {
    h = await Harness.create(27);
    const version = h.store().view.version;
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ name: 'a', replicas: -3, task: { container: { image: 'x' } } }, /^replicas must be >= 0, got -3$/],
      [{ name: 'a', task: { container: { image: '' } } }, /^task\.container\.image must not be empty, got ""$/],
      [{ name: 'bad name!', task: { container: { image: 'x' } } }, /^name must be .*, got "bad name!"$/],
      [{ name: 'a', task: { container: { image: 'x' }, placement: { constraints: ['node.labels.zone=b'] } } }, /^task\.placement\.constraints\[0\] must be <key>==<value>.*, got "node\.labels\.zone=b"$/],
      [{ name: 'a', task: { container: { image: 'x' }, restartPolicy: { condition: 'sometimes' } } }, /^task\.restartPolicy\.condition must be one of none, on-failure, any, got "sometimes"$/],
      [{ name: 'a', task: { container: { image: 'x' } }, update: { parallelism: 1.5 } }, /^update\.parallelism must be an integer, got 1\.5$/],
      [{ name: 'a', task: { container: { image: 'x' }, forceUpdate: -1 } }, /^task\.forceUpdate must be >= 0, got -1$/],
      [{ name: 'a', task: { container: { image: 'x' }, forceUpdate: 0.5 } }, /^task\.forceUpdate must be an integer, got 0\.5$/],
      [{ name: 'a', task: { container: { image: 'x' } }, update: { maxFailureRatio: 2 } }, /^update\.maxFailureRatio must be between 0 and 1, got 2$/],
      [{ name: 'a', task: { container: { image: 'x' }, resources: { reservations: 'lots' } } }, /^task\.resources\.reservations must be an object, got "lots"$/],
      [{ name: 'a', task: { container: { image: 'x', command: 'ls' } } }, /^task\.container\.command must be a list of strings, got "ls"$/],
      [{ name: 'a', task: { container: { image: 'x' } }, endpoint: { ports: [{ protocol: 'tcp', targetPort: 70000, publishedPort: 80, publishMode: 'host', name: '' }] } }, /^endpoint\.ports\[0\]\.targetPort must be <= 65535, got 70000$/],
    ];
    for (const [spec, re] of cases) {
      await assert.rejects(createService(h.store(), h.random, spec), (err: unknown) => {
        assert.ok(ShoalError.is(err, 'InvalidArgument'), `InvalidArgument for ${JSON.stringify(spec)}`);
        assert.match(err.message, re);
        return true;
      });
    }
    const ok = await h.createService({ name: 'good', task: { container: { image: 'x' } } });
    const v2 = h.store().view.version;
    assert.ok(v2 > version);
    await assert.rejects(updateService(h.store(), h.clock, ok.id, ok.meta.version, { ...ok.spec, replicas: -3 }), /replicas must be >= 0, got -3/);
    assert.equal(h.store().view.version, v2, 'nothing was proposed');
    assert.equal(h.store().view.count('service'), 1);
    assert.equal(h.tasks(ok.id).every((t) => t.desiredState <= TaskState.RUNNING), true);
  });
});
