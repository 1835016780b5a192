import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { natsAckedFile } from '../../src/daemon/manager-parts';
import { EventBus } from '../../src/events/bus';
import type { ShoalEvent } from '../../src/events/event';
import { NatsPublisher, type AckedStore } from '../../src/events/nats-publisher';

function ev(index: number): ShoalEvent {
  return { id: `${index}.0`, index, sub: 0, type: 'service', action: 'update', objectId: 's', time: index, attributes: {} };
}

/** A leader's publisher that never connects (nothing listens on port 1): what it buffers is what it would send. */
function publisher(ackedStore: AckedStore, logs: string[]): { bus: EventBus; pub: NatsPublisher } {
  const bus = new EventBus();
  const pub = new NatsPublisher({
    url: 'nats://127.0.0.1:1', bus, clusterId: () => 'c1', ackedStore, logger: (m, level) => logs.push(`${level ?? 'info'} ${m}`),
    log: { isLeader: () => true, onLeadershipChange: () => () => undefined },
  });
  return { bus, pub };
}

describe("a manager's record of the last event NATS confirmed", () => {
  let dir: string;
  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-acked-')); });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('keeps the position per cluster: another cluster on the same data root starts from nothing', () => {
    const file = path.join(dir, 'events-nats.json');
    const store = natsAckedFile(file);
    assert.equal(store.load('c1'), undefined, 'no file yet');
    store.save('c1', { index: 42, sub: 3 });
    assert.deepEqual(natsAckedFile(file).load('c1'), { index: 42, sub: 3 });
    assert.equal(store.load('c2'), undefined, 'a new swarm restarts its Raft log at index 1');
    store.save('c1', { index: 50, sub: 0 });
    assert.deepEqual(store.load('c1'), { index: 50, sub: 0 });
    assert.deepEqual(fs.readdirSync(dir), ['events-nats.json'], 'no temporary file left');
  });

  it('ignores a record of the wrong shape and fails loudly on a damaged file', () => {
    const file = path.join(dir, 'events-nats.json');
    fs.writeFileSync(file, JSON.stringify({ clusterId: 'c1', index: 'x', sub: 0 }));
    assert.equal(natsAckedFile(file).load('c1'), undefined);
    fs.writeFileSync(file, '{"clusterId": "c1", "ind');
    assert.throws(() => natsAckedFile(file).load('c1'), SyntaxError);
  });

  it('a publisher skips the events up to the saved position; with an unreadable record it sends everything and says so', async () => {
    const logs: string[] = [];
    const a = publisher({ load: () => ({ index: 5, sub: 0 }), save: () => undefined }, logs);
    a.bus.append([ev(4), ev(5), ev(6), ev(7)]);
    assert.equal(a.pub.stats().pending, 2, 'only 6.0 and 7.0 wait for NATS');
    assert.equal(a.pub.stats().ackedIndex, 5);
    assert.ok(logs.some((l) => /^info events: NATS has the events up to 5\.0 already/.test(l)), logs.join('\n'));
    await a.pub.close();
    const b = publisher({ load: () => { throw new SyntaxError('bad JSON'); }, save: () => undefined }, logs);
    b.bus.append([ev(4), ev(5)]);
    assert.equal(b.pub.stats().pending, 2);
    assert.ok(logs.some((l) => /^warn events: cannot read the last position confirmed by NATS \(SyntaxError: bad JSON\)/.test(l)), logs.join('\n'));
    await b.pub.close();
  });
});
