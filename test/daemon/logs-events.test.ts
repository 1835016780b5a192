import assert from 'node:assert/strict';
import type { ServiceLogLine } from '../../src/api/backend';
import type { ShoalEvent } from '../../src/events/event';
import { parseFilters } from '../../src/events/filter';
import { ShoalError } from '../../src/types/errors';
import { DaemonSet, runningTasks, waitFor } from './helpers';

describe('shoald: service logs across nodes and the event stream', function () {
  this.timeout(60_000);
  let set: DaemonSet;

  beforeEach(() => {
    set = new DaemonSet('logs');
  });

  afterEach(async () => {
    const problems = await set.destroy();
    assert.deepEqual(problems, []);
  });

  it('merges the logs of a service\'s tasks from the manager and a worker, and streams the cluster\'s events', async () => {
    const n1 = await set.start('n1');
    await n1.daemon.backend.swarmInit({ listenAddr: '', advertiseAddr: '', forceNewCluster: false });
    const control = n1.daemon.backend.control();
    const n2 = await set.start('n2');
    await n2.daemon.backend.swarmJoin({ remoteAddrs: [n1.addr], joinToken: (await control.getCluster()).joinTokens.worker, listenAddr: '', advertiseAddr: '' });
    const workerId = n2.daemon.backend.swarmState().nodeId;
    const managerId = n1.daemon.backend.swarmState().nodeId;
    await waitFor(async () => (await control.listNodes({ roles: [], names: [] })).every((n) => n.status.state === 'ready'), 'both nodes ready');

    // Follow service events from now on, filtered on type=service.
    const live = new AbortController();
    const seen: ShoalEvent[] = [];
    const following = (async () => {
      for await (const e of n1.daemon.backend.events({ filter: parseFilters(['type=service']) }, live.signal)) seen.push(e);
    })();

    const startMs = Date.now();
    const svc = await control.createService({
      name: 'talkers', replicas: 4,
      task: { container: { image: 'busybox:latest', command: ['sh', '-c', 'echo out-$HOSTNAME; echo err-line >&2; exec sleep 1000'], stopGraceMs: 300 } },
    });
    await waitFor(async () => runningTasks(await control.listTasks({ serviceIds: [svc.id], nodeIds: [], desiredStates: [] })).length === 4, '4 running tasks');
    const tasks = runningTasks(await control.listTasks({ serviceIds: [svc.id], nodeIds: [], desiredStates: [] }));
    assert.deepEqual(new Set(tasks.map((t) => t.nodeId)), new Set([managerId, workerId]), 'tasks on both nodes');

    const read = async (): Promise<ServiceLogLine[]> => {
      const out: ServiceLogLine[] = [];
      for await (const l of n1.daemon.backend.serviceLogs('talkers', { follow: false, timestamps: true }, new AbortController().signal)) out.push(l);
      return out;
    };
    const lines = await waitFor(async () => { const ls = await read(); return ls.length === 8 ? ls : undefined; }, '8 log lines (2 from each task)');
    for (const t of tasks) {
      const mine = lines!.filter((l) => l.taskId === t.id);
      assert.deepEqual(mine.map((l) => [l.stream, l.line.startsWith('out-') ? 'out' : l.line]).sort(), [['stderr', 'err-line'], ['stdout', 'out']]);
      assert.ok(mine.every((l) => l.nodeId === t.nodeId && l.serviceId === svc.id && l.slot === t.slot && /^\d{4}-\d\d-\d\dT/.test(l.time)));
    }
    const times = lines!.map((l) => l.time);
    assert.deepEqual(times, [...times].sort(), 'merged in time order');
    await assert.rejects(async () => { for await (const _ of n1.daemon.backend.serviceLogs('nope', { follow: false, timestamps: false }, new AbortController().signal)) { /* none */ } }, (e: unknown) => ShoalError.is(e, 'NotFound'));

    await control.removeService('talkers');
    await waitFor(() => seen.some((e) => e.action === 'remove'), 'the service remove event');
    live.abort();
    await following;
    assert.deepEqual(seen.map((e) => [e.type, e.action, e.objectId]).filter(([, a]) => a === 'create' || a === 'remove'), [['service', 'create', svc.id], ['service', 'remove', svc.id]]);
    assert.ok(seen.every((e) => e.type === 'service'));

    // History: since/until bound a finished stream, which ends on its own.
    const history: ShoalEvent[] = [];
    for await (const e of n1.daemon.backend.events({ sinceMs: startMs - 1, untilMs: Date.now(), filter: parseFilters([`service=${svc.id}`]) }, new AbortController().signal)) history.push(e);
    assert.ok(history.some((e) => e.type === 'task' && e.action === 'create'), 'task events of the service are in the history');
    assert.ok(history.every((e) => e.time >= startMs - 1));
  });
});
