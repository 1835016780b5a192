import assert from 'node:assert/strict';
import { ManualClock } from '../../src/types/clock';
import { SeededRandom } from '../../src/types/random';
import { TaskState, type Task, type TaskStatus } from '../../src/types/objects';
import { Store } from '../../src/manager/store/store';
import { Dispatcher } from '../../src/manager/dispatcher/dispatcher';
import { patchTask } from '../../src/manager/store/actions';
import { newTask } from '../../src/manager/orchestrator/new-task';
import type { ReplicatedLog } from '../../src/manager/replicated-log';
import { makeCluster, makeNode, makeService } from './sim/fixtures';

/** A log whose proposals commit only when the test says, in the order it says. */
class HeldLog implements ReplicatedLog {
  readonly held: { data: Uint8Array; resolve: (r: unknown) => void }[] = [];
  store!: Store;
  private index = 0;

  propose(data: Uint8Array): Promise<unknown> {
    return new Promise((resolve) => this.held.push({ data, resolve }));
  }

  isLeader(): boolean {
    return true;
  }

  onLeadershipChange(): () => void {
    return () => undefined;
  }

  /** Commits the i-th held proposal now. */
  commit(i = 0): void {
    const [p] = this.held.splice(i, 1);
    p.resolve(this.store.apply({ index: ++this.index, term: 1, type: 'normal', data: p.data }));
  }
}

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('dispatcher: status reports under refused writes', function () {
  it('keeps the newest report of a task when a batch holding an older one is refused, and writes one batch at a time', async () => {
    const clock = new ManualClock(1_000_000);
    const random = new SeededRandom(7);
    const log = new HeldLog();
    const store = new Store(log, clock);
    log.store = store;
    const settle = async <T>(p: Promise<T>): Promise<T> => {
      await flush();
      while (log.held.length > 0) log.commit();
      return p;
    };
    const node = makeNode(random);
    const svc = makeService(random, { name: 's', replicas: 2, task: { container: { image: 'x' } } });
    const [t1, t2] = [1, 2].map((slot): Task => ({ ...newTask(svc, random, clock.now(), { slot, nodeId: node.id }), status: { ...newTask(svc, random, 0, { slot, nodeId: '' }).status, state: TaskState.ASSIGNED } }));
    await settle(store.write([
      { op: 'create', target: { kind: 'cluster', object: makeCluster(random) } }, { op: 'create', target: { kind: 'node', object: node } },
      { op: 'create', target: { kind: 'service', object: svc } }, { op: 'create', target: { kind: 'task', object: t1 } }, { op: 'create', target: { kind: 'task', object: t2 } },
    ]));
    const d = new Dispatcher(store, clock, random);
    d.start();
    const { sessionId } = await settle(d.register(node.id, node.description, '10.0.0.1', () => undefined));
    const status = (state: number): TaskStatus => ({ ...t1.status, state, timestamp: clock.now(), message: '' });

    d.reportStatus(node.id, sessionId, [{ taskId: t1.id, status: status(TaskState.STARTING) }, { taskId: t2.id, status: status(TaskState.STARTING) }]);
    // Another writer changes t2 just before the dispatcher reads it: the dispatcher's batch will be refused.
    const other = store.write([patchTask(store.view.get('task', t2.id)!, { desiredState: TaskState.RUNNING, restartHistoryMs: [1] })]);
    clock.advance(50);
    await flush();
    assert.equal(log.held.length, 2, 'the other write and the first status batch are proposed');
    // RUNNING arrives while the first batch is in flight: no second batch goes out meanwhile.
    clock.advance(1);
    d.reportStatus(node.id, sessionId, [{ taskId: t1.id, status: status(TaskState.RUNNING) }, { taskId: t2.id, status: status(TaskState.RUNNING) }]);
    clock.advance(100);
    await flush();
    assert.equal(log.held.length, 2, 'one status batch in flight at a time');
    log.commit(0); // the other write
    await other;
    log.commit(0); // the status batch: refused, t2 was read at the older version
    await flush();
    for (let i = 0; i < 20; i++) {
      clock.advance(50);
      await flush();
      while (log.held.length > 0) log.commit();
      await flush();
    }
    assert.deepEqual([t1, t2].map((t) => store.view.get('task', t.id)?.status.state), [TaskState.RUNNING, TaskState.RUNNING], 'both tasks end RUNNING, not at the refused batch\'s STARTING');
    d.stop();
  });
});
