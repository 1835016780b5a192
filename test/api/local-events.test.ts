import assert from 'node:assert/strict';
import { LocalEventLog, matchesLocal, type LocalEvent } from '../../src/api/local-events';

describe('local event log', () => {
  it('keeps at most its capacity, oldest dropped first, and answers since/until in ms', () => {
    let now = 1_000_000;
    const log = new LocalEventLog(3, () => now);
    for (let i = 0; i < 5; i++) { log.emit('container', 'start', `c${i}`, { name: `n${i}` }); now += 1000; }
    assert.deepEqual(log.history().map((e) => e.Actor.ID), ['c2', 'c3', 'c4']);
    assert.deepEqual(log.history(1_003_000).map((e) => e.Actor.ID), ['c3', 'c4']);
    assert.deepEqual(log.history(undefined, 1_003_000).map((e) => e.Actor.ID), ['c2', 'c3']);
    const e = log.history()[0];
    assert.equal(e.time, 1002);
    assert.equal(e.timeNano, 1_002_000 * 1e6);
    assert.throws(() => new LocalEventLog(0), /positive integer/);
  });

  it('hands new events to subscribers until they unsubscribe', () => {
    const log = new LocalEventLog();
    const got: string[] = [];
    const off = log.subscribe((e) => got.push(e.Action));
    log.emit('image', 'load', 'sha256:1', { name: 'busybox:latest' });
    off();
    log.emit('image', 'load', 'sha256:2', { name: 'other' });
    assert.deepEqual(got, ['load']);
  });

  it('matches Docker\'s filters: type, event, container by name or id prefix, image', () => {
    const e: LocalEvent = { Type: 'container', Action: 'die', Actor: { ID: 'abcdef', Attributes: { name: 'web', image: 'busybox:latest', exitCode: '1' } }, scope: 'local', time: 1, timeNano: 1e9 };
    const none = { type: [], event: [], container: [], image: [] };
    assert.ok(matchesLocal(e, none));
    assert.ok(matchesLocal(e, { ...none, container: ['web'] }));
    assert.ok(matchesLocal(e, { ...none, container: ['abc'] }));
    assert.ok(!matchesLocal(e, { ...none, container: ['db'] }));
    assert.ok(matchesLocal(e, { ...none, type: ['container'], event: ['start', 'die'] }));
    assert.ok(!matchesLocal(e, { ...none, type: ['image'] }));
    assert.ok(matchesLocal(e, { ...none, image: ['busybox:latest'] }));
    assert.ok(!matchesLocal(e, { ...none, image: ['alpine'] }));
  });
});
