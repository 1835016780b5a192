import { filtersParam } from '../api-client';
import type { Command, CommandContext } from '../command';
import type { DNode, DService, DTask } from '../docker-types';
import { FlagError, FlagSpec } from '../flags';
import { checkTemplate, formatInspect, formatRows } from '../format';
import { parseCount, parseSince } from '../units';
import { countReplicas, serviceColumns, serviceRow, taskColumns, taskRows } from '../views';
import { getService } from './service';
import { servicePretty } from './pretty';

// `shoal service ls|ps|inspect|logs`: the reads.

/** Docker's `--filter key=value` flags as a filters map; only the keys a command knows. */
export function parseFilterFlags(values: readonly string[], keys: readonly string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    if (eq <= 0) throw new FlagError(`invalid --filter ${JSON.stringify(v)}: expected key=value`);
    const k = v.slice(0, eq);
    if (!keys.includes(k)) throw new FlagError(`invalid --filter ${JSON.stringify(v)}: unknown key ${JSON.stringify(k)}`, { hint: `keys: ${keys.join(', ')}` });
    (out[k] ??= []).push(v.slice(eq + 1));
  }
  return out;
}

/** Node id -> hostname, for the NODE column; empty when the nodes cannot be listed. */
export async function hostnames(ctx: CommandContext): Promise<Map<string, string>> {
  const nodes = await ctx.api().get<DNode[]>('/nodes');
  return new Map((nodes ?? []).map((n) => [n.ID, n.Description?.Hostname ?? n.ID]));
}

const listFlags: FlagSpec[] = [{ name: 'quiet', short: 'q', kind: 'bool' }, { name: 'format', kind: 'value' }, { name: 'filter', short: 'f', kind: 'list' }];

/** Lists services with docker's columns; counts tasks when shoald sends no ServiceStatus. */
export async function printServices(ctx: CommandContext, filters: Record<string, string[]>, opts: { format?: string; quiet: boolean }): Promise<void> {
  const services = (await ctx.api().get<DService[]>('/services', { status: true, filters: filtersParam(filters) })) ?? [];
  const needCounts = services.some((s) => s.ServiceStatus === undefined);
  const tasks = needCounts && !opts.quiet ? (await ctx.api().get<DTask[]>('/tasks', { filters: filtersParam({ 'desired-state': ['running'] }) })) ?? [] : [];
  const counts = countReplicas(services, tasks);
  const rows = services.map((s) => { const r = serviceRow(s, counts.get(s.ID)); if (opts.quiet) r.ID = s.ID; return r; })
    .sort((a, b) => a.Name.localeCompare(b.Name));
  ctx.stdout.write(formatRows(rows, serviceColumns, { format: opts.format, quiet: opts.quiet, quietKey: 'ID' }));
}

/** `shoal service ls`. */
export const serviceLsCommand: Command = {
  name: 'service ls',
  usage: 'shoal service ls [OPTIONS]',
  summary: 'List services',
  flags: listFlags,
  minArgs: 0,
  maxArgs: 0,
  async run(ctx, f) {
    const format = f.values.get('format');
    if (format !== undefined) checkTemplate(format);
    await printServices(ctx, parseFilterFlags(f.lists.get('filter') ?? [], ['id', 'name', 'label', 'mode']), { format, quiet: f.bools.has('quiet') });
    return 0;
  },
};

/** Prints tasks as `service ps` does. */
export async function printTasks(ctx: CommandContext, tasks: DTask[], opts: { format?: string; quiet: boolean; noTrunc: boolean }): Promise<void> {
  if (opts.quiet) {
    ctx.stdout.write(tasks.map((t) => `${opts.noTrunc ? t.ID : t.ID.slice(0, 12)}\n`).join(''));
    return;
  }
  const services = (await ctx.api().get<DService[]>('/services')) ?? [];
  const names = new Map(services.map((s) => [s.ID, s.Spec.Name ?? s.ID]));
  const rows = taskRows(tasks, names, await hostnames(ctx), ctx.now(), opts.noTrunc);
  ctx.stdout.write(formatRows(rows, taskColumns, { format: opts.format }));
}

/** `shoal service ps`. */
export const servicePsCommand: Command = {
  name: 'service ps',
  usage: 'shoal service ps [OPTIONS] SERVICE [SERVICE...]',
  summary: 'List the tasks of one or more services',
  flags: [...listFlags, { name: 'no-trunc', kind: 'bool' }],
  minArgs: 1,
  async run(ctx, f) {
    const format = f.values.get('format');
    if (format !== undefined) checkTemplate(format);
    const filters = parseFilterFlags(f.lists.get('filter') ?? [], ['id', 'name', 'node', 'desired-state']);
    const ids: string[] = [];
    for (const ref of f.args) ids.push((await getService(ctx.api(), ref)).ID);
    const tasks = (await ctx.api().get<DTask[]>('/tasks', { filters: filtersParam({ ...filters, service: ids }) })) ?? [];
    await printTasks(ctx, tasks, { format, quiet: f.bools.has('quiet'), noTrunc: f.bools.has('no-trunc') });
    return 0;
  },
};

/** `shoal service inspect`. */
export const serviceInspectCommand: Command = {
  name: 'service inspect',
  usage: 'shoal service inspect [OPTIONS] SERVICE [SERVICE...]',
  summary: 'Display detailed information on one or more services',
  flags: [{ name: 'format', short: 'f', kind: 'value' }, { name: 'pretty', kind: 'bool' }],
  minArgs: 1,
  async run(ctx, f) {
    const format = f.values.get('format');
    if (format !== undefined) checkTemplate(format);
    const services: DService[] = [];
    for (const ref of f.args) services.push(await getService(ctx.api(), ref));
    ctx.stdout.write(f.bools.has('pretty') ? services.map(servicePretty).join('\n') : formatInspect(services, format));
    return 0;
  },
};

/** Splits Docker's multiplexed log stream (8-byte frame headers) into text; raw text passes through. */
export class LogDemuxer {
  private buf = Buffer.alloc(0);
  private raw: boolean | undefined;
  push(chunk: Buffer): { stream: 'stdout' | 'stderr'; text: string }[] {
    this.buf = Buffer.concat([this.buf, chunk]);
    this.raw ??= !(this.buf.length >= 8 && this.buf[0] <= 2 && this.buf[1] === 0 && this.buf[2] === 0 && this.buf[3] === 0);
    if (this.raw) {
      const text = this.buf.toString('utf8');
      this.buf = Buffer.alloc(0);
      return [{ stream: 'stdout', text }];
    }
    const out: { stream: 'stdout' | 'stderr'; text: string }[] = [];
    while (this.buf.length >= 8) {
      const size = this.buf.readUInt32BE(4);
      if (this.buf.length < 8 + size) break;
      out.push({ stream: this.buf[0] === 2 ? 'stderr' : 'stdout', text: this.buf.subarray(8, 8 + size).toString('utf8') });
      this.buf = this.buf.subarray(8 + size);
    }
    return out;
  }
}

/** One log line with docker's `details` attributes taken off: the task it came from, and the message. */
export function splitLogLine(line: string, timestamps: boolean): { time: string; taskId: string; nodeId: string; message: string } {
  let rest = line;
  let time = '';
  if (timestamps) {
    const sp = rest.indexOf(' ');
    if (sp > 0) { time = rest.slice(0, sp); rest = rest.slice(sp + 1); }
  }
  const sp = rest.indexOf(' ');
  const first = sp < 0 ? rest : rest.slice(0, sp);
  const attrs = new Map<string, string>();
  if (first.includes('com.docker.swarm.')) {
    for (const kv of first.split(',')) {
      const eq = kv.indexOf('=');
      if (eq > 0) attrs.set(kv.slice(0, eq), kv.slice(eq + 1));
    }
    rest = sp < 0 ? '' : rest.slice(sp + 1);
  }
  return { time, taskId: attrs.get('com.docker.swarm.task.id') ?? '', nodeId: attrs.get('com.docker.swarm.node.id') ?? '', message: rest };
}

/** `shoal service logs`. */
export const serviceLogsCommand: Command = {
  name: 'service logs',
  usage: 'shoal service logs [OPTIONS] SERVICE',
  summary: 'Fetch the logs of a service',
  flags: [{ name: 'follow', short: 'f', kind: 'bool' }, { name: 'tail', kind: 'value' }, { name: 'since', kind: 'value' }, { name: 'timestamps', short: 't', kind: 'bool' }, { name: 'no-trunc', kind: 'bool' }, { name: 'raw', kind: 'bool' }],
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, f) {
    const tail = f.values.get('tail');
    if (tail !== undefined && tail !== 'all') parseCount('--tail', tail);
    const since = f.values.get('since') === undefined ? undefined : (parseSince('--since', f.values.get('since')!, ctx.now()) / 1000).toFixed(3);
    const s = await getService(ctx.api(), f.args[0]);
    const timestamps = f.bools.has('timestamps');
    const ac = new AbortController();
    const off = ctx.onSignal(() => ac.abort());
    const names = new Map<string, string>();
    const hosts = await hostnames(ctx);
    const refresh = async (): Promise<void> => {
      for (const t of (await ctx.api().get<DTask[]>('/tasks', { filters: filtersParam({ service: [s.ID] }) })) ?? []) names.set(t.ID, `${s.Spec.Name}.${(t.Slot ?? 0) > 0 ? t.Slot : t.NodeID}.${f.bools.has('no-trunc') ? t.ID : t.ID.slice(0, 12)}`);
    };
    await refresh();
    try {
      const body = await ctx.api().stream(`/services/${encodeURIComponent(s.ID)}/logs`, { stdout: true, stderr: true, follow: f.bools.has('follow'), tail, since, timestamps, details: true }, ac.signal);
      const demux = new LogDemuxer();
      let carry = '';
      for await (const chunk of body) {
        for (const part of demux.push(chunk)) {
          const text = carry + part.text;
          const lines = text.split('\n');
          carry = lines.pop() ?? '';
          for (const l of lines) {
            const p = splitLogLine(l, timestamps);
            if (p.taskId !== '' && !names.has(p.taskId)) await refresh();
            const who = p.taskId === '' || f.bools.has('raw') ? '' : `${names.get(p.taskId) ?? p.taskId}@${hosts.get(p.nodeId) ?? p.nodeId}    | `;
            (part.stream === 'stderr' ? ctx.stderr : ctx.stdout).write(`${who}${p.time === '' ? '' : `${p.time} `}${p.message}\n`);
          }
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
