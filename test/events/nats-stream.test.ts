import assert from 'node:assert/strict';
import { connect, type NatsConnection } from 'nats';
import { removeService } from '../../src/manager/controlapi/services';
import { EventBus, attachStore } from '../../src/events/bus';
import type { ShoalEvent } from '../../src/events/event';
import { NatsPublisher } from '../../src/events/nats-publisher';
import { Harness } from '../manager/sim/harness';
import { NatsServer, eventually } from './nats-server';

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
});
