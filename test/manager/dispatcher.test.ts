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
