import { InvalidArgumentError } from '../types/errors';

/** A local (this host's) event in Docker's `/events` shape: containers and images handled through the API. */
export interface LocalEvent {
  readonly Type: 'container' | 'image';
  readonly Action: string;
  readonly Actor: { readonly ID: string; readonly Attributes: Readonly<Record<string, string>> };
  readonly scope: 'local';
  readonly time: number;
  readonly timeNano: number;
}

/** Which local events a client asked for (Docker's filter keys that apply to them). */
export interface LocalEventFilter {
  readonly type: readonly string[];
  readonly event: readonly string[];
  readonly container: readonly string[];
  readonly image: readonly string[];
}

/** True when e passes f (each given key must match one of its values, as Docker's filters do). */
export function matchesLocal(e: LocalEvent, f: LocalEventFilter): boolean {
  if (f.type.length > 0 && !f.type.includes(e.Type)) return false;
  if (f.event.length > 0 && !f.event.includes(e.Action)) return false;
  const name = e.Actor.Attributes.name ?? '';
  if (f.container.length > 0 && (e.Type !== 'container' || !f.container.some((c) => c === name || e.Actor.ID.startsWith(c)))) return false;
  if (f.image.length > 0 && !f.image.some((i) => i === e.Actor.Attributes.image || (e.Type === 'image' && (i === e.Actor.ID || i === name)))) return false;
  return true;
}

/** Default number of local events kept for `since`. */
export const LOCAL_EVENTS_MAX = 1000;

/**
 * The local events of this API server: a bounded history (oldest dropped first) and synchronous
 * subscribers. Emitting never waits on a subscriber.
 */
export class LocalEventLog {
  private readonly ring: LocalEvent[] = [];
  private readonly subs = new Set<(e: LocalEvent) => void>();

  constructor(private readonly capacity = LOCAL_EVENTS_MAX, private readonly now: () => number = Date.now) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new InvalidArgumentError(`local event capacity must be a positive integer, got ${capacity}`);
  }

  emit(type: LocalEvent['Type'], action: string, id: string, attributes: Record<string, string>): void {
    const ms = this.now();
    const e: LocalEvent = { Type: type, Action: action, Actor: { ID: id, Attributes: attributes }, scope: 'local', time: Math.floor(ms / 1000), timeNano: Math.floor(ms) * 1_000_000 };
    this.ring.push(e);
    if (this.ring.length > this.capacity) this.ring.shift();
    for (const s of [...this.subs]) {
      try { s(e); } catch (err) { queueMicrotask(() => { throw err; }); }
    }
  }

  /** Kept events at or after sinceMs and at or before untilMs. */
  history(sinceMs?: number, untilMs?: number): LocalEvent[] {
    return this.ring.filter((e) => (sinceMs === undefined || e.timeNano / 1e6 >= sinceMs) && (untilMs === undefined || e.timeNano / 1e6 <= untilMs));
  }

  /** Calls fn with every new event; returns the unsubscribe function. */
  subscribe(fn: (e: LocalEvent) => void): () => void {
    this.subs.add(fn);
    return () => this.subs.delete(fn);
  }
}
