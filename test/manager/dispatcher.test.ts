import assert from 'node:assert/strict';
import { ShoalError } from '../../src/types/errors';
import { AssignmentSet } from '../../src/manager/dispatcher/assignments';
import { TaskState, type Task } from '../../src/types/objects';
import { Harness } from './sim/harness';

describe('dispatcher', function () {
  this.timeout(60_000);
  let h: Harness | undefined;
  afterEach(() => {
    h?.close();
    h = undefined;
  });

  it('numbers assignment messages consecutively and sends a task again only when its desired state changes', () => {
    const set = new AssignmentSet();
    const t = { id: 't1', desiredState: TaskState.RUNNING } as Task;
    assert.equal(set.complete([t]).sequence, 1);
    assert.equal(set.incremental(new Map([['t1', t]])), null, 'no change, no message');
    const m2 = set.incremental(new Map([['t1', { ...t, desiredState: TaskState.SHUTDOWN }]]));
    assert.deepEqual([m2?.sequence, m2?.type, m2?.changes.length], [2, 'incremental', 1]);
    const m3 = set.incremental(new Map([['t1', undefined], ['t2', undefined]]));
    assert.deepEqual(m3?.changes, [{ action: 'remove', taskId: 't1' }], 'only tasks the agent knows are removed');
    assert.equal(m3?.sequence, 3);
  });

  it('gives nodes a grace period after a leader change: those that reconnect stay ready, a silent one goes down', async () => {
    h = await Harness.create(31, { dispatcher: { heartbeatPeriodMs: 2000 } });
    const a = await h.addNode();
    const b = await h.addNode();
    const first = h.sim.leaderIndex();
    h.agents.get(b.id)!.stop();
    h.sim.transferTo((first + 1) % 3);
    await h.until(() => h!.sim.leaderIndex() === (first + 1) % 3, 10_000, 'new leader');
    const changedAt = h.clock.now();
    await h.until(() => h!.store().view.get('node', b.id)?.status.state === 'down', 20_000, 'silent node down');
    assert.ok(h.clock.now() - changedAt >= 5000, 'not before 3 heartbeat periods of grace');
    assert.equal(h.store().view.get('node', a.id)?.status.state, 'ready');
  });

  it('marks a node whose connection closed down after the disconnect grace, long before the heartbeat window; its tasks run elsewhere', async () => {
    h = await Harness.create(33, { dispatcher: { heartbeatPeriodMs: 5000 } });
    const a = await h.addNode();
    const b = await h.addNode();
    const svc = await h.createService({ name: 'web', replicas: 4, task: { container: { image: 'nginx' } } });
    await h.until(() => h!.running(svc.id).length === 4, 20_000, '4 running');
    const onB = h.running(svc.id).filter((t) => t.nodeId === b.id).length;
    assert.ok(onB > 0, 'b runs some of the tasks');
    const crashedAt = h.clock.now();
    h.agents.get(b.id)!.crash();
    await h.until(() => h!.store().view.get('node', b.id)?.status.state === 'down', 20_000, 'crashed node down');
    const downAfter = h.clock.now() - crashedAt;
    assert.ok(downAfter >= 2000 && downAfter < 3000, `marked down ${downAfter} ms after its connection closed (grace 2000 ms, heartbeat window 15000 ms)`);
    await h.until(() => h!.running(svc.id).length === 4 && h!.running(svc.id).every((t) => t.nodeId === a.id), 20_000, 'all 4 on a');
  });

  it('keeps a node ready whose agent reconnects within the disconnect grace, and ignores the close of a replaced session', async () => {
    h = await Harness.create(34, { dispatcher: { heartbeatPeriodMs: 5000 } });
    const n = await h.addNode();
    const d = h.dispatcher()!;
    const first = await h.settle(d.register(n.id, n.description, '127.0.0.1', () => undefined));
    const second = await h.settle(d.register(n.id, n.description, '127.0.0.1', () => undefined));
    d.disconnected(n.id, first.sessionId); // the replaced session's stream closes late
    assert.doesNotThrow(() => d.heartbeat(n.id, second.sessionId), 'the current session goes on');
    d.disconnected(n.id, second.sessionId);
    assert.throws(() => d.heartbeat(n.id, second.sessionId), (e: unknown) => ShoalError.is(e, 'NotFound'), 'a closed session is over');
    await h.run(1000);
    const third = await h.settle(d.register(n.id, n.description, '127.0.0.1', () => undefined));
    await h.run(4000);
    assert.equal(h.store().view.get('node', n.id)?.status.state, 'ready', 'reconnected within the grace: still ready');
    d.heartbeat(n.id, third.sessionId);
  });

  it('refuses a heartbeat or a status report from an unknown session so the agent registers again', async () => {
    h = await Harness.create(32);
    const n = await h.addNode();
    const d = h.dispatcher()!;
    assert.throws(() => d.heartbeat(n.id, 'nope'), (e: unknown) => ShoalError.is(e, 'NotFound') && /register again/.test(e.hint ?? ''));
    assert.throws(() => d.reportStatus(n.id, 'nope', []), (e: unknown) => ShoalError.is(e, 'NotFound'));
    const follower = h.managers[(h.sim.leaderIndex() + 1) % 3].dispatcher;
    assert.throws(() => follower.heartbeat(n.id, 'x'), (e: unknown) => ShoalError.is(e, 'Unavailable'));
  });
});
