import { ShoalError } from '../types/errors';
import { ApiClient, filtersParam } from './api-client';
import type { CommandContext } from './command';
import type { DService, DTask, DUpdateStatus } from './docker-types';
import { JudgeState, judge, observe, Operation, PlainMemory, renderLive, renderPlain } from './progress';

/** How often the waiter polls shoald while a service converges. */
const pollMs = 250;

/** What the caller knew before it sent the operation. */
export interface WaitOptions {
  readonly op: Operation;
  /** The service's update status before the operation, which says nothing about it. */
  readonly staleUpdate?: DUpdateStatus;
}

/** Redraws a block of lines in place on a terminal, as docker's progress display does. */
class LiveBlock {
  private printed = 0;
  constructor(private readonly out: NodeJS.WritableStream) {}
  draw(lines: string[]): void {
    // A line wider than the terminal would wrap and throw the cursor arithmetic off: cut it.
    const columns = (this.out as { columns?: number }).columns;
    const fit = (l: string): string => (columns !== undefined && columns > 1 && l.length >= columns ? l.slice(0, columns - 1) : l);
    let text = this.printed > 0 ? `\x1b[${this.printed}A` : '';
    for (const l of lines) text += `\x1b[2K${fit(l)}\n`;
    for (let i = lines.length; i < this.printed; i++) text += '\x1b[2K\n';
    this.printed = Math.max(this.printed, lines.length);
    this.out.write(text);
  }
}

/** Sleeps, or wakes early when `wake` is called (Ctrl-C). */
function sleeper(): { sleep(ms: number): Promise<void>; wake(): void } {
  let timer: NodeJS.Timeout | undefined;
  let resolveNow: (() => void) | undefined;
  return {
    sleep: (ms) => new Promise((resolve) => { resolveNow = resolve; timer = setTimeout(resolve, ms); }),
    wake: () => { if (timer !== undefined) clearTimeout(timer); resolveNow?.(); },
  };
}

/**
 * Polls a service and its tasks until it converges (resolves 0), fails (throws with the update
 * status message) or the user presses Ctrl-C (resolves 0: the operation goes on in shoald).
 */
export async function waitForConvergence(ctx: CommandContext, api: ApiClient, serviceId: string, opts: WaitOptions): Promise<number> {
  const live = ctx.stdoutIsTTY ? new LiveBlock(ctx.stdout) : undefined;
  let seen: PlainMemory = new Map();
  let state: JudgeState = { rollback: opts.op === 'rollback' };
  let interrupted = false;
  const s = sleeper();
  const off = ctx.onSignal(() => { interrupted = true; s.wake(); });
  let name = serviceId;
  try {
    for (;;) {
      const service = await api.get<DService>(`/services/${encodeURIComponent(serviceId)}`);
      name = service.Spec.Name ?? serviceId;
      // `_up-to-date` (Docker's internal filter): only tasks of the current spec count towards convergence.
      const tasks = await api.get<DTask[]>('/tasks', { filters: filtersParam({ service: [service.ID], '_up-to-date': ['true'] }) });
      const obs = observe(service, tasks ?? [], opts.staleUpdate);
      const j = judge(obs, state, ctx.now(), opts.op);
      state = j.state;
      if (live !== undefined) {
        live.draw(renderLive(obs, state, j.verdict));
      } else {
        const p = renderPlain(obs, state, j.verdict, seen);
        seen = p.seen;
        ctx.stdout.write(p.lines.map((l) => `${l}\n`).join(''));
      }
      if (j.verdict.kind === 'converged') return 0;
      if (j.verdict.kind === 'failed') throw new ShoalError('FailedPrecondition', j.verdict.message, { hint: `see what happened with: shoal service ps --no-trunc ${name}` });
      if (!interrupted) await s.sleep(pollMs);
      if (interrupted) {
        ctx.stdout.write(`Operation continuing in background.\nUse shoal service ps ${name} to check progress.\n`);
        return 0;
      }
    }
  } finally {
    off();
  }
}
