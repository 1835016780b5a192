import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Level } from 'level';
import { ShoalError } from '../../src/types/errors';
import { NEW_META, TaskState, taskSpecWithDefaults, type Task } from '../../src/types/objects';
import { WorkerStore } from '../../src/worker/worker-store';

const task: Task = {
  id: 't1', meta: NEW_META, serviceId: 's1', slot: 1, nodeId: 'n1', spec: taskSpecWithDefaults({ container: { image: 'busybox' } }), hostPorts: [],
  desiredState: TaskState.RUNNING, status: { state: TaskState.ASSIGNED, timestamp: 1, message: '', err: '', exitCode: 0, containerId: '', pid: 0 }, restartHistoryMs: [],
};

describe('worker store (LevelDB)', () => {
  let dir: string;
  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-worker-store-')); });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('keeps the held tasks and the managers learned across a reopen', async () => {
    const s = await WorkerStore.open(dir);
    assert.deepEqual(await s.managers(), [], 'none learned yet');
    await s.put({ task, status: { ...task.status, state: TaskState.RUNNING, containerId: 'c1', pid: 42 } });
    await s.putManagers(['10.0.0.1:2377', '10.0.0.2:2377']);
    await s.close();
    const again = await WorkerStore.open(dir);
    try {
      assert.deepEqual((await again.all()).map((h) => [h.task.id, h.status.state, h.status.containerId]), [['t1', TaskState.RUNNING, 'c1']]);
      assert.deepEqual(await again.managers(), ['10.0.0.1:2377', '10.0.0.2:2377']);
      await again.delete('t1');
      assert.deepEqual(await again.all(), []);
      await again.put({ task, status: task.status });
      await again.clear();
      assert.deepEqual([await again.all(), await again.managers()], [[], []], 'a node that leaves forgets its swarm');
    } finally {
      await again.close();
    }
  });

  it('stops with the directory named when the database is damaged, instead of starting empty', async () => {
    const s = await WorkerStore.open(dir);
    await s.put({ task, status: task.status });
    await s.close();
    fs.writeFileSync(path.join(dir, 'CURRENT'), 'MANIFEST-999999\n');
    await assert.rejects(WorkerStore.open(dir), (e: unknown) => ShoalError.is(e, 'FailedPrecondition') && e.message.startsWith(`the worker database ${dir} is damaged: `) && (e.hint ?? '').includes(`move ${dir} aside`));
  });

  it('refuses a database another process holds, saying so rather than calling it damaged', async () => {
    const s = await WorkerStore.open(dir);
    try {
      await assert.rejects(WorkerStore.open(dir), (e: unknown) => ShoalError.is(e, 'FailedPrecondition') && e.message === `the worker database ${dir} is in use by another process`);
    } finally {
      await s.close();
    }
  });

  it('refuses a record that is not a task and its status, naming it', async () => {
    const raw = new Level<string, unknown>(dir, { valueEncoding: 'json' });
    await raw.put('task/x', { foo: 1 });
    await raw.close();
    const s = await WorkerStore.open(dir);
    try {
      await assert.rejects(s.all(), (e: unknown) => ShoalError.is(e, 'FailedPrecondition') && e.message === `the worker database ${dir} is damaged: record task/x is not a task and its status`);
    } finally {
      await s.close();
    }
  });
});
