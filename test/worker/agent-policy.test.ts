import assert from 'node:assert/strict';
import { ManualClock } from '../../src/types/clock';
import { SeededRandom } from '../../src/types/random';
import { TaskState, type TaskStatus } from '../../src/types/objects';
import { backoffMs, heartbeatDeadlineMs, reconnectDelayMs, sequenceVerdict } from '../../src/worker/agent';
import { describeHost } from '../../src/worker/node-description';
import { StatusReporter, type StatusUpdate } from '../../src/worker/status-reporter';

const status = (state: number): TaskStatus => ({ state, timestamp: state, message: '', err: '', exitCode: 0, containerId: '', pid: 0 });

describe('worker agent policies', () => {
  it('waits at most half a heartbeat period before trying the next manager, so a dead manager is replaced within two periods', () => {
    const r = new SeededRandom(1);
    for (let attempt = 0; attempt < 30; attempt++) {
      const d = backoffMs(attempt, 100, 5000, r);
      assert.ok(d >= 0 && d <= 2500, `attempt ${attempt}: ${d} ms`);
    }
  });

  it('spreads the agents of a dead manager over the backoff window instead of all at once', () => {
    const delays = Array.from({ length: 1000 }, (_, i) => backoffMs(6, 100, 5000, new SeededRandom(i)));
    const buckets = new Set(delays.map((d) => Math.floor(d / 250)));
    assert.equal(buckets.size, 10, `delays should cover 0..2500 ms in 250 ms buckets, got ${[...buckets].sort().join(',')}`);
    assert.ok(Math.max(...delays.map((d) => delays.filter((x) => Math.floor(x / 250) === Math.floor(d / 250)).length)) < 200, 'no bucket takes a fifth of the agents');
  });

  it('after losing an established session, waits at most a quarter period, spread over it; a silent manager is given up after half a period', () => {
    const delays = Array.from({ length: 1000 }, (_, i) => reconnectDelayMs(5000, new SeededRandom(i)));
    assert.ok(delays.every((d) => d >= 0 && d < 1250), 'within a quarter period');
    assert.equal(new Set(delays.map((d) => Math.floor(d / 125))).size, 10, 'spread over the whole window');
    // Noticing (1.5 periods at most) plus waiting leaves time to connect within two periods.
    assert.ok(5000 + heartbeatDeadlineMs(5000) + Math.max(...delays) < 2 * 5000);
  });

  it('applies the complete set and increments in sequence, and asks for the complete set on a gap', () => {
    assert.equal(sequenceVerdict(0, { type: 'complete', sequence: 1 }), 'apply');
    assert.equal(sequenceVerdict(1, { type: 'incremental', sequence: 2 }), 'apply');
    assert.equal(sequenceVerdict(2, { type: 'incremental', sequence: 4 }), 'resync');
    assert.equal(sequenceVerdict(0, { type: 'incremental', sequence: 1 }), 'resync', 'an increment before any complete set');
    assert.equal(sequenceVerdict(5, { type: 'incremental', sequence: 5 }), 'resync', 'a repeated sequence number');
  });

  it('describes the host: hostname, platform, CPUs and memory', () => {
    const d = describeHost('w2');
    assert.equal(d.hostname, 'w2');
    assert.equal(d.platform.os, 'linux');
    assert.ok(d.resources.nanoCPUs >= 1e9 && d.resources.memoryBytes > 0);
  });

  it('status reports are batched, retried until acknowledged, and a newer status is never dropped by the ack of an older one', async () => {
    const clock = new ManualClock();
    const rep = new StatusReporter(clock, { batchMs: 10, retryMs: 100 });
    const sent: StatusUpdate[][] = [];
    let fail = 2;
    let release: (() => void) | undefined;
    rep.setSender((u) => {
      sent.push([...u]);
      if (fail-- > 0) return Promise.reject(new Error('UNAVAILABLE'));
      return new Promise<void>((resolve) => { release = resolve; });
    });
    const flush = async (): Promise<void> => { for (let i = 0; i < 5; i++) await Promise.resolve(); };
    rep.report('a', status(TaskState.ACCEPTED));
    rep.report('b', status(TaskState.RUNNING));
    clock.advance(10);
    await flush();
    assert.deepEqual(sent.map((b) => b.map((u) => u.taskId)), [['a', 'b']], 'one batch');
    clock.advance(100);
    await flush();
    assert.equal(sent.length, 2, 'retried after a failure');
    clock.advance(100);
    await flush();
    assert.equal(sent.length, 3, 'retried again');
    rep.report('a', status(TaskState.RUNNING)); // newer, while the older one is in flight
    release!();
    await flush();
    assert.equal(rep.pendingCount(), 1, 'only the newer status of a stays');
    clock.advance(10);
    await flush();
    assert.deepEqual(sent[3].map((u) => [u.taskId, u.status.state]), [['a', TaskState.RUNNING]]);
    release!();
    await flush();
    assert.equal(rep.pendingCount(), 0);
    rep.close();
  });

  it('keeps reports while there is no session and sends them on the next one', async () => {
    const clock = new ManualClock();
    const rep = new StatusReporter(clock, { batchMs: 10 });
    rep.report('a', status(TaskState.COMPLETE));
    clock.advance(1000);
    const got: string[] = [];
    rep.setSender((u) => { got.push(...u.map((x) => x.taskId)); return Promise.resolve(); });
    clock.advance(0);
    for (let i = 0; i < 5; i++) await Promise.resolve();
    assert.deepEqual([got, rep.pendingCount()], [['a'], 0]);
    rep.close();
  });
});
