import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type * as grpc from '@grpc/grpc-js';
import { ManualClock } from '../../src/types/clock';
import { SeededRandom } from '../../src/types/random';
import { Store } from '../../src/manager/store/store';
import { encodeTransaction } from '../../src/manager/store/actions';
import { serveWatch, WATCH_QUEUE_MAX, type WireWatchEvent } from '../../src/manager/controlapi/watch';
import { makeNode } from './sim/fixtures';

/** A server stream whose client reads nothing: every write after the first reports a full buffer. */
class StalledCall extends EventEmitter {
  readonly written: WireWatchEvent[] = [];
  status: { code?: number; details?: string } | undefined;
  ended = false;
  constructor(readonly request: { kinds?: unknown[] }) {
    super();
    this.on('error', (s: { code?: number; details?: string }) => { this.status = s; });
  }
  write(m: WireWatchEvent): boolean {
    this.written.push(m);
    return false;
  }
  end(): void {
    this.ended = true;
  }
}

describe('control Watch stream (server side)', () => {
  const noLog = { propose: () => Promise.reject(new Error('no log')), isLeader: () => false, onLeadershipChange: () => () => undefined };

  it('cuts off a client that stops reading once the bounded queue is full, and stops watching the store', () => {
    const store = new Store(noLog, new ManualClock());
    const random = new SeededRandom(3);
    const call = new StalledCall({ kinds: ['node'] });
    serveWatch(store, call as unknown as grpc.ServerWritableStream<{ kinds?: unknown[] }, WireWatchEvent>);
    const apply = (index: number): void => {
      store.apply({ term: 1, index, type: 'normal', data: encodeTransaction({ actions: [{ op: 'create', target: { kind: 'node', object: makeNode(random) } }], timestampMs: index }) });
    };
    let index = 1;
    for (; index <= WATCH_QUEUE_MAX; index++) apply(index);
    assert.equal(call.written.length, 1, 'only the first message went out; the rest wait in the queue');
    assert.equal(call.status, undefined, 'not cut off while the queue holds them');
    apply(index++);
    const status = call.status as { code?: number; details?: string } | undefined;
    assert.equal(status?.code, 14, 'UNAVAILABLE once the queue overflows');
    assert.match(status?.details ?? '', /fell 10000 messages behind/);
    const watchers = (store as unknown as { watchers: Set<unknown> }).watchers.size;
    assert.equal(watchers, 0, 'the store no longer feeds the stream');
  });

  it('sends the queued messages in order when the client reads again', () => {
    const store = new Store(noLog, new ManualClock());
    const random = new SeededRandom(4);
    const call = new StalledCall({});
    serveWatch(store, call as unknown as grpc.ServerWritableStream<{ kinds?: unknown[] }, WireWatchEvent>);
    for (let i = 1; i <= 5; i++) store.apply({ term: 1, index: i, type: 'normal', data: encodeTransaction({ actions: [{ op: 'create', target: { kind: 'node', object: makeNode(random) } }], timestampMs: i }) });
    call.write = (m) => { call.written.push(m); return true; };
    call.emit('drain');
    assert.deepEqual(call.written.map((m) => m.index), [0, 1, 2, 3, 4, 5]);
  });
});
