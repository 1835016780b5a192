import type { Store } from '../manager/store/store';
import { deriveEvents, type ShoalEvent } from './event';
import { matches, type EventFilter } from './filter';

/** Where a subscription starts: after a Raft index, or at a time (ms, the events' clock). */
export type Since = { readonly index: number } | { readonly timeMs: number };

/** What a subscriber asks for. */
export interface SubscribeOptions {
  readonly since?: Since;
  readonly filter?: EventFilter;
}

/** Default number of events the bus keeps for `since` and for publishers catching up. */
export const DEFAULT_BUS_CAPACITY = 10_000;

/**
 * The in-process event bus: the latest events in a bounded ring (oldest evicted first) and
 * synchronous subscribers. Appending never waits on a subscriber.
 */
export class EventBus {
  private readonly ring: (ShoalEvent | undefined)[];
  private start = 0;
  private size = 0;
  private readonly subs = new Set<{ fn: (e: ShoalEvent) => void; filter?: EventFilter }>();
  private readonly evictionWatchers = new Set<(e: ShoalEvent) => void>();

  constructor(readonly capacity = DEFAULT_BUS_CAPACITY) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`event bus capacity must be a positive integer, got ${capacity}`);
    this.ring = new Array<ShoalEvent | undefined>(capacity);
  }

  /** Appends events (in commit order) and hands each to the matching subscribers. */
  append(events: readonly ShoalEvent[]): void {
    for (const e of events) {
      if (this.size === this.capacity) {
        const old = this.ring[this.start]!;
        this.start = (this.start + 1) % this.capacity;
        this.size--;
        for (const w of [...this.evictionWatchers]) w(old);
      }
      this.ring[(this.start + this.size) % this.capacity] = e;
      this.size++;
      for (const s of [...this.subs]) {
        if (s.filter !== undefined && !matches(e, s.filter)) continue;
        try { s.fn(e); } catch (err) { queueMicrotask(() => { throw err; }); }
      }
    }
  }

  /** The retained events that pass the options (since: strictly after the index, or at/after the time). */
  history(opts: SubscribeOptions = {}): ShoalEvent[] {
    const out: ShoalEvent[] = [];
    for (let i = 0; i < this.size; i++) {
      const e = this.ring[(this.start + i) % this.capacity]!;
      if (opts.since !== undefined && ('index' in opts.since ? e.index <= opts.since.index : e.time < opts.since.timeMs)) continue;
      if (opts.filter !== undefined && !matches(e, opts.filter)) continue;
      out.push(e);
    }
    return out;
  }

  /** The oldest retained event, if any. */
  oldest(): ShoalEvent | undefined {
    return this.size === 0 ? undefined : this.ring[this.start];
  }

  /**
   * Calls fn with the retained history after `since` (when given), then with every new event that
   * passes the filter; returns an unsubscribe function.
   */
  subscribe(opts: SubscribeOptions, fn: (e: ShoalEvent) => void): () => void {
    if (opts.since !== undefined) for (const e of this.history(opts)) fn(e);
    const s = { fn, filter: opts.filter };
    this.subs.add(s);
    return () => this.subs.delete(s);
  }

  /** Calls fn with each event pushed out of the ring; returns an unsubscribe function. */
  onEvict(fn: (e: ShoalEvent) => void): () => void {
    this.evictionWatchers.add(fn);
    return () => this.evictionWatchers.delete(fn);
  }
}

/** Feeds the bus from a store: the events of every committed transaction, in commit order. Returns a detach function. */
export function attachStore(bus: EventBus, store: Store): () => void {
  return store.watch((ev) => {
    if (ev.reset) return; // a snapshot restore carries no per-change history
    bus.append(deriveEvents(ev.changes, ev.version, ev.timeMs));
  });
}
