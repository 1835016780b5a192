import { formatLogEntry } from '../../runtime/container-logs';
import { ShoalError } from '../../types/errors';
import { ContainerSummary } from '../../api/container-backend';
import { Command, CommandContext } from '../command';
import { ago, humanDuration, table, truncate } from '../human';
import { parseCount, parseSince } from '../units';

/** Docker's STATUS column: "Up 5 seconds", "Exited (3) 2 minutes ago", "Created". */
export function statusText(c: ContainerSummary, nowMs: number): string {
  if (c.status === 'running') return `Up ${humanDuration(nowMs - Date.parse(c.startedAt ?? c.createdAt))}`;
  if (c.status === 'created') return 'Created';
  return `Exited (${c.exitCode ?? 255}) ${ago(c.finishedAt, nowMs)}`;
}

/** Docker's PORTS column: "0.0.0.0:8080->80/tcp". */
export function portsText(c: ContainerSummary): string {
  return c.ports.map((p) => `0.0.0.0:${p.hostPort}->${p.containerPort}/${p.protocol}`).join(', ');
}

/** `shoal ps`: running containers (all with -a), newest first. */
export const psCommand: Command = {
  name: 'ps',
  usage: 'shoal ps [OPTIONS]',
  summary: 'List containers',
  flags: [{ name: 'all', short: 'a', kind: 'bool' }, { name: 'quiet', short: 'q', kind: 'bool' }, { name: 'no-trunc', kind: 'bool' }],
  minArgs: 0,
  maxArgs: 0,
  async run(ctx, f) {
    const now = ctx.now();
    const all = await (await ctx.backend()).listContainers();
    const shown = all.filter((c) => f.bools.has('all') || c.status === 'running').sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1));
    const full = f.bools.has('no-trunc');
    const id = (c: ContainerSummary): string => (full ? c.id : c.id.slice(0, 12));
    if (f.bools.has('quiet')) {
      ctx.stdout.write(shown.map((c) => `${id(c)}\n`).join(''));
      return 0;
    }
    const rows = shown.map((c) => {
      const cmd = c.command.join(' ');
      return [id(c), c.image, `"${full ? cmd : truncate(cmd, 20)}"`, ago(c.createdAt, now), statusText(c, now), portsText(c), c.name];
    });
    ctx.stdout.write(table(['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES'], rows));
    return 0;
  },
};

/** `shoal logs`: a container's output, stdout to stdout and stderr to stderr. */
export const logsCommand: Command = {
  name: 'logs',
  usage: 'shoal logs [OPTIONS] CONTAINER',
  summary: 'Show the output of a container',
  flags: [
    { name: 'follow', short: 'f', kind: 'bool' },
    { name: 'tail', short: 'n', kind: 'value' },
    { name: 'since', kind: 'value' },
    { name: 'timestamps', short: 't', kind: 'bool' },
  ],
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, f) {
    const tail = f.values.get('tail');
    const since = f.values.get('since');
    const opts = {
      follow: f.bools.has('follow'),
      tail: tail === undefined || tail === 'all' ? undefined : parseCount('--tail', tail),
      sinceMs: since === undefined ? undefined : parseSince('--since', since, ctx.now()),
      pollMs: 50,
    };
    const backend = await ctx.backend();
    for await (const e of backend.containerLogs(f.args[0], opts)) {
      (e.stream === 'stderr' ? ctx.stderr : ctx.stdout).write(`${formatLogEntry(e, f.bools.has('timestamps'))}\n`);
    }
    return 0;
  },
};

/** Runs an action on each named container; like docker, reports each failure and exits 1 if any failed. */
async function eachContainer(ctx: CommandContext, refs: string[], act: (ref: string) => Promise<void>): Promise<number> {
  let failed = false;
  for (const ref of refs) {
    try {
      await act(ref);
      ctx.stdout.write(`${ref}\n`);
    } catch (err) {
      if (!ShoalError.is(err)) throw err;
      failed = true;
      ctx.stderr.write(`Error: ${err.message}\n`);
    }
  }
  return failed ? 1 : 0;
}

/** `shoal stop`: stop signal, grace, then SIGKILL. */
export const stopCommand: Command = {
  name: 'stop',
  usage: 'shoal stop [OPTIONS] CONTAINER [CONTAINER...]',
  summary: 'Stop one or more running containers',
  flags: [{ name: 'time', short: 't', kind: 'value' }],
  minArgs: 1,
  async run(ctx, f) {
    const t = f.values.get('time');
    const graceMs = t === undefined ? undefined : parseCount('--time', t) * 1000;
    const backend = await ctx.backend();
    return eachContainer(ctx, f.args, async (ref) => { await backend.stopContainer(ref, graceMs); });
  },
};

/** `shoal rm`: remove containers (running ones only with -f). */
export const rmCommand: Command = {
  name: 'rm',
  usage: 'shoal rm [OPTIONS] CONTAINER [CONTAINER...]',
  summary: 'Remove one or more containers',
  flags: [{ name: 'force', short: 'f', kind: 'bool' }],
  minArgs: 1,
  async run(ctx, f) {
    const backend = await ctx.backend();
    return eachContainer(ctx, f.args, async (ref) => { await backend.removeContainer(ref, f.bools.has('force')); });
  },
};

/** `shoal inspect`: containers or images as a JSON array. */
export const inspectCommand: Command = {
  name: 'inspect',
  usage: 'shoal inspect NAME|ID [NAME|ID...]',
  summary: 'Show details of containers or images as JSON',
  flags: [],
  minArgs: 1,
  async run(ctx, f) {
    const backend = await ctx.backend();
    const found: unknown[] = [];
    let failed = false;
    for (const ref of f.args) {
      try {
        found.push(await backend.inspectContainer(ref));
      } catch (err) {
        if (!ShoalError.is(err, 'NotFound')) throw err;
        try {
          found.push(await backend.inspectImage(ref));
        } catch (err2) {
          if (!ShoalError.is(err2, 'NotFound')) throw err2;
          failed = true;
          ctx.stderr.write(`Error: no such object: ${ref}\n`);
        }
      }
    }
    ctx.stdout.write(`${JSON.stringify(found, null, 4)}\n`);
    return failed ? 1 : 0;
  },
};
