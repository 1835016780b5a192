import assert from 'node:assert/strict';
import { ShoalError } from '../../src/types/errors';
import { TaskState, type Node, type NodeAvailability } from '../../src/types/objects';
import { SeededRandom } from '../../src/types/random';
import { Harness } from './sim/harness';

/** What must hold once the cluster is left alone: every service runs what its spec asks, where it may. */
function assertConverged(h: Harness, seed: number): void {
  const view = h.store().view;
  const ready = view.nodes().filter((n) => n.status.state === 'ready' && n.spec.availability === 'active');
  for (const s of view.list('service')) {
    const running = h.running(s.id);
    const where = `seed ${seed}, service ${s.spec.name}`;
    assert.ok(running.every((t) => t.spec.container.image === s.spec.task.container.image), `${where}: a running task has an old spec`);
    if (s.spec.mode === 'replicated') {
      assert.equal(running.length, s.spec.replicas, `${where}: running count`);
      assert.equal(new Set(running.map((t) => t.slot)).size, s.spec.replicas, `${where}: one running task per slot`);
    } else {
      assert.deepEqual(new Set(running.map((t) => t.nodeId)), new Set(ready.map((n) => n.id)), `${where}: one task per eligible node`);
      assert.equal(running.length, ready.length, `${where}: no node runs two`);
    }
    assert.ok(running.every((t) => view.get('node', t.nodeId)?.status.state === 'ready'), `${where}: a task runs on a node that is not ready`);
    assert.ok(s.updateStatus === undefined || s.updateStatus.state === 'completed', `${where}: update ${s.updateStatus?.state}`);
  }
  for (const a of h.agents.values()) assert.equal(a.gaps, 0, `seed ${seed}: assignment gap on ${a.node.id}`);
  for (const t of view.list('task')) assert.ok(t.desiredState !== TaskState.RUNNING || t.status.state <= TaskState.RUNNING || t.status.state === TaskState.COMPLETE, `seed ${seed}: task ${t.id} stopped but is still wanted`);
}

/** Sets a node's availability like an operator would: read, write with the version read, retry on a conflict. */
async function setAvailability(h: Harness, id: string, pick: (current: NodeAvailability) => NodeAvailability): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const cur = h.store().view.get('node', id)!;
    try {
      await h.settle(h.store().write([{ op: 'update', target: { kind: 'node', object: { ...cur, spec: { ...cur.spec, availability: pick(cur.spec.availability) } } } }]));
      return;
    } catch (err) {
      if (!ShoalError.is(err, 'Conflict') || attempt >= 5) throw err;
    }
  }
}

describe('convergence under random events (seeded)', function () {
  this.timeout(120_000);

  // SHOAL_SIM_SEEDS=n runs n more seeds (exploration); CI runs the fixed ones.
  const extra = Number(process.env.SHOAL_SIM_SEEDS ?? 0);
  for (const seed of [101, 202, 303, 404, 505, 606, 707, 808, ...Array.from({ length: extra }, (_, i) => 1000 + i)]) {
    it(`converges to the specs after node failures, drains, scaling, updates and leader changes (seed ${seed})`, async () => {
      const h = await Harness.create(seed, { dispatcher: { heartbeatPeriodMs: 1000 } });
      try {
        const r = new SeededRandom(seed * 7);
        const nodes: Node[] = [];
        for (let i = 0; i < 5; i++) nodes.push(await h.addNode());
        const web = await h.createService({ name: 'web', replicas: 6, task: { container: { image: 'web:1' } }, update: { parallelism: 2, monitorMs: 500 } });
        const mon = await h.createService({ name: 'mon', mode: 'global', task: { container: { image: 'mon:1' } }, update: { parallelism: 0, monitorMs: 0 } });
        const down = new Set<string>();
        let version = 1;
        for (let step = 0; step < 30; step++) {
          const n = r.pick(nodes);
          switch (r.int(6)) {
            case 0: await h.updateService(web.id, (s) => ({ ...s, replicas: 2 + r.int(8) })); break;
            case 1: if (down.size < 2 && !down.has(n.id)) { h.agents.get(n.id)!.stop(); down.add(n.id); } break;
            case 2: if (down.has(n.id)) { h.restartAgent(n.id); down.delete(n.id); } break;
            case 3: {
              const next = r.pick(['drain', 'pause'] as const);
              await setAvailability(h, n.id, (a) => (a === 'active' ? next : 'active'));
              break;
            }
            case 4: version++; await h.updateService(r.chance(0.5) ? web.id : mon.id, (s) => ({ ...s, task: { ...s.task, container: { ...s.task.container, image: `${s.name}:${version}` } } })); break;
            default: h.sim.transferTo((h.sim.leaderIndex() + 1 + r.int(2)) % 3); break;
          }
          await h.run(1000 + r.int(4000));
        }
        for (const id of down) h.restartAgent(id);
        for (const n of nodes) await setAvailability(h, n.id, () => 'active');
        await h.run(60_000);
        assertConverged(h, seed);
        assert.deepEqual(h.errors, [], `seed ${seed}: loop errors`);
      } finally {
        h.close();
      }
    });
  }
});
