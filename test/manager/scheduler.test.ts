import assert from 'node:assert/strict';
import { SeededRandom } from '../../src/types/random';
import { TaskState, type Node, type Service, type Task } from '../../src/types/objects';
import { MemoryStore } from '../../src/manager/store/memory-store';
import type { AnyObject } from '../../src/manager/store/actions';
import { schedule } from '../../src/manager/scheduler/schedule';
import { newTask } from '../../src/manager/orchestrator/new-task';
import { slotsToRemove } from '../../src/manager/orchestrator/replicated';
import { makeNode, makeService } from './sim/fixtures';

function viewOf(objects: AnyObject[]): MemoryStore {
  const v = new MemoryStore();
  v.apply({ actions: objects.map((target) => ({ op: 'create' as const, target })), timestampMs: 0 }, 1);
  return v;
}

function readyNodes(random: SeededRandom, n: number, f: (i: number) => Parameters<typeof makeNode>[1] = () => ({})): Node[] {
  return Array.from({ length: n }, (_, i) => makeNode(random, { state: 'ready', hostname: `h${i}`, ...f(i) }));
}

function pending(random: SeededRandom, svc: Service, count: number): Task[] {
  return Array.from({ length: count }, (_, i) => newTask(svc, random, 0, { slot: i + 1, nodeId: '' }));
}

const objs = (nodes: Node[], svc: Service[], tasks: Task[]): AnyObject[] => [
  ...nodes.map((object) => ({ kind: 'node' as const, object })),
  ...svc.map((object) => ({ kind: 'service' as const, object })),
  ...tasks.map((object) => ({ kind: 'task' as const, object })),
];

describe('scheduler placement (pure)', () => {
  it('spreads over node.labels.zone first, then evenly over the nodes of each zone', () => {
    const r = new SeededRandom(1);
    const nodes = readyNodes(r, 4, (i) => ({ labels: { zone: i === 0 ? 'a' : 'b' } }));
    const svc = makeService(r, { name: 's', replicas: 6, task: { container: { image: 'x' }, placement: { preferences: [{ spread: 'node.labels.zone' }] } } });
    const plan = schedule(viewOf(objs(nodes, [svc], pending(r, svc, 6))), 5);
    assert.equal(plan.assigned.length, 6);
    const onA = plan.assigned.filter((t) => t.nodeId === nodes[0].id).length;
    assert.equal(onA, 3, 'half the tasks go to the one node of zone a');
    for (const n of nodes.slice(1)) assert.equal(plan.assigned.filter((t) => t.nodeId === n.id).length, 1);
    assert.ok(plan.assigned.every((t) => t.status.state === TaskState.ASSIGNED && t.status.timestamp === 5));
  });

  it('prefers the node with fewest tasks of the service, then fewest tasks overall', () => {
    const r = new SeededRandom(2);
    const nodes = readyNodes(r, 2);
    const other = makeService(r, { name: 'other', replicas: 2, task: { container: { image: 'o' } } });
    const busy = newTask(other, r, 0, { slot: 1, nodeId: nodes[0].id });
    const placed: Task = { ...busy, status: { ...busy.status, state: TaskState.RUNNING } };
    const svc = makeService(r, { name: 's', replicas: 1, task: { container: { image: 'x' } } });
    const plan = schedule(viewOf(objs(nodes, [other, svc], [placed, ...pending(r, svc, 1)])), 0);
    assert.equal(plan.assigned[0].nodeId, nodes[1].id);
  });

  it('never puts two tasks binding the same host port on one node, and says why the rest wait', () => {
    const r = new SeededRandom(3);
    const nodes = readyNodes(r, 2);
    const svc = makeService(r, { name: 'p', replicas: 3, task: { container: { image: 'x' } }, endpoint: { ports: [{ name: '', protocol: 'tcp', targetPort: 80, publishedPort: 8080, publishMode: 'host' }] } });
    const plan = schedule(viewOf(objs(nodes, [svc], pending(r, svc, 3))), 0);
    assert.equal(plan.assigned.length, 2);
    assert.notEqual(plan.assigned[0].nodeId, plan.assigned[1].nodeId);
    assert.equal(plan.unschedulable[0].status.err, 'no suitable node (host port tcp/8080 in use on 2 nodes)');
  });

  it('respects max replicas per node and node.role / node.hostname constraints with != ', () => {
    const r = new SeededRandom(4);
    const nodes = readyNodes(r, 3, (i) => ({ role: i === 2 ? 'manager' : 'worker' }));
    const svc = makeService(r, { name: 'm', replicas: 5, task: { container: { image: 'x' }, placement: { maxReplicas: 2, constraints: ['node.role!=manager', 'node.hostname!=h1'] } } });
    const plan = schedule(viewOf(objs(nodes, [svc], pending(r, svc, 5))), 0);
    assert.equal(plan.assigned.length, 2);
    assert.ok(plan.assigned.every((t) => t.nodeId === nodes[0].id));
    assert.equal(plan.unschedulable[0].status.err, 'no suitable node (max replicas per node (2) reached on 1 node; 1 node not matching constraint node.hostname!=h1; 1 node not matching constraint node.role!=manager)');
  });

  it('does not rewrite a PENDING task whose reason has not changed', () => {
    const r = new SeededRandom(5);
    const svc = makeService(r, { name: 'n', replicas: 1, task: { container: { image: 'x' } } });
    const [t] = pending(r, svc, 1);
    const waiting: Task = { ...t, status: { ...t.status, err: 'no suitable node (no nodes in the cluster)' } };
    const plan = schedule(viewOf(objs([], [svc], [waiting])), 0);
    assert.deepEqual(plan, { assigned: [], unschedulable: [] });
  });

  it('checks the preset node of a global task and nothing else', () => {
    const r = new SeededRandom(6);
    const nodes = readyNodes(r, 2, (i) => ({ memoryBytes: i === 0 ? 2 ** 20 : 2 ** 34 }));
    const svc = makeService(r, { name: 'g', mode: 'global', task: { container: { image: 'x' }, resources: { reservations: { memoryBytes: 2 ** 30 } } } });
    const tasks = nodes.map((n) => newTask(svc, r, 0, { slot: 0, nodeId: n.id }));
    const plan = schedule(viewOf(objs(nodes, [svc], tasks)), 0);
    assert.deepEqual(plan.assigned.map((t) => t.nodeId), [nodes[1].id]);
    assert.equal(plan.unschedulable[0].nodeId, nodes[0].id);
    assert.equal(plan.unschedulable[0].status.err, 'no suitable node (insufficient memory on 1 node)');
  });
});

describe('scale-down choice', () => {
  const task = (slot: number, nodeId: string, running: boolean): Task => ({
    id: `t${slot}`, slot, nodeId, desiredState: TaskState.RUNNING, status: { state: running ? TaskState.RUNNING : TaskState.ASSIGNED },
  }) as unknown as Task;

  it('removes from the nodes with most instances first, preferring tasks that are not running', () => {
    const slots = new Map<number, Task[]>([
      [1, [task(1, 'a', true)]], [2, [task(2, 'a', true)]], [3, [task(3, 'a', true)]],
      [4, [task(4, 'b', true)]], [5, [task(5, 'b', false)]], [6, [task(6, 'c', true)]],
    ]);
    assert.deepEqual(slotsToRemove(slots, 1), [5], 'the one task not running goes first');
    assert.deepEqual(slotsToRemove(slots, 3), [5, 3, 2], 'then the node with most instances');
  });
});
