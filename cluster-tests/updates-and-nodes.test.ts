import assert from 'node:assert/strict';
import * as path from 'node:path';
import { assertOneTaskPerSlot } from './harness/checks';
import { sleep, waitFor } from './harness/exec';
import { Host } from './harness/host';
import { useSwarm } from './harness/suite';
import { DTask, images, prepareHost, quickStop, running, Swarm } from './harness/swarm';
import { TestRun } from './harness/test-run';

// Scenarios 3, 8 and 9 of issue 10 on one cluster of 3 managers and 2 workers.

const probe = path.join(__dirname, 'harness', 'control-probe.js');

describe('cluster: updates, node operations, global services (scenarios 3, 8, 9)', function () {
  this.timeout(600_000);
  const suite = useSwarm(3, 2, { ready: true });
  let t: TestRun;
  let s: Swarm;
  before(() => ({ t, s } = suite));

  it('3. rolling update of 10 replicas goes in batches of 2, never more than 2 slots down; a failing image rolls back to the previous spec', async () => {
    const m = t.hosts[0];
    await m.cliOk('service', 'create', '--detach', '--name', 'roll', '--replicas', '10', '--update-parallelism', '2', '--update-delay', '2s', 'busybox', ...quickStop);
    await s.converged('roll', 10);

    const watch = watchSlots(s, 'roll', images.busyboxV2);
    await m.cliOk('service', 'update', '--detach', '--image', images.busyboxV2, 'roll');
    const done = await waitFor('update to busybox:v2 completed', async () => {
      const svc = await s.service('roll');
      const tasks = running(await s.tasks('roll'));
      return svc.UpdateStatus?.State === 'completed' && tasks.length === 10 && tasks.every((tk) => isImage(tk, images.busyboxV2)) ? tasks : undefined;
    }, { timeoutMs: 180_000, everyMs: 250 });
    const seen = await watch.stop();
    assertOneTaskPerSlot(done, 10);
    assert.ok(seen.maxDown <= 2, `at most 2 slots down at once, saw ${seen.maxDown}`);
    const batches = groupByGap(seen.firstRunning, 1500);
    assert.deepEqual(batches.map((b) => b.length), [2, 2, 2, 2, 2], `slots came up in batches ${JSON.stringify(batches)}`);

    await m.cliOk('service', 'update', '--detach', '--image', images.failing, '--update-failure-action', 'rollback', 'roll');
    const back = await waitFor('rollback to busybox:v2', async () => {
      const svc = await s.service('roll');
      return svc.UpdateStatus?.State === 'rollback_completed' ? svc : undefined;
    }, { timeoutMs: 180_000, everyMs: 250, last: () => '' });
    assert.ok(back.Spec.TaskTemplate.ContainerSpec.Image.startsWith(images.busyboxV2), `spec back to ${images.busyboxV2}: ${back.Spec.TaskTemplate.ContainerSpec.Image}`);
    const after = await s.converged('roll', 10, { where: (tk) => isImage(tk, images.busyboxV2) });
    assertOneTaskPerSlot(after, 10);
  });

  it('8a. drain moves a worker\'s tasks off it, and its containers stop', async () => {
    const [m, , , , w2] = t.hosts;
    await m.cliOk('service', 'create', '--detach', '--name', 'd8', '--replicas', '10', 'busybox', ...quickStop);
    let tasks = await s.converged('d8', 10);
    assert.ok(tasks.some((tk) => s.hostOfNode(tk.NodeID) === w2), `d8 has tasks on ${w2.name}`);
    await m.cliOk('node', 'update', '--availability', 'drain', w2.name);
    tasks = await s.converged('d8', 10, { where: (tk) => s.hostOfNode(tk.NodeID) !== w2 });
    assertOneTaskPerSlot(tasks, 10);
    await waitFor(`no container left on drained ${w2.name}`, () => (t.liveContainers(w2).length === 0 ? true : undefined));
    await m.cliOk('node', 'update', '--availability', 'active', w2.name);
  });

  it('8b. a worker promoted to manager serves the control API; demoted back it does not', async () => {
    const [m, , , w1] = t.hosts;
    await m.cliOk('node', 'promote', w1.name);
    let seen = '';
    await waitFor(`${w1.name} a reachable manager`, async () => {
      const n = (await s.nodes()).find((x) => x.ID === s.nodeIdOf.get(w1.name));
      const info = await w1.apiOk<{ Swarm: { ControlAvailable: boolean } }>('GET', '/info');
      seen = JSON.stringify({ role: n?.Spec.Role, managerStatus: n?.ManagerStatus, state: n?.Status.State, controlAvailable: info.Swarm.ControlAvailable });
      return n?.Spec.Role === 'manager' && n.ManagerStatus?.Reachability === 'reachable' && info.Swarm.ControlAvailable ? true : undefined;
    }, { timeoutMs: 60_000, last: () => seen });
    assert.equal((await w1.cliOk('node', 'ls')).trim().split('\n').length, 6, 'the promoted node answers node ls');
    assert.equal((await s.nodes()).filter((n) => n.ManagerStatus?.Leader === true).length, 1);

    await m.cliOk('node', 'demote', w1.name);
    await waitFor(`${w1.name} a worker again`, async () => {
      const n = (await s.nodes()).find((x) => x.ID === s.nodeIdOf.get(w1.name));
      const info = await w1.apiOk<{ Swarm: { ControlAvailable: boolean } }>('GET', '/info');
      return n?.Spec.Role === 'worker' && n.ManagerStatus === undefined && !info.Swarm.ControlAvailable ? true : undefined;
    }, { timeoutMs: 60_000 });
    const refused = await w1.cli('node', 'ls');
    assert.notEqual(refused.code, 0, 'the demoted node no longer answers node ls');
    const managers = (await s.nodes()).filter((n) => n.Spec.Role === 'manager');
    assert.equal(managers.length, 3);
  });

  it('8c. a worker certificate cannot call the control API (a manager certificate can)', async () => {
    const [m, , , , w2] = t.hosts;
    // A worker's own certificate and key, presented to a manager's control API, are refused;
    // a manager's, from the same place, are accepted (the probe itself works).
    const asWorker = await controlCall(w2, w2, m);
    assert.equal(asWorker.code, 7, `worker certificate: PERMISSION_DENIED expected, got ${JSON.stringify(asWorker)}`);
    const asManager = await controlCall(w2, m, m);
    assert.equal(asManager.code, 0, `manager certificate: ${JSON.stringify(asManager)}`);
  });

  it('9. a global service runs one task on every node, including a node that joins later', async () => {
    const m = t.hosts[0];
    await m.cliOk('service', 'create', '--detach', '--mode', 'global', '--name', 'g', 'busybox', ...quickStop);
    let tasks = await s.converged('g', 5);
    assert.deepEqual(Object.values(s.perHost(tasks)), [1, 1, 1, 1, 1], JSON.stringify(s.perHost(tasks)));

    const late = t.addHost();
    await prepareHost(s, late);
    await s.join(late, 'worker');
    tasks = await s.converged('g', 6);
    assert.deepEqual(Object.values(s.perHost(tasks)), [1, 1, 1, 1, 1, 1], JSON.stringify(s.perHost(tasks)));
    assert.equal(tasks.filter((tk) => s.hostOfNode(tk.NodeID) === late).length, 1);
    await waitFor(`a container of g on ${late.name}`, () => (t.liveContainers(late).length === 1 ? true : undefined));
  });
});

function isImage(tk: DTask, ref: string): boolean {
  return tk.Spec.ContainerSpec.Image === ref || tk.Spec.ContainerSpec.Image.startsWith(`${ref}@`);
}

/** What a watcher saw during an update: the most slots down at once and when each slot first ran the new image. */
interface SlotWatch {
  maxDown: number;
  /** [slot, ms since the watch began] in the order seen. */
  firstRunning: [number, number][];
}

/** Polls the service's tasks until stopped, recording slots down and slots first seen on `image`. */
function watchSlots(s: Swarm, name: string, image: string): { stop(): Promise<SlotWatch> } {
  const seen: SlotWatch = { maxDown: 0, firstRunning: [] };
  const t0 = Date.now();
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const tasks = await s.tasks(name).catch(() => undefined);
      if (tasks !== undefined) {
        const up = new Set(running(tasks).map((tk) => tk.Slot));
        let down = 0;
        for (let slot = 1; slot <= 10; slot++) if (!up.has(slot)) down++;
        seen.maxDown = Math.max(seen.maxDown, down);
        for (const tk of running(tasks)) {
          if (isImage(tk, image) && !seen.firstRunning.some(([sl]) => sl === tk.Slot)) seen.firstRunning.push([tk.Slot!, Date.now() - t0]);
        }
      }
      await sleep(100);
    }
  })();
  return { stop: async () => { stopped = true; await loop; return seen; } };
}

/** Splits [slot, time] pairs into groups wherever the time jumps by more than gapMs. */
function groupByGap(points: readonly [number, number][], gapMs: number): number[][] {
  const sorted = [...points].sort((a, b) => a[1] - b[1]);
  const groups: number[][] = [];
  let lastT = -Infinity;
  for (const [slot, at] of sorted) {
    if (at - lastT > gapMs) groups.push([]);
    groups[groups.length - 1].push(slot);
    lastT = at;
  }
  return groups;
}

/** Runs the control API probe inside `from`, with `certsOf`'s certificate, against `manager`. */
async function controlCall(from: Host, certsOf: Host, manager: Host): Promise<{ code: number; details?: string }> {
  const r = await from.exec(process.execPath, [probe, path.join(certsOf.dataRoot, 'certificates'), manager.addr], { timeoutMs: 30_000 });
  try {
    return JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as { code: number; details?: string };
  } catch {
    return { code: -1, details: `probe failed (${r.code}): ${r.stderr.trim()}` };
  }
}
