import assert from 'node:assert/strict';
import { SeededRandom } from '../../src/types/random';
import { TaskState, type Task } from '../../src/types/objects';
import { newTask } from '../../src/manager/orchestrator/new-task';
import { restartDecision, taskFailed } from '../../src/manager/orchestrator/restart-policy';
import { makeService } from './sim/fixtures';

function stopped(policy: Record<string, unknown>, state: number, exitCode: number, atMs: number, history: number[]): Task {
  const r = new SeededRandom(1);
  const svc = makeService(r, { name: 'r', task: { container: { image: 'x' }, restartPolicy: policy } });
  const t = newTask(svc, r, 0, { slot: 1, nodeId: 'n' }, history);
  return { ...t, status: { ...t.status, state, exitCode, timestamp: atMs } };
}

describe('restart policy (pure)', () => {
  it('waits for the delay after the task stopped, then restarts and records the attempt', () => {
    const t = stopped({ condition: 'any', delayMs: 5000 }, TaskState.FAILED, 1, 1000, []);
    assert.deepEqual(restartDecision(t, 3000), { kind: 'wait', untilMs: 6000 });
    assert.deepEqual(restartDecision(t, 6000), { kind: 'restart', history: [6000] });
  });

  it('counts only the attempts inside the window toward maxAttempts', () => {
    const t = stopped({ condition: 'any', delayMs: 0, maxAttempts: 2, windowMs: 10_000 }, TaskState.FAILED, 1, 50_000, [20_000, 45_000]);
    assert.equal(restartDecision(t, 50_000).kind, 'restart', 'the attempt at 20 s fell out of the window');
    const t2 = stopped({ condition: 'any', delayMs: 0, maxAttempts: 2, windowMs: 10_000 }, TaskState.FAILED, 1, 50_000, [42_000, 45_000]);
    assert.equal(restartDecision(t2, 50_000).kind, 'no-restart');
    const t3 = stopped({ condition: 'any', delayMs: 0, maxAttempts: 2, windowMs: 0 }, TaskState.FAILED, 1, 50_000, [1, 2]);
    assert.equal(restartDecision(t3, 50_000).kind, 'no-restart', 'window 0 counts every attempt');
  });

  it('follows the condition: none never, on-failure only after a failure, any always', () => {
    assert.equal(restartDecision(stopped({ condition: 'none', delayMs: 0 }, TaskState.FAILED, 1, 0, []), 0).kind, 'no-restart');
    assert.equal(restartDecision(stopped({ condition: 'on-failure', delayMs: 0 }, TaskState.COMPLETE, 0, 0, []), 0).kind, 'no-restart');
    assert.equal(restartDecision(stopped({ condition: 'on-failure', delayMs: 0 }, TaskState.COMPLETE, 3, 0, []), 0).kind, 'restart');
    assert.equal(restartDecision(stopped({ condition: 'any', delayMs: 0 }, TaskState.COMPLETE, 0, 0, []), 0).kind, 'restart');
    assert.equal(taskFailed(stopped({}, TaskState.REJECTED, 0, 0, [])), true);
  });
});
