import type { EventStreamOptions } from '../api/backend';
import type { EventBus } from '../events/bus';
import type { ShoalEvent } from '../events/event';

/** Events waiting for a slow reader; beyond this the oldest are dropped (the bus keeps history for `since`). */
const queuedEventsMax = 10_000;

/**
 * A manager's events as Docker's `/events` streams them: the retained history from sinceMs,
 * then new events; with untilMs it ends there (at once if untilMs has passed), otherwise when
 * the signal aborts.
 */
export async function* eventStream(bus: EventBus, opts: EventStreamOptions, signal: AbortSignal): AsyncGenerator<ShoalEvent> {
  const queue: ShoalEvent[] = [];
  let wake: (() => void) | null = null;
  let ended = signal.aborted;
  const notify = (): void => { const w = wake; wake = null; w?.(); };
  const end = (): void => { ended = true; notify(); };
  const until = opts.untilMs;
  const unsubscribe = bus.subscribe({ since: opts.sinceMs === undefined ? undefined : { timeMs: opts.sinceMs }, filter: opts.filter }, (e) => {
    if (until !== undefined && e.time > until) return;
    if (queue.length >= queuedEventsMax) queue.shift();
    queue.push(e);
    notify();
  });
  signal.addEventListener('abort', end);
  const timer = until === undefined ? undefined : setTimeout(end, Math.max(0, until - Date.now()));
  try {
    for (;;) {
      while (queue.length > 0) yield queue.shift()!;
      if (ended) return;
      await new Promise<void>((r) => { wake = r; });
    }
  } finally {
    unsubscribe();
    signal.removeEventListener('abort', end);
    if (timer !== undefined) clearTimeout(timer);
  }
}
