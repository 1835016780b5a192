import type { Clock, TimerHandle } from '../types/clock';
import type { TaskStatus } from '../types/objects';

/** One report on the wire. */
export interface StatusUpdate {
  readonly taskId: string;
  readonly status: TaskStatus;
}

/** Sends a batch over the current session; resolves once the dispatcher acknowledged it. */
export type StatusSender = (updates: readonly StatusUpdate[]) => Promise<void>;

/** How often the reporter sends and retries. */
export interface StatusReporterOptions {
  /** Reports made within this window go in one batch. */
  readonly batchMs: number;
  /** Wait before sending again after a failed send. */
  readonly retryMs: number;
  readonly batchMax: number;
}

const DEFAULTS: StatusReporterOptions = { batchMs: 20, retryMs: 250, batchMax: 500 };

/**
 * Batches task status reports and sends them until acknowledged. Per task only the newest status
 * is pending: states only move forward, so a newer status stands for every older one (the
 * dispatcher keeps the newest per task too), and an acknowledged report is dropped only if no
 * newer one replaced it meanwhile. Without a session, reports wait for the next one.
 */
export class StatusReporter {
  private readonly opts: StatusReporterOptions;
  /**
   * Per task the newest report, in an entry of its own: an acknowledgement removes only the entry
   * it carried. A task reported again with the very same status object (the agent re-reports every
   * held task at the start of a session) gets a new entry, so that an acknowledgement from the
   * previous session, whose dispatcher may have dropped the report, does not cancel the re-report.
   */
  private readonly pending = new Map<string, { readonly status: TaskStatus }>();
  private sender: StatusSender | undefined;
  private timer: TimerHandle | null = null;
  private sending = false;
  private closed = false;

  constructor(private readonly clock: Clock, opts: Partial<StatusReporterOptions> = {}) {
    this.opts = { ...DEFAULTS, ...opts };
  }

  report(taskId: string, status: TaskStatus): void {
    this.pending.set(taskId, { status });
    this.schedule(this.opts.batchMs);
  }

  /** A new session (or none): everything pending goes to the new one. */
  setSender(sender: StatusSender | undefined): void {
    this.sender = sender;
    if (sender !== undefined) this.schedule(0);
  }

  /** Reports not yet acknowledged. */
  pendingCount(): number {
    return this.pending.size;
  }

  close(): void {
    this.closed = true;
    this.timer?.cancel();
    this.timer = null;
  }

  private schedule(ms: number): void {
    if (this.closed || this.timer !== null || this.sending || this.pending.size === 0 || this.sender === undefined) return;
    this.timer = this.clock.setTimer(ms, () => {
      this.timer = null;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    const send = this.sender;
    if (send === undefined || this.pending.size === 0 || this.closed) return;
    const entries = [...this.pending].slice(0, this.opts.batchMax);
    const batch = entries.map(([taskId, e]) => ({ taskId, status: e.status }));
    this.sending = true;
    let ok = false;
    try {
      await send(batch);
      ok = true;
    } catch {
      // Kept pending; sent again on this session after retryMs or on the next session.
    } finally {
      this.sending = false;
    }
    if (ok) for (const [taskId, e] of entries) if (this.pending.get(taskId) === e) this.pending.delete(taskId);
    this.schedule(ok ? 0 : this.opts.retryMs);
  }
}
