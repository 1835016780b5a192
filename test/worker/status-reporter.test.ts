import assert from 'node:assert/strict';
import { ManualClock } from '../../src/types/clock';
import { TaskState, type TaskStatus } from '../../src/types/objects';
import { StatusReporter, type StatusUpdate } from '../../src/worker/status-reporter';

const status = (state: number): TaskStatus => ({ state, timestamp: 1, message: '', err: '', containerId: 'c', pid: 0, exitCode: 0 });

/** Lets the reporter's promise callbacks run. */
const settle = async (): Promise<void> => { for (let i = 0; i < 5; i++) await Promise.resolve(); };

describe('StatusReporter', () => {
  it('sends a report again on a new session even when a send on the old session is acknowledged after the re-report', async () => {
    const clock = new ManualClock();
    const reporter = new StatusReporter(clock, { batchMs: 10, retryMs: 100, batchMax: 500 });
    const running = status(TaskState.RUNNING);

    // Session 1: the send is acknowledged only later (a slow manager that is about to lose its leadership).
    let ack1: () => void = () => undefined;
    const sent1: StatusUpdate[][] = [];
    reporter.setSender((u) => { sent1.push([...u]); return new Promise<void>((resolve) => { ack1 = resolve; }); });
    reporter.report('t1', running);
    clock.advance(10);
    await settle();
    assert.equal(sent1.length, 1);

    // Session 1 ends; session 2 starts and, as the agent does, every held task is reported again
    // with the executor's current status: the very same object as before.
    reporter.setSender(undefined);
    const sent2: StatusUpdate[][] = [];
    reporter.report('t1', running);
    reporter.setSender((u) => { sent2.push([...u]); return Promise.resolve(); });

    // The old session's acknowledgement arrives now: its dispatcher may drop the report (it lost
    // the leadership), so the re-report for session 2 must still go out.
    ack1();
    await settle();
    clock.advance(10);
    await settle();
    assert.deepEqual(sent2.map((b) => b.map((u) => [u.taskId, u.status.state])), [[['t1', TaskState.RUNNING]]]);
    assert.equal(reporter.pendingCount(), 0);
    reporter.close();
  });

  it('drops an acknowledged report that no newer report replaced', async () => {
    const clock = new ManualClock();
    const reporter = new StatusReporter(clock, { batchMs: 10, retryMs: 100, batchMax: 500 });
    const sent: StatusUpdate[][] = [];
    reporter.setSender((u) => { sent.push([...u]); return Promise.resolve(); });
    reporter.report('t1', status(TaskState.STARTING));
    reporter.report('t1', status(TaskState.RUNNING));
    clock.advance(10);
    await settle();
    clock.advance(10);
    await settle();
    assert.deepEqual(sent.map((b) => b.map((u) => [u.taskId, u.status.state])), [[['t1', TaskState.RUNNING]]]);
    assert.equal(reporter.pendingCount(), 0);
    reporter.close();
  });
});
