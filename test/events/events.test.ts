import assert from 'node:assert/strict';
import { EventBus } from '../../src/events/bus';
import { toDockerEvent } from '../../src/events/docker';
import { deriveEvent, deriveEvents, type ShoalEvent } from '../../src/events/event';
import { matches, parseFilters } from '../../src/events/filter';
import { eventSubject, parseEventId } from '../../src/events/nats-publisher';
import { ShoalError } from '../../src/types/errors';
import { TaskState, type Cluster, type Node, type Service, type Task } from '../../src/types/objects';
import { SeededRandom } from '../../src/types/random';
import { makeCluster, makeNode, makeService } from '../manager/sim/fixtures';

const random = new SeededRandom(7);

function task(svc: Service, over: Partial<Task> = {}): Task {
  return {
    id: 't1', meta: { version: 5, createdAt: 1, updatedAt: 1 }, serviceId: svc.id, slot: 2, nodeId: 'n1', spec: svc.spec.task, hostPorts: [],
    desiredState: TaskState.RUNNING, restartHistoryMs: [],
    status: { state: TaskState.RUNNING, timestamp: 1, message: '', err: '', exitCode: 0, containerId: '', pid: 0 },
    ...over,
  };
}

function ev(index: number, type: ShoalEvent['type'], action: string, time = index * 1000, attributes: Record<string, string> = {}): ShoalEvent {
  return { id: `${index}.0`, index, sub: 0, type, action, objectId: `o${index}`, time, attributes };
}

describe('event model', () => {
  const svc = makeService(random, { name: 'web', replicas: 2, task: { container: { image: 'web:1' } } });

  it('gives each change of a transaction the id <raft index>.<position>, in order', () => {
    const t = task(svc);
    const out = deriveEvents([{ kind: 'service', id: svc.id, after: svc }, { kind: 'task', id: t.id, after: t }], 42, 1234);
    assert.deepEqual(out.map((e) => [e.id, e.index, e.sub, e.type, e.action, e.time]), [['42.0', 42, 0, 'service', 'create', 1234], ['42.1', 42, 1, 'task', 'create', 1234]]);
  });

  it('names service update progress from UpdateStatus changes, and a plain spec change update', () => {
    const started: Service = { ...svc, updateStatus: { state: 'updating', startedAt: 1, completedAt: 0, message: '' } };
    const act = (b: Service, a: Service): string => deriveEvent({ kind: 'service', id: svc.id, before: b, after: a }, 9, 0, 0).action;
    assert.equal(act(svc, started), 'update-started');
    assert.equal(act(started, { ...svc, updateStatus: { ...started.updateStatus!, state: 'paused' } }), 'update-paused');
    assert.equal(act(started, { ...svc, updateStatus: { ...started.updateStatus!, state: 'completed' } }), 'update-completed');
    assert.equal(act(started, { ...svc, updateStatus: { ...started.updateStatus!, state: 'rollback_completed' } }), 'update-rolled-back');
    assert.equal(act(started, { ...started, spec: { ...svc.spec, replicas: 5 } }), 'update');
    assert.equal(deriveEvent({ kind: 'service', id: svc.id, before: svc }, 9, 0, 0).action, 'remove');
  });

  it('reports a task state change with node, slot, exit code and error', () => {
    const b = task(svc);
    const a = task(svc, { status: { ...b.status, state: TaskState.FAILED, exitCode: 3, err: 'boom' } });
    const e = deriveEvent({ kind: 'task', id: 't1', before: b, after: a }, 10, 0, 0);
    assert.equal(e.action, 'failed');
    assert.deepEqual([e.attributes.node, e.attributes.slot, e.attributes.exitCode, e.attributes.error, e.attributes['state.old']], ['n1', '2', '3', 'boom', 'running']);
  });

  it('names node join, ready, down, availability, role change, remove and the leader change', () => {
    const n = makeNode(random);
    const up: Node = { ...n, status: { ...n.status, state: 'ready' } };
    const act = (b: Node | undefined, a: Node | undefined): string => {
      const e = deriveEvent({ kind: 'node', id: n.id, before: b, after: a }, 3, 0, 0);
      return `${e.type}.${e.action}`;
    };
    assert.equal(act(undefined, n), 'node.join');
    assert.equal(act(n, up), 'node.ready');
    assert.equal(act(up, { ...up, status: { ...up.status, state: 'down' } }), 'node.down');
    assert.equal(act(up, { ...up, spec: { ...up.spec, availability: 'drain' } }), 'node.availability');
    assert.equal(act(up, { ...up, spec: { ...up.spec, role: 'manager' } }), 'node.role-change');
    assert.equal(act(up, { ...up, managerStatus: { raftId: 1, addr: '', leader: true, reachability: 'reachable' } }), 'cluster.leader-change');
    assert.equal(act(up, undefined), 'node.remove');
  });

  it("a manager's node events carry its leadership and reachability, and an update names the parts that changed", () => {
    const n = makeNode(random);
    const ms = { raftId: 7, addr: '10.0.0.1:2377', leader: true, reachability: 'reachable' } as const;
    const leader: Node = { ...n, status: { ...n.status, state: 'ready', addr: '10.0.0.1' }, managerStatus: ms };
    const lost: Node = { ...leader, managerStatus: { ...ms, leader: false, reachability: 'unreachable' } };
    const e = deriveEvent({ kind: 'node', id: n.id, before: leader, after: lost }, 9, 1, 0);
    assert.deepEqual([e.type, e.action, e.attributes.addr, e.attributes.changed], ['node', 'update', '10.0.0.1', 'managerStatus']);
    assert.deepEqual([e.attributes['manager.leader'], e.attributes['manager.leader.old'], e.attributes['manager.reachability'], e.attributes['manager.reachability.old']], ['false', 'true', 'unreachable', 'reachable']);
    const back = deriveEvent({ kind: 'node', id: n.id, before: lost, after: leader }, 10, 0, 0);
    assert.deepEqual([back.type, back.action, back.objectId, back.attributes.leader, back.attributes['manager.leader']], ['cluster', 'leader-change', n.id, n.id, 'true']);
    const relabeled = deriveEvent({ kind: 'node', id: n.id, before: leader, after: { ...leader, description: { ...leader.description, hostname: 'h2' } } }, 11, 0, 0);
    assert.deepEqual([relabeled.action, relabeled.attributes.changed, relabeled.attributes['manager.leader.old']], ['update', 'description', undefined]);
  });

  it('names a join token rotation of the cluster', () => {
    const c: Cluster = makeCluster(random);
    const e = deriveEvent({ kind: 'cluster', id: c.id, before: c, after: { ...c, joinTokens: { ...c.joinTokens, worker: 'w2' } } }, 4, 0, 0);
    assert.deepEqual([e.type, e.action, e.attributes.tokens], ['cluster', 'token-rotation', 'worker']);
  });
});

describe('event bus, filters and the Docker shape', () => {
  it('keeps the newest events up to its capacity and replays since an index or a time', () => {
    const bus = new EventBus(3);
    const evicted: string[] = [];
    bus.onEvict((e) => evicted.push(e.id));
    bus.append([1, 2, 3, 4, 5].map((i) => ev(i, 'task', 'running')));
    assert.deepEqual(bus.history().map((e) => e.index), [3, 4, 5]);
    assert.deepEqual(evicted, ['1.0', '2.0']);
    assert.deepEqual(bus.history({ since: { index: 3 } }).map((e) => e.index), [4, 5]);
    assert.deepEqual(bus.history({ since: { timeMs: 4000 } }).map((e) => e.index), [4, 5]);
  });

  it('hands a subscriber the history since its start, then new events that pass its filter', () => {
    const bus = new EventBus();
    bus.append([ev(1, 'service', 'create'), ev(2, 'task', 'create')]);
    const seen: string[] = [];
    const stop = bus.subscribe({ since: { index: 0 }, filter: parseFilters(['type=service']) }, (e) => seen.push(e.id));
    bus.append([ev(3, 'task', 'running'), ev(4, 'service', 'remove')]);
    stop();
    bus.append([ev(5, 'service', 'create')]);
    assert.deepEqual(seen, ['1.0', '4.0']);
  });

  it('filters like docker: values of one key OR, keys AND', () => {
    const f = parseFilters(['type=service', 'type=node', 'event=create']);
    assert.equal(matches(ev(1, 'service', 'create'), f), true);
    assert.equal(matches(ev(1, 'node', 'create'), f), true);
    assert.equal(matches(ev(1, 'service', 'remove'), f), false);
    assert.equal(matches(ev(1, 'task', 'create'), f), false);
    assert.equal(matches(ev(1, 'task', 'running', 0, { service: 's1' }), parseFilters(['service=s1'])), true);
  });

  it('refuses a malformed filter, naming it', () => {
    const cases: [string, string][] = [['type', '"type"'], ['colour=red', '"colour"'], ['type=volume', '"volume"'], ['=x', '"=x"']];
    for (const [bad, named] of cases) {
      assert.throws(() => parseFilters([bad]), (e: unknown) => ShoalError.is(e) && e.code === 'InvalidArgument' && e.message.includes(named), bad);
    }
  });

  it('converts to Docker\'s event JSON (swarm scope, seconds and nanoseconds)', () => {
    const d = toDockerEvent(ev(7, 'service', 'update', 1_700_000_123_456, { name: 'web' }));
    assert.deepEqual(d, {
      Type: 'service', Action: 'update', scope: 'swarm', time: 1_700_000_123, timeNano: 1_700_000_123_456_000_000,
      Actor: { ID: 'o7', Attributes: { name: 'web', 'shoal.event.id': '7.0', 'shoal.raft.index': '7' } },
    });
  });

  it('builds the NATS subject and parses event ids back to their commit order', () => {
    assert.equal(eventSubject('c1', ev(3, 'task', 'running')), 'shoal.c1.task.running');
    assert.deepEqual(parseEventId('12.3'), { index: 12, sub: 3 });
    assert.equal(parseEventId('12'), undefined);
  });
});
