import assert from 'node:assert/strict';
import { NEW_META, TaskState, taskSpecWithDefaults, type SpecInput, type Task, type TaskSpec, type TaskStatus } from '../../src/types/objects';
import { containerConfigOf } from '../../src/worker/executor';
import { decide, type ControllerEvent, type ControllerState } from '../../src/worker/task-controller';

const status = (state: number, patch: Partial<TaskStatus> = {}): TaskStatus => ({ state, timestamp: 1, message: '', err: '', exitCode: 0, containerId: '', pid: 0, ...patch });
const st = (state: number, desiredState: number = TaskState.RUNNING, patch: Partial<TaskStatus> = {}): ControllerState => ({ status: status(state, patch), desiredState, stopGraceMs: 2500, now: 100 });

/** Runs events through decide, threading the status, and returns the states reported and the action kinds. */
function run(start: ControllerState, events: ControllerEvent[]): { states: number[]; actions: string[]; last: TaskStatus } {
  let s = start;
  const states: number[] = [];
  const actions: string[] = [];
  for (const e of events) {
    const d = decide(s, e);
    for (const x of d.statuses) states.push(x.state);
    for (const a of d.actions) actions.push(a.kind);
    if (d.statuses.length > 0) s = { ...s, status: d.statuses[d.statuses.length - 1] };
  }
  return { states, actions, last: s.status };
}

describe('worker task controller (pure decisions)', () => {
  it('drives an assigned task through every state to RUNNING, then COMPLETE on exit 0', () => {
    const r = run(st(TaskState.ASSIGNED), [{ kind: 'assigned' }, { kind: 'prepared', containerId: 'c1' }, { kind: 'started', pid: 42 }, { kind: 'exited', exit: { exitCode: 0 } }]);
    assert.deepEqual(r.states, [TaskState.ACCEPTED, TaskState.PREPARING, TaskState.READY, TaskState.STARTING, TaskState.RUNNING, TaskState.COMPLETE]);
    assert.deepEqual(r.actions, ['prepare', 'start', 'wait']);
    assert.equal(r.last.containerId, 'c1');
    assert.equal(r.last.exitCode, 0);
  });

  it('reports a non-zero exit as FAILED with its exit code, and an OOM kill as FAILED naming the OOM killer', () => {
    const f = decide(st(TaskState.RUNNING), { kind: 'exited', exit: { exitCode: 3 } }).statuses[0];
    assert.deepEqual([f.state, f.exitCode, f.err], [TaskState.FAILED, 3, 'task: non-zero exit (3)']);
    const o = decide(st(TaskState.RUNNING), { kind: 'exited', exit: { exitCode: 137, oomKilled: true } }).statuses[0];
    assert.equal(o.state, TaskState.FAILED);
    assert.match(o.err, /OOM killer/);
  });

  it('rejects a task whose image is missing, with the message, and removes nothing that runs', () => {
    const d = decide(st(TaskState.PREPARING), { kind: 'prepare-failed', message: 'image busybox:1.36 not found on node w2' });
    assert.deepEqual(d.statuses.map((x) => [x.state, x.err]), [[TaskState.REJECTED, 'image busybox:1.36 not found on node w2']]);
  });

  it('stops a running task with its grace period when the desired state becomes SHUTDOWN, and reports SHUTDOWN whatever the exit code', () => {
    const d = decide(st(TaskState.RUNNING), { kind: 'desired', desiredState: TaskState.SHUTDOWN });
    assert.deepEqual(d, { statuses: [], actions: [{ kind: 'stop', graceMs: 2500 }] });
    const e = decide(st(TaskState.RUNNING, TaskState.SHUTDOWN), { kind: 'exited', exit: { exitCode: 143 } });
    assert.deepEqual(e.statuses.map((x) => [x.state, x.exitCode]), [[TaskState.SHUTDOWN, 143]]);
  });

  it('holds a task whose desired state is READY (a stop-first replacement) prepared but not started, and starts it when told RUNNING', () => {
    const held = run(st(TaskState.ASSIGNED, TaskState.READY), [{ kind: 'assigned' }, { kind: 'prepared', containerId: 'c1' }]);
    assert.deepEqual(held.states, [TaskState.ACCEPTED, TaskState.PREPARING, TaskState.READY]);
    assert.deepEqual(held.actions, ['prepare'], 'nothing started');
    const go = decide({ status: held.last, desiredState: TaskState.RUNNING, stopGraceMs: 2500, now: 200 }, { kind: 'desired', desiredState: TaskState.RUNNING });
    assert.deepEqual([go.statuses.map((x) => [x.state, x.containerId]), go.actions.map((a) => a.kind)], [[[TaskState.STARTING, 'c1']], ['start']]);
    // Told to shut down instead, it never starts and its container goes.
    const stop = decide({ status: held.last, desiredState: TaskState.SHUTDOWN, stopGraceMs: 2500, now: 200 }, { kind: 'desired', desiredState: TaskState.SHUTDOWN });
    assert.deepEqual([stop.statuses.map((x) => x.state), stop.actions.map((a) => a.kind)], [[TaskState.SHUTDOWN], ['remove']]);
    // After an agent restart its created container is left unstarted.
    const again = decide(st(TaskState.READY, TaskState.READY, { containerId: 'c1' }), { kind: 'attached', container: { status: 'created', id: 'c1' } });
    assert.deepEqual([again.statuses, again.actions], [[], []]);
  });

  it('shuts down a task that has not started without starting it', () => {
    assert.deepEqual(decide(st(TaskState.PREPARING), { kind: 'desired', desiredState: TaskState.SHUTDOWN }).statuses.map((x) => x.state), [TaskState.SHUTDOWN]);
    const p = decide(st(TaskState.PREPARING, TaskState.SHUTDOWN), { kind: 'prepared', containerId: 'c' });
    assert.deepEqual([p.statuses.map((x) => x.state), p.actions.map((a) => a.kind)], [[TaskState.SHUTDOWN], ['remove']]);
  });

  it('ignores a re-sent assignment and events for a task that has already ended', () => {
    assert.deepEqual(decide(st(TaskState.RUNNING), { kind: 'assigned' }), { statuses: [], actions: [] });
    assert.deepEqual(decide(st(TaskState.COMPLETE), { kind: 'exited', exit: { exitCode: 1 } }), { statuses: [], actions: [] });
    assert.deepEqual(decide(st(TaskState.FAILED), { kind: 'desired', desiredState: TaskState.SHUTDOWN }), { statuses: [], actions: [] });
  });

  it('after an agent restart re-attaches to a running container without starting another', () => {
    const d = decide(st(TaskState.RUNNING, TaskState.RUNNING, { containerId: 'c', pid: 7 }), { kind: 'attached', container: { status: 'running', id: 'c', pid: 7 } });
    assert.deepEqual(d, { statuses: [], actions: [{ kind: 'wait' }] });
    const late = decide(st(TaskState.STARTING, TaskState.RUNNING, { containerId: 'c' }), { kind: 'attached', container: { status: 'running', id: 'c', pid: 9 } });
    assert.deepEqual([late.statuses.map((x) => [x.state, x.pid]), late.actions.map((a) => a.kind)], [[[TaskState.RUNNING, 9]], ['wait']]);
  });

  it('after an agent restart reports a container that exited meanwhile with its real exit code, and a vanished one as FAILED', () => {
    const d = decide(st(TaskState.RUNNING, TaskState.RUNNING, { containerId: 'c' }), { kind: 'attached', container: { status: 'exited', id: 'c', exit: { exitCode: 5 } } });
    assert.deepEqual(d.statuses.map((x) => [x.state, x.exitCode]), [[TaskState.FAILED, 5]]);
    const gone = decide(st(TaskState.RUNNING, TaskState.RUNNING, { containerId: 'c' }), { kind: 'attached', container: undefined });
    assert.deepEqual(gone.statuses.map((x) => x.state), [TaskState.FAILED]);
    assert.match(gone.statuses[0].err, /container c of the task is gone/);
  });
});

describe('worker container config of a task', () => {
  const task = (spec: SpecInput<TaskSpec>): Task => ({
    id: 't1', meta: NEW_META, serviceId: 's1', slot: 1, nodeId: 'n1', spec: taskSpecWithDefaults(spec), hostPorts: [],
    desiredState: TaskState.RUNNING, status: status(TaskState.ASSIGNED), restartHistoryMs: [],
  });

  it('takes the task\'s command, mounts and limits over the image\'s defaults', () => {
    const c = containerConfigOf(task({
      container: { image: 'busybox', command: ['sh'], args: ['-c', 'true'], env: ['A=1'], mounts: [{ type: 'bind', source: '/srv', target: '/data', readOnly: true }, { type: 'volume', source: 'cache', target: '/cache', readOnly: false }, { type: 'tmpfs', source: '', target: '/tmp', readOnly: false }] },
      resources: { limits: { memoryBytes: 64 << 20, nanoCPUs: 5e8 } },
    }), { cmd: ['top'], env: ['PATH=/bin'] }, 'none');
    assert.deepEqual(c.cmd, ['sh', '-c', 'true']);
    assert.deepEqual(c.env, ['PATH=/bin', 'A=1']);
    assert.deepEqual(c.mounts, [{ type: 'bind', source: '/srv', target: '/data', readOnly: true }, { type: 'volume', name: 'cache', target: '/cache', readOnly: false }, { type: 'tmpfs', target: '/tmp' }]);
    assert.deepEqual(c.limits, { memoryBytes: 64 << 20, nanoCpus: 5e8 });
    assert.deepEqual(c.labels, { 'shoal.task.id': 't1', 'shoal.service.id': 's1' });
  });

  it('sets no limit where the task asks for none, as Docker does with 0', () => {
    const c = containerConfigOf(task({ container: { image: 'busybox' } }), { cmd: ['top'] }, 'none');
    assert.deepEqual([c.cmd, c.limits, c.mounts], [['top'], undefined, []]);
  });
});
