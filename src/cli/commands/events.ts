import { filtersParam } from '../api-client';
import type { Command } from '../command';
import type { DEvent } from '../docker-types';
import { FlagError } from '../flags';
import { checkTemplate, renderTemplate } from '../format';
import { parseSince } from '../units';

/** Docker's event line: `2026-01-02T03:04:05.000000000Z service create ID (k=v, k=v)`. */
export function eventLine(e: DEvent): string {
  // timeNano does not fit a double exactly: keep the seconds, and the fraction to the microsecond.
  const nanos = e.timeNano ?? e.time * 1e9;
  let secs = Math.floor(nanos / 1e9);
  let micros = Math.round((nanos - secs * 1e9) / 1000);
  if (micros >= 1e6) { secs += 1; micros -= 1e6; }
  const time = `${new Date(secs * 1000).toISOString().slice(0, 19)}.${String(micros).padStart(6, '0')}000Z`;
  const attrs = Object.entries(e.Actor.Attributes ?? {}).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${v}`);
  return `${time} ${e.Type} ${e.Action} ${e.Actor.ID}${attrs.length === 0 ? '' : ` (${attrs.join(', ')})`}`;
}

/** Docker's --since/--until query value: seconds with a fraction. */
function timeParam(flag: string, value: string | undefined, nowMs: number): string | undefined {
  return value === undefined ? undefined : (parseSince(flag, value, nowMs) / 1000).toFixed(3);
}

/** `shoal events`: the cluster's events from shoald's bus, until Ctrl-C or --until. */
export const eventsCommand: Command = {
  name: 'events',
  usage: 'shoal events [OPTIONS]',
  summary: 'Get real time events from the swarm',
  flags: [{ name: 'since', kind: 'value' }, { name: 'until', kind: 'value' }, { name: 'filter', short: 'f', kind: 'list' }, { name: 'format', kind: 'value' }],
  minArgs: 0,
  maxArgs: 0,
  async run(ctx, f) {
    const format = f.values.get('format');
    if (format !== undefined && format !== 'json') checkTemplate(format);
    // Only the shape is checked here: shoald knows which keys and types it serves (cluster and host events).
    const filters: Record<string, string[]> = {};
    for (const a of f.lists.get('filter') ?? []) {
      const eq = a.indexOf('=');
      if (eq <= 0 || eq === a.length - 1) throw new FlagError(`invalid --filter ${JSON.stringify(a)}: expected key=value, e.g. type=service`);
      (filters[a.slice(0, eq)] ??= []).push(a.slice(eq + 1));
    }
    const now = ctx.now();
    const query = { since: timeParam('--since', f.values.get('since'), now), until: timeParam('--until', f.values.get('until'), now), filters: filtersParam(filters) };
    const ac = new AbortController();
    const off = ctx.onSignal(() => ac.abort());
    try {
      const body = await ctx.api().stream('/events', query, ac.signal);
      let carry = '';
      for await (const chunk of body) {
        const lines = (carry + chunk.toString('utf8')).split('\n');
        carry = lines.pop() ?? '';
        for (const l of lines) {
          if (l.trim() === '') continue;
          const e = JSON.parse(l) as DEvent;
          ctx.stdout.write(`${format === 'json' ? JSON.stringify(e) : format !== undefined ? renderTemplate(format, e) : eventLine(e)}\n`);
        }
      }
    } catch (err) {
      if (!ac.signal.aborted) throw err;
    } finally {
      off();
    }
    return 0;
  },
};
