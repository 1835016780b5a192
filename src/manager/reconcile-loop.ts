import type { Clock, TimerHandle } from '../types/clock';
import type { Store, StoreEvent } from './store/store';

/** Settings of a reconcile loop shell. */
export interface ReconcileLoopOptions {
  readonly name: string;
  readonly store: Store;
  readonly clock: Clock;
  /** One full pass: reads the store, writes what it decided; resolves with the time of the next wake-up (Infinity for none). */
  readonly pass: () => Promise<number>;
  /** Events that call for a pass; all by default. */
  readonly relevant?: (e: StoreEvent) => boolean;
  /** Wait this long after an event before a pass, so bursts of events make one pass. */
  readonly debounceMs?: number;
  /** A pass that failed is retried after this long. */
  readonly retryDelayMs?: number;
  readonly onError?: (name: string, err: unknown) => void;
}

/**
 * The thin event-driven shell around a pure reconcile function (STYLE.md §1): a full pass at
 * start, then a pass after relevant store events or at the wake-up time the last pass asked for.
 * Passes never overlap, so a pass always sees the writes of the one before it (level-triggered).
 */
export class ReconcileLoop {
  private running = false;
  private again = false;
  private stopped = true;
  private timer: TimerHandle | null = null;
  private timerAt = Infinity;
  private unwatch: (() => void) | null = null;

  constructor(private readonly opts: ReconcileLoopOptions) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    const relevant = this.opts.relevant ?? (() => true);
    this.unwatch = this.opts.store.watch((e) => { if (e.reset || relevant(e)) this.trigger(); });
    this.trigger();
  }

  stop(): void {
    this.stopped = true;
    this.unwatch?.();
    this.unwatch = null;
    this.timer?.cancel();
    this.timer = null;
    this.timerAt = Infinity;
  }

  /** Asks for a pass soon. */
  trigger(): void {
    this.wakeAt(this.opts.clock.now() + (this.opts.debounceMs ?? 0));
  }

  private wakeAt(atMs: number): void {
    if (this.stopped || !Number.isFinite(atMs)) return;
    if (this.running) {
      if (atMs <= this.opts.clock.now()) this.again = true;
      else this.schedule(atMs);
      return;
    }
    this.schedule(atMs);
  }

  private schedule(atMs: number): void {
    if (this.timer !== null && this.timerAt <= atMs) return;
    this.timer?.cancel();
    this.timerAt = atMs;
    this.timer = this.opts.clock.setTimer(Math.max(0, atMs - this.opts.clock.now()), () => {
      this.timer = null;
      this.timerAt = Infinity;
      void this.run();
    });
  }

  private async run(): Promise<void> {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    this.again = false;
    let next = Infinity;
    try {
      next = await this.opts.pass();
    } catch (err) {
      this.opts.onError?.(this.opts.name, err);
      next = this.opts.clock.now() + (this.opts.retryDelayMs ?? 100);
    } finally {
      this.running = false;
    }
    if (this.again) this.trigger();
    this.wakeAt(next);
  }
}
