/** A cancellable timer handle returned by a Clock. */
export interface TimerHandle {
  cancel(): void;
}

/** Time, injected so that leader loops and tests can run on a simulated clock (DESIGN.md §6). */
export interface Clock {
  /** Milliseconds since an arbitrary epoch; never goes backwards. */
  now(): number;
  /** Calls fn once after delayMs. */
  setTimer(delayMs: number, fn: () => void): TimerHandle;
}

/** The real clock: monotonic time and Node's timers. */
export const systemClock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
  setTimer(delayMs, fn) {
    const t = setTimeout(fn, delayMs);
    return { cancel: () => clearTimeout(t) };
  },
};

/** A simulated clock advanced by hand; timers fire in deadline order, ties in creation order. */
export class ManualClock implements Clock {
  private nowMs: number;
  private seq = 0;
  private timers: { at: number; seq: number; fn: () => void; live: boolean }[] = [];

  constructor(startMs = 0) {
    this.nowMs = startMs;
  }

  now(): number {
    return this.nowMs;
  }

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    const timer = { at: this.nowMs + Math.max(0, delayMs), seq: this.seq++, fn, live: true };
    this.timers.push(timer);
    return { cancel: () => { timer.live = false; } };
  }

  /** Moves time forward by ms, firing every timer that falls due on the way. */
  advance(ms: number): void {
    const until = this.nowMs + ms;
    for (;;) {
      const due = this.timers
        .filter((t) => t.live && t.at <= until)
        .sort((x, y) => x.at - y.at || x.seq - y.seq)[0];
      if (due === undefined) break;
      due.live = false;
      this.nowMs = Math.max(this.nowMs, due.at);
      due.fn();
    }
    this.timers = this.timers.filter((t) => t.live);
    this.nowMs = until;
  }
}
