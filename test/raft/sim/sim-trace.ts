// A bounded record of what happened in a run, printed with a failing seed.

/** How many recent events a trace keeps. */
export const TRACE_EVENTS_MAX = 60;

/** The last TRACE_EVENTS_MAX events of a run, each stamped with the simulated time. */
export class SimTrace {
  private readonly events: string[] = [];
  private next = 0;
  private count = 0;

  constructor(private readonly echo: ((line: string) => void) | null) {}

  /** Records one event at simulated time `now`. */
  add(now: number, text: string): void {
    const line = `t=${now} ${text}`;
    if (this.echo !== null) this.echo(line);
    if (this.events.length < TRACE_EVENTS_MAX) this.events.push(line);
    else this.events[this.next] = line;
    this.next = (this.next + 1) % TRACE_EVENTS_MAX;
    this.count++;
  }

  /** The kept events, oldest first. */
  lines(): string[] {
    if (this.events.length < TRACE_EVENTS_MAX) return [...this.events];
    return [...this.events.slice(this.next), ...this.events.slice(0, this.next)];
  }

  /** How many events were recorded in all. */
  total(): number {
    return this.count;
  }
}
