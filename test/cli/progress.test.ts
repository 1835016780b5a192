import assert from 'node:assert/strict';
import type { DService, DTask } from '../../src/cli/docker-types';
import { judge, JudgeState, observe, renderLive, renderPlain } from '../../src/cli/progress';

const svc = (over: Partial<DService> = {}, replicas = 3, image = 'busybox:1'): DService => ({
  ID: 'svc1', Version: { Index: 10 },
  Spec: { Name: 'web', TaskTemplate: { ContainerSpec: { Image: image } }, Mode: { Replicated: { Replicas: replicas } }, UpdateConfig: { Monitor: 2e9 } },
  ...over,
});

let n = 0;
const task = (slot: number, state: string, over: Partial<DTask> & { err?: string; image?: string; at?: string } = {}): DTask => ({
  ID: `task${++n}`, ServiceID: 'svc1', Slot: slot, NodeID: 'node1', DesiredState: over.DesiredState ?? 'running',
  Spec: { ContainerSpec: { Image: over.image ?? 'busybox:1' } },
  Status: { State: state, Timestamp: over.at ?? '2026-01-01T00:00:00Z', ...(over.err === undefined ? {} : { Err: over.err }) },
});

const full = '[' + '='.repeat(50) + '>]';

describe('shoal CLI: convergence progress (a pure function of what was observed)', () => {
  it('draws one bar per slot and the overall count while tasks start', () => {
    const o = observe(svc(), [task(1, 'running'), task(2, 'starting'), task(3, 'pending')]);
    assert.equal(o.running, 1);
    assert.equal(o.total, 3);
    const j = judge(o, { rollback: false }, 1000, 'create');
    assert.deepEqual(j.verdict, { kind: 'waiting' });
    assert.deepEqual(renderLive(o, j.state, j.verdict), [
      'overall progress: 1 out of 3 tasks',
      `1/3: running   ${full}`,
      `2/3: starting  [${'='.repeat(44)}>${' '.repeat(6)}]`,
      `3/3: pending   [${'='.repeat(16)}>${' '.repeat(34)}]`,
    ]);
  });

  it('verifies for the monitor period once every slot runs, then says the service converged', () => {
    const tasks = [task(1, 'running'), task(2, 'running'), task(3, 'running')];
    const o = observe(svc(), tasks);
    let s: JudgeState = { rollback: false };
    const a = judge(o, s, 10_000, 'create');
    assert.deepEqual(a.verdict, { kind: 'verifying', leftSec: 2 });
    assert.equal(renderLive(o, a.state, a.verdict).at(-1), 'verify: Waiting 2 seconds to verify that tasks are stable...');
    s = a.state;
    const b = judge(o, s, 11_200, 'create');
    assert.deepEqual(b.verdict, { kind: 'verifying', leftSec: 1 });
    const c = judge(o, b.state, 12_000, 'create');
    assert.deepEqual(c.verdict, { kind: 'converged' });
    assert.equal(renderLive(o, c.state, c.verdict).at(-1), 'verify: Service converged');
    // A slot that stops running during the verify window starts it over.
    const d = judge(observe(svc(), [task(1, 'running'), task(2, 'running'), task(3, 'failed', { err: 'task: non-zero exit (1)' })]), a.state, 11_000, 'create');
    assert.deepEqual(d.verdict, { kind: 'waiting' });
    assert.equal(d.state.convergedAtMs, undefined);
  });

  it('shows a task error in place of its bar', () => {
    const o = observe(svc(), [task(1, 'running'), task(2, 'running'), task(3, 'pending', { err: 'no suitable node (1 node not available for new tasks)' })]);
    const j = judge(o, { rollback: false }, 0, 'create');
    assert.equal(renderLive(o, j.state, j.verdict)[3], '3/3: no suitable node (1 node not available for new tasks)');
    const failed = observe(svc(), [task(1, 'running'), task(2, 'running'), task(3, 'failed', { DesiredState: 'shutdown', err: 'task: non-zero exit (1)', at: '2026-01-01T00:00:05Z' }), task(3, 'new', { at: '2026-01-01T00:00:01Z' })]);
    assert.equal(renderLive(failed, { rollback: false }, { kind: 'waiting' })[3], '3/3: task: non-zero exit (1)');
  });

  it('counts only tasks of the current spec during an update, and waits for the update to complete', () => {
    const updated = svc({ UpdateStatus: { State: 'updating', StartedAt: '2026-01-01T00:01:00Z' } }, 2, 'busybox:2');
    const tasks = [task(1, 'running', { image: 'busybox:2' }), task(2, 'running', { image: 'busybox:1' })];
    const o = observe(updated, tasks, { State: 'completed', StartedAt: '2026-01-01T00:00:00Z' });
    assert.equal(o.running, 1);
    assert.deepEqual(judge(o, { rollback: false }, 0, 'update').verdict, { kind: 'waiting' });
    const all = observe(updated, [task(1, 'running', { image: 'busybox:2' }), task(2, 'running', { image: 'busybox:2' })]);
    assert.deepEqual(judge(all, { rollback: false }, 0, 'update').verdict, { kind: 'waiting' }, 'still updating');
    const done = observe({ ...updated, UpdateStatus: { State: 'completed', StartedAt: '2026-01-01T00:01:00Z' } }, [task(1, 'running', { image: 'busybox:2' }), task(2, 'running', { image: 'busybox:2' })]);
    assert.equal(judge(done, { rollback: false }, 0, 'update').verdict.kind, 'verifying');
  });

  it('ignores the update status seen before the operation was sent', () => {
    const stale = { State: 'paused' as const, StartedAt: '2026-01-01T00:00:00Z', Message: 'old failure' };
    const o = observe(svc({ UpdateStatus: stale }), [task(1, 'running'), task(2, 'running'), task(3, 'running')], stale);
    assert.equal(o.update, undefined);
    assert.equal(judge(o, { rollback: false }, 0, 'scale').verdict.kind, 'verifying');
  });

  it('fails with the update status message when the update pauses or is rolled back', () => {
    const tasks = [task(1, 'running'), task(2, 'running'), task(3, 'running')];
    const paused = observe(svc({ UpdateStatus: { State: 'paused', Message: 'update paused due to failure or early termination of task x' } }), tasks);
    assert.deepEqual(judge(paused, { rollback: false }, 0, 'update').verdict, { kind: 'failed', message: 'service update paused: update paused due to failure or early termination of task x' });
    const rolled = observe(svc({ UpdateStatus: { State: 'rollback_completed', Message: 'rollback completed' } }), tasks);
    const j1 = judge(rolled, { rollback: false }, 0, 'update');
    assert.equal(j1.verdict.kind, 'verifying');
    assert.deepEqual(judge(rolled, j1.state, 5000, 'update').verdict, { kind: 'failed', message: 'service rolled back: rollback completed' });
    assert.deepEqual(judge(rolled, j1.state, 5000, 'rollback').verdict, { kind: 'converged' }, 'a requested rollback that completes is a success');
    const rbPaused = observe(svc({ UpdateStatus: { State: 'rollback_paused', Message: 'rollback paused' } }), tasks);
    assert.deepEqual(judge(rbPaused, { rollback: true }, 0, 'rollback').verdict, { kind: 'failed', message: 'service rollback paused: rollback paused' });
  });

  it('says it is rolling back while a rollback runs', () => {
    const o = observe(svc({ UpdateStatus: { State: 'rollback_started', Message: 'manually requested rollback' } }), [task(1, 'running')]);
    const j = judge(o, { rollback: false }, 0, 'rollback');
    const lines = renderLive(o, j.state, j.verdict);
    assert.equal(lines[0], 'rollback: manually requested rollback');
    assert.equal(lines[1], 'overall progress: rolling back update: 1 out of 3 tasks');
  });

  it('hides the per-slot bars above 20 tasks', () => {
    const tasks = Array.from({ length: 25 }, (_x, i) => task(i + 1, 'running'));
    const o = observe(svc({}, 25), tasks);
    const j = judge(o, { rollback: false }, 0, 'create');
    assert.deepEqual(renderLive(o, j.state, j.verdict), ['overall progress: 25 out of 25 tasks', 'verify: Waiting 2 seconds to verify that tasks are stable...']);
  });

  it('shows one row per node for a global service', () => {
    const g = svc({ Spec: { Name: 'agent', TaskTemplate: { ContainerSpec: { Image: 'busybox:1' } }, Mode: { Global: {} } } });
    const o = observe(g, [{ ...task(0, 'running'), NodeID: 'nodeaaaaaaaaaaaaaaaaaaaaa' }, { ...task(0, 'preparing'), NodeID: 'nodebbbbbbbbbbbbbbbbbbbbb' }]);
    assert.equal(o.total, 2);
    assert.equal(o.running, 1);
    assert.deepEqual(renderLive(o, { rollback: false }, { kind: 'waiting' }).map((l) => l.slice(0, 25)), ['overall progress: 1 out o', 'nodeaaaaaaaa: running   [', 'nodebbbbbbbb: preparing [']);
  });

  it('prints plain lines only when something changed, for a non-terminal', () => {
    let seen: ReadonlyMap<string, string> = new Map();
    const step = (tasks: DTask[], now: number, state: JudgeState): { lines: string[]; state: JudgeState } => {
      const o = observe(svc({}, 2), tasks);
      const j = judge(o, state, now, 'create');
      const p = renderPlain(o, j.state, j.verdict, seen);
      seen = p.seen;
      return { lines: p.lines, state: j.state };
    };
    const a = step([task(1, 'pending'), task(2, 'pending')], 0, { rollback: false });
    assert.deepEqual(a.lines, ['1/2: pending', '2/2: pending', 'overall progress: 0 out of 2 tasks']);
    const b = step([task(1, 'pending'), task(2, 'pending')], 100, a.state);
    assert.deepEqual(b.lines, []);
    const c = step([task(1, 'running'), task(2, 'running')], 200, b.state);
    assert.deepEqual(c.lines, ['1/2: running', '2/2: running', 'overall progress: 2 out of 2 tasks', 'verify: Waiting 2 seconds to verify that tasks are stable...']);
    const d = step([task(1, 'running'), task(2, 'running')], 1300, c.state);
    assert.deepEqual(d.lines, []);
    const e = step([task(1, 'running'), task(2, 'running')], 2300, d.state);
    assert.deepEqual(e.lines, ['verify: Service converged']);
  });
});
