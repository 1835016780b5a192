import type * as grpc from '@grpc/grpc-js';
import { InvalidArgumentError, UnavailableError, type ShoalError } from '../../types/errors';
import { grpcStatusOf } from '../../types/grpc-status';
import type { ObjectKind } from '../../types/objects';
import type { Store, StoreEvent } from '../store/store';

const KINDS: readonly ObjectKind[] = ['node', 'service', 'task', 'cluster'];
/** Messages a slow watcher may have waiting; beyond this its stream ends (Unavailable). */
export const WATCH_QUEUE_MAX = 10_000;

/** One change as the Watch stream carries it. */
export interface WireWatchChange { kind: string; id: string; action: 'create' | 'update' | 'remove'; objectJson: string; oldObjectJson: string }
/** One message of the Watch stream. */
export interface WireWatchEvent { index: number; changes: WireWatchChange[]; timeMs: number; reset: boolean }

/** Checks a watch request's kinds filter; empty means every kind. */
export function watchKinds(kinds: readonly unknown[]): Set<ObjectKind> {
  kinds.forEach((k, i) => {
    if (!KINDS.includes(k as ObjectKind)) throw new InvalidArgumentError(`kinds[${i}] must be one of ${KINDS.join(', ')}, got ${JSON.stringify(k)}`);
  });
  return new Set(kinds.length === 0 ? KINDS : (kinds as ObjectKind[]));
}

/** The wire form of an applied store event restricted to `kinds`, or null if nothing of them changed. */
export function watchEventOf(e: StoreEvent, kinds: ReadonlySet<ObjectKind>): WireWatchEvent | null {
  const changes: WireWatchChange[] = [];
  for (const c of e.changes) {
    if (!kinds.has(c.kind)) continue;
    const action = c.before === undefined ? 'create' : c.after === undefined ? 'remove' : 'update';
    changes.push({ kind: c.kind, id: c.id, action, objectJson: c.after === undefined ? '' : JSON.stringify(c.after), oldObjectJson: c.before === undefined ? '' : JSON.stringify(c.before) });
  }
  if (changes.length === 0 && !e.reset) return null;
  return { index: e.version, changes, timeMs: e.timeMs, reset: e.reset };
}

/**
 * Serves one Watch call from this manager's store: a first empty message at the current version,
 * then every applied change of the asked kinds, in log order. A client that cannot keep up is cut
 * off (Unavailable) once WATCH_QUEUE_MAX messages wait (never an unbounded queue).
 */
export function serveWatch(store: Store, call: grpc.ServerWritableStream<{ kinds?: unknown[] }, WireWatchEvent>): void {
  let kinds: Set<ObjectKind>;
  try {
    kinds = watchKinds(Array.isArray(call.request.kinds) ? call.request.kinds : []);
  } catch (err) {
    call.emit('error', grpcStatusOf(err));
    return;
  }
  const queue: WireWatchEvent[] = [];
  let blocked = false;
  let ended = false;
  const end = (err?: ShoalError): void => {
    if (ended) return;
    ended = true;
    unwatch();
    // An 'error' carrying a status ends the stream with that status (grpc-js).
    if (err === undefined) call.end();
    else call.emit('error', grpcStatusOf(err));
  };
  const send = (m: WireWatchEvent): void => {
    if (blocked) {
      if (queue.length >= WATCH_QUEUE_MAX) end(new UnavailableError(`watch client fell ${WATCH_QUEUE_MAX} messages behind`, { hint: 'watch again and read the current state first' }));
      else queue.push(m);
      return;
    }
    if (!call.write(m)) blocked = true;
  };
  const unwatch = store.watch((e) => {
    const m = watchEventOf(e, kinds);
    if (m !== null && !ended) send(m);
  });
  call.on('drain', () => {
    blocked = false;
    while (!blocked && queue.length > 0) send(queue.shift()!);
  });
  call.on('cancelled', () => end());
  call.on('close', () => end());
  call.on('error', () => end());
  send({ index: store.view.version, changes: [], timeMs: 0, reset: false });
}
