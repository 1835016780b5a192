import assert from 'node:assert/strict';
import { containerConfigOf } from '../../src/worker/executor';
import { NEW_META, taskSpecWithDefaults, TaskState, type Task } from '../../src/types/objects';

function task(command: string[], args: string[]): Task {
  return {
    id: 't'.repeat(25), meta: NEW_META, serviceId: 's'.repeat(25), slot: 1, nodeId: 'n'.repeat(25), hostPorts: [], restartHistoryMs: [],
    spec: taskSpecWithDefaults({ container: { image: 'busybox', command, args } }), desiredState: TaskState.RUNNING,
    status: { state: TaskState.ASSIGNED, timestamp: 0, message: '', err: '', exitCode: 0, containerId: '', pid: 0 },
  };
}

describe('a task\'s command line over its image\'s (Docker\'s rules)', () => {
  it('a task spec with init runs the runtime\'s init as PID 1; without it the image\'s setting stands', () => {
    const t = task([], ['sleep', '1000']);
    const withInit: Task = { ...t, spec: { ...t.spec, container: { ...t.spec.container, init: true } } };
    assert.equal(containerConfigOf(withInit, { cmd: ['sh'] }, 'none').init, true);
    assert.equal(containerConfigOf(t, { cmd: ['sh'] }, 'none').init, undefined);
  });

  it('args replace the image\'s Cmd and keep its Entrypoint; command replaces both', () => {
    const noEntrypoint = { cmd: ['sh'] };
    assert.deepEqual(containerConfigOf(task([], ['sleep', '1000']), noEntrypoint, 'none', []).cmd, ['sleep', '1000']);
    const withEntrypoint = { cmd: ['/entry', '--default'] };
    assert.deepEqual(containerConfigOf(task([], ['--flag']), withEntrypoint, 'none', ['/entry']).cmd, ['/entry', '--flag']);
    assert.deepEqual(containerConfigOf(task(['/bin/echo'], ['hi']), withEntrypoint, 'none', ['/entry']).cmd, ['/bin/echo', 'hi']);
    assert.deepEqual(containerConfigOf(task([], []), withEntrypoint, 'none', ['/entry']).cmd, ['/entry', '--default']);
  });
});
