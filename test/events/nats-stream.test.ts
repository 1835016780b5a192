import assert from 'node:assert/strict';
import { connect, nanos, type NatsConnection } from 'nats';
import { removeService, updateService } from '../../src/manager/controlapi/services';
import { EventBus, attachStore } from '../../src/events/bus';
import { compareEvents, type ShoalEvent } from '../../src/events/event';
import { NatsPublisher, parseEventId } from '../../src/events/nats-publisher';
import { Harness } from '../manager/sim/harness';
import { NatsServer, streamMsgIds, eventually } from './nats-server';

interface Received { subject: string; id: string; event: ShoalEvent }

/** A control plane whose three managers each run a bus and a NATS publisher, plus a NATS consumer. */
class Rig {
  readonly buses: EventBus[] = [];
  readonly publishers: NatsPublisher[] = [];
  readonly received: Received[] = [];
  /** Every committed change, as each manager applied it: `<index>.<position>`. */
  readonly committed: string[][] = [[], [], []];
  readonly logs: string[] = [];
  consumer: NatsConnection | undefined;

  constructor(readonly h: Harness, readonly nats: NatsServer, bufferMax?: number) {
    for (let i = 0; i < 3; i++) {
      const bus = new EventBus();
      attachStore(bus, h.stores[i]);
      h.stores[i].watch((ev) => ev.changes.forEach((_, k) => this.committed[i].push(`${ev.version}.${k}`)));
      this.buses.push(bus);
      const p = new NatsPublisher({ url: nats.url, bus, log: h.sim.log(i), clusterId: () => h.stores[i].view.cluster()?.id, bufferMax, logger: (m) => this.logs.push(m), reconnectWaitMs: 100 });
      p.start();
      this.publishers.push(p);
    }
  }

  clusterId(): string {
    return this.h.store().view.cluster()!.id;
  }

  async subscribe(): Promise<void> {
    const nc = await connect({ servers: this.nats.url, reconnect: true, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    this.consumer = nc;
    nc.subscribe(`shoal.${this.clusterId()}.>`, {
      callback: (err, msg) => {
        if (err !== null) return;
        this.received.push({ subject: msg.subject, id: msg.headers?.get('Nats-Msg-Id') ?? '', event: JSON.parse(new TextDecoder().decode(msg.data)) as ShoalEvent });
      },
    });
    await nc.flush();
  }

  /** Received events with repeats of an id dropped (the consumer's de-duplication). */
  unique(): Received[] {
    const seen = new Set<string>();
    return this.received.filter((r) => !seen.has(r.id) && seen.add(r.id) !== undefined);
  }

  async close(): Promise<void> {
    this.h.close();
    await Promise.allSettled(this.publishers.map((p) => p.close()));
    if (this.consumer !== undefined && !this.consumer.isClosed()) await this.consumer.close();
  }
}

describe('cluster events on NATS', function () {
  this.timeout(30_000);
  let nats: NatsServer | undefined;
  let rig: Rig | undefined;

  afterEach(async () => {
    await rig?.close();
    await nats?.close();
    rig = undefined;
    nats = undefined;
  });

  it('create, scale and remove of a service reach NATS as the exact sequence of committed events, on shoal.<cluster>.<type>.<action>', async () => {
    nats = await NatsServer.start();
    const h = await Harness.create(81);
    rig = new Rig(h, nats);
    await rig.subscribe();
    for (let i = 0; i < 2; i++) await h.addNode();
    const svc = await h.createService({ name: 'web', replicas: 2, task: { container: { image: 'web:1' } } });
    await h.until(() => h.running(svc.id).length === 2, 20_000, '2 running');
    await h.updateService(svc.id, (s) => ({ ...s, replicas: 3 }));
    await h.until(() => h.running(svc.id).length === 3, 20_000, '3 running');
    await h.settle(removeService(h.store(), svc.id));
    await h.until(() => h.tasks(svc.id).every((t) => t.status.state > 512), 20_000, 'tasks stopped');
    await h.run(2000);

    const leader = h.sim.leaderIndex();
    const expected = rig.buses[leader].history();
    await eventually(() => rig!.received.length >= expected.length, `${expected.length} events on NATS`);
    const cid = rig.clusterId();
    assert.deepEqual(rig.received.map((r) => r.id), expected.map((e) => e.id), 'NATS carries every committed event once, in commit order');
    assert.deepEqual(rig.received.map((r) => r.event), expected);
    for (const r of rig.received) assert.equal(r.subject, `shoal.${cid}.${r.event.type}.${r.event.action}`);
    assert.deepEqual(expected.map((e) => e.id), rig.committed[leader], 'one event per committed change');
    // The sequence, one group per transaction (the order within a transaction follows the agents' reports).
    const groups: string[][] = [];
    let last = -1;
    for (const r of rig.received) {
      if (r.event.index !== last) groups.push([]);
      last = r.event.index;
      groups[groups.length - 1].push(`${r.event.type}.${r.event.action}`);
    }
    const x = (n: number, a: string): string[] => Array<string>(n).fill(a);
    assert.deepEqual(groups, [
      ['node.join'], ['node.ready'], ['node.join'], ['node.ready'],
      ['service.create'], x(2, 'task.create'), x(2, 'task.assigned'), x(2, 'task.starting'), x(2, 'task.running'),
      ['service.update'], ['task.create'], ['task.assigned'], ['task.starting'], ['task.running'],
      ['service.remove'], x(3, 'task.desired-state'), x(3, 'task.shutdown'), x(3, 'task.remove'),
    ]);
    const scaled = rig.received.find((r) => r.event.type === 'service' && r.event.action === 'update')!;
    assert.deepEqual([scaled.event.attributes.replicas, scaled.event.attributes['replicas.old']], ['3', '2']);
    const slot3 = rig.received.filter((r) => r.event.type === 'task' && r.event.attributes.slot === '3');
    assert.ok(slot3.every((r) => r.event.objectId === slot3[0].event.objectId), 'slot 3 events are about one task');
    if (process.env.SHOAL_EVENTS_PRINT === '1') console.log(rig.received.map((r) => `${r.id} ${r.subject.slice(cid.length + 7)} ${r.event.objectId.slice(0, 6)} ${JSON.stringify(r.event.attributes)}`).join('\n'));
  });

  it('when the leader dies during a scale, a consumer de-duplicating by id sees every committed change exactly once, in commit order', async () => {
    nats = await NatsServer.start();
    const h = await Harness.create(82);
    rig = new Rig(h, nats);
    await rig.subscribe();
    for (let i = 0; i < 3; i++) await h.addNode();
    const svc = await h.createService({ name: 'api', replicas: 2, task: { container: { image: 'api:1' } } });
    await h.until(() => h.running(svc.id).length === 2, 20_000, '2 running');
    const old = h.sim.leaderIndex();
    await eventually(() => rig!.received.length === rig!.committed[old].length, 'the first events on NATS');

    // The leader dies just after applying the third task change of the scale, before it could publish it.
    let taskChanges = 0;
    let killedAt = 0;
    h.stores[old].watch((ev) => {
      if (killedAt !== 0) return;
      taskChanges += ev.changes.filter((c) => c.kind === 'task').length;
      if (taskChanges < 3) return;
      killedAt = ev.version;
      h.sim.isolate(old);
      h.sim.members[old].up = false;
      void rig!.publishers[old].close();
    });
    const s = h.store().view.get('service', svc.id)!;
    await h.settle(updateService(h.store(), h.clock, svc.id, s.meta.version, { ...s.spec, replicas: 8 }));
    await h.until(() => killedAt !== 0, 10_000, 'the leader to die');
    await h.until(() => h.sim.leaderIndex() >= 0 && h.sim.leaderIndex() !== old, 10_000, 'a new leader');
    await h.until(() => h.running(svc.id).length === 8, 30_000, '8 running under the new leader');
    await h.run(1000);

    const leader = h.sim.leaderIndex();
    const committed = rig.committed[leader];
    assert.ok(committed.includes(`${killedAt}.0`), 'the change the old leader died on was committed');
    await eventually(() => new Set(rig!.received.map((r) => r.id)).size >= committed.length, `${committed.length} distinct events on NATS`);
    const unique = rig.unique().map((r) => r.id);
    assert.deepEqual(unique, committed, 'every committed change exactly once, in commit order');
    const keys = unique.map((id) => parseEventId(id)!);
    for (let i = 1; i < keys.length; i++) assert.ok(compareEvents(keys[i - 1], keys[i]) < 0);
    assert.ok(rig.received.some((r) => r.id === `${killedAt}.0`), 'the new leader published what the old one could not');
    assert.equal(rig.publishers[leader].stats().dropped, 0);
  });

  it('while nats-server is down the control plane keeps committing, at most the buffer is kept, drops are counted exactly, and publishing resumes after restart', async () => {
    nats = await NatsServer.start();
    const h = await Harness.create(83);
    const bufferMax = 20;
    rig = new Rig(h, nats, bufferMax);
    await rig.subscribe();
    // A JetStream stream de-duplicating by Nats-Msg-Id is the outside consumer; it keeps what arrived across restarts.
    const jsm = await rig.consumer!.jetstreamManager();
    await jsm.streams.add({ name: 'SHOAL', subjects: [`shoal.${rig.clusterId()}.>`], duplicate_window: nanos(120_000) });
    for (let i = 0; i < 2; i++) await h.addNode();
    const svc = await h.createService({ name: 'db', replicas: 2, task: { container: { image: 'db:1' } } });
    await h.until(() => h.running(svc.id).length === 2, 20_000, '2 running');
    const leader = h.sim.leaderIndex();
    const pub = rig.publishers[leader];
    const lastIndex = (): number => Number(rig!.committed[leader][rig!.committed[leader].length - 1].split('.')[0]);
    await eventually(() => pub.stats().pending === 0 && pub.stats().ackedIndex === lastIndex(), 'every event confirmed by NATS');

    await nats.stop();
    await eventually(() => !pub.stats().connected, 'the publisher to notice NATS is gone');
    const before = rig.committed[leader].length;
    const versionBefore = h.store().view.version;
    await h.updateService(svc.id, (s) => ({ ...s, replicas: 10 }));
    await h.until(() => h.running(svc.id).length === 10, 30_000, '10 running while NATS is down');
    assert.ok(h.store().view.version > versionBefore, 'the store kept committing');
    const during = rig.committed[leader].slice(before);
    assert.ok(during.length > bufferMax, `${during.length} events while NATS was down`);
    assert.equal(pub.stats().dropped, during.length - bufferMax, 'every event beyond the buffer is counted as dropped');
    assert.equal(pub.stats().pending, bufferMax);
    assert.ok(rig.logs.some((m) => /dropping the oldest unpublished events/.test(m)), 'the drop is logged');

    await nats.restart();
    await eventually(() => pub.stats().connected && pub.stats().pending === 0, 'the buffer published after NATS came back', 20_000);
    await h.updateService(svc.id, (s) => ({ ...s, replicas: 3 }));
    await h.run(3000);
    await eventually(() => pub.stats().pending === 0 && pub.stats().ackedIndex === lastIndex(), 'new events confirmed by NATS');

    const dropped = new Set(during.slice(0, during.length - bufferMax));
    const expected = rig.committed[leader].filter((id) => !dropped.has(id));
    const stored = await streamMsgIds(jsm, 'SHOAL');
    assert.deepEqual(stored, expected, 'NATS holds every committed event but the counted drops (the oldest of the outage), once each, in order');
    assert.ok(rig.logs.some((m) => /were dropped while NATS was unreachable/.test(m)));
  });

  it('a publisher started before nats-server is up keeps buffering, connects when it comes up, and close() ends its attempts', async () => {
    nats = await NatsServer.start();
    await nats.stop();
    const h = await Harness.create(84);
    rig = new Rig(h, nats);
    const leader = h.sim.leaderIndex();
    await h.addNode();
    await h.run(500);
    const pub = rig.publishers[leader];
    assert.equal(pub.stats().connected, false);
    assert.equal(pub.stats().pending, rig.committed[leader].length, 'every event waits in the buffer');
    assert.ok(rig.logs.some((m) => /unreachable/.test(m)));
    await nats.restart();
    await rig.subscribe();
    await eventually(() => pub.stats().connected && pub.stats().pending === 0, 'the buffer published once NATS is up');
    await h.addNode();
    await eventually(() => rig!.received.length > 0 && rig!.received[rig!.received.length - 1].id === rig!.committed[leader][rig!.committed[leader].length - 1], 'the newest event on NATS');
    await rig.close();
    rig = undefined;
    // A publisher that never reached NATS stops trying on close (otherwise mocha would not exit).
    const never = new NatsPublisher({ url: 'nats://127.0.0.1:1', bus: new EventBus(), log: h.sim.log(0), clusterId: () => 'c', reconnectWaitMs: 50 });
    never.start();
    await new Promise((r) => setTimeout(r, 200));
    await never.close();
    assert.equal(never.stats().connected, false);
  });
});
