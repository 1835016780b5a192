import { ShoalError } from '../../types/errors';
import { filtersParam } from '../api-client';
import type { Command, CommandContext } from '../command';
import type { DInfo, DNode, DNodeSpec, DTask } from '../docker-types';
import { FlagError, ParsedFlags } from '../flags';
import { checkTemplate, formatInspect, formatRows } from '../format';
import { markSelf, nodeColumns, nodeRow } from '../views';
import { nodePretty } from './pretty';
import { parseFilterFlags, printTasks } from './service-read';

// `shoal node ls|inspect|update|promote|demote|rm|ps`, as docker's.

async function selfId(ctx: CommandContext): Promise<string> {
  return (await ctx.api().get<DInfo>('/info')).Swarm.NodeID;
}

/** A node reference, with docker's `self` for this node. */
async function resolveNodeRef(ctx: CommandContext, ref: string): Promise<string> {
  return ref === 'self' ? selfId(ctx) : ref;
}

function getNode(ctx: CommandContext, ref: string): Promise<DNode> {
  return ctx.api().get<DNode>(`/nodes/${encodeURIComponent(ref)}`);
}

/** `shoal node ls`. */
export const nodeLsCommand: Command = {
  name: 'node ls',
  usage: 'shoal node ls [OPTIONS]',
  summary: 'List nodes in the swarm',
  flags: [{ name: 'quiet', short: 'q', kind: 'bool' }, { name: 'format', kind: 'value' }, { name: 'filter', short: 'f', kind: 'list' }],
  minArgs: 0,
  maxArgs: 0,
  async run(ctx, f) {
    const format = f.values.get('format');
    if (format !== undefined) checkTemplate(format);
    const filters = parseFilterFlags(f.lists.get('filter') ?? [], ['id', 'label', 'membership', 'name', 'node.label', 'role']);
    const nodes = (await ctx.api().get<DNode[]>('/nodes', { filters: filtersParam(filters) })) ?? [];
    const self = await selfId(ctx);
    const table = format === undefined || format === 'table';
    let rows = nodes.sort((a, b) => (a.Description?.Hostname ?? '').localeCompare(b.Description?.Hostname ?? '') || a.ID.localeCompare(b.ID))
      .map((n) => nodeRow(n, self));
    if (table && !f.bools.has('quiet')) rows = markSelf(rows);
    ctx.stdout.write(formatRows(rows, nodeColumns, { format, quiet: f.bools.has('quiet'), quietKey: 'ID' }));
    return 0;
  },
};

/** `shoal node inspect`. */
export const nodeInspectCommand: Command = {
  name: 'node inspect',
  usage: 'shoal node inspect [OPTIONS] self|NODE [NODE...]',
  summary: 'Display detailed information on one or more nodes',
  flags: [{ name: 'format', short: 'f', kind: 'value' }, { name: 'pretty', kind: 'bool' }],
  minArgs: 1,
  async run(ctx, f) {
    const format = f.values.get('format');
    if (format !== undefined) checkTemplate(format);
    const nodes: DNode[] = [];
    for (const ref of f.args) nodes.push(await getNode(ctx, await resolveNodeRef(ctx, ref)));
    ctx.stdout.write(f.bools.has('pretty') ? nodes.map(nodePretty).join('\n') : formatInspect(nodes, format));
    return 0;
  },
};

/** Applies `node update` flags to a node's spec; returns the new spec. */
export function nodeSpecUpdate(spec: DNodeSpec, f: ParsedFlags): DNodeSpec {
  const out: DNodeSpec = { ...spec, Labels: { ...spec.Labels } };
  const availability = f.values.get('availability');
  if (availability !== undefined) {
    if (!['active', 'pause', 'drain'].includes(availability)) throw new FlagError(`invalid --availability ${JSON.stringify(availability)}: expected active, pause or drain`);
    out.Availability = availability as DNodeSpec['Availability'];
  }
  const role = f.values.get('role');
  if (role !== undefined) {
    if (role !== 'worker' && role !== 'manager') throw new FlagError(`invalid --role ${JSON.stringify(role)}: expected worker or manager`);
    out.Role = role;
  }
  for (const l of f.lists.get('label-add') ?? []) {
    const eq = l.indexOf('=');
    const k = eq < 0 ? l : l.slice(0, eq);
    if (k === '') throw new FlagError(`invalid --label-add ${JSON.stringify(l)}: expected KEY=VALUE`);
    out.Labels![k] = eq < 0 ? '' : l.slice(eq + 1);
  }
  for (const k of f.lists.get('label-rm') ?? []) {
    if (!(k in out.Labels!)) throw new FlagError(`invalid --label-rm ${JSON.stringify(k)}: the node has no such label`);
    delete out.Labels![k];
  }
  return out;
}

/**
 * Writes a change of a node's spec at the version just read, and reads and writes again (a few
 * times) when the node changed in between: the managers write nodes by themselves (status,
 * reachability, a promotion completing), never their spec, so the change still applies as meant.
 * `change` returns undefined when there is nothing to write.
 */
async function writeNodeSpec(ctx: CommandContext, id: string, change: (n: DNode) => DNodeSpec | undefined): Promise<DNode> {
  for (let attempt = 1; ; attempt++) {
    const n = await getNode(ctx, id);
    const spec = change(n);
    if (spec === undefined) return n;
    try {
      await ctx.api().post<unknown>(`/nodes/${encodeURIComponent(n.ID)}/update`, spec, { version: n.Version.Index });
      return n;
    } catch (err) {
      if (!ShoalError.is(err, 'Conflict') || attempt >= 5) throw err;
    }
  }
}

async function updateNode(ctx: CommandContext, ref: string, change: (spec: DNodeSpec) => DNodeSpec): Promise<void> {
  await writeNodeSpec(ctx, await resolveNodeRef(ctx, ref), (n) => change(n.Spec));
}

/** `shoal node update`. */
export const nodeUpdateCommand: Command = {
  name: 'node update',
  usage: 'shoal node update [OPTIONS] NODE',
  summary: 'Update a node',
  flags: [{ name: 'availability', kind: 'value' }, { name: 'label-add', kind: 'list' }, { name: 'label-rm', kind: 'list' }, { name: 'role', kind: 'value' }],
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, f) {
    nodeSpecUpdate({ Role: 'worker', Availability: 'active', Labels: Object.fromEntries((f.lists.get('label-rm') ?? []).map((k) => [k, ''])) }, f);
    await updateNode(ctx, f.args[0], (spec) => nodeSpecUpdate(spec, f));
    ctx.stdout.write(`${f.args[0]}\n`);
    return 0;
  },
};

function roleCommand(name: 'promote' | 'demote'): Command {
  const role = name === 'promote' ? 'manager' : 'worker';
  return {
    name: `node ${name}`,
    usage: `shoal node ${name} NODE [NODE...]`,
    summary: name === 'promote' ? 'Promote one or more nodes to manager in the swarm' : 'Demote one or more nodes from manager in the swarm',
    flags: [],
    minArgs: 1,
    async run(ctx, f) {
      for (const ref of f.args) {
        let already = false;
        await writeNodeSpec(ctx, await resolveNodeRef(ctx, ref), (n) => {
          already = n.Spec.Role === role;
          return already ? undefined : { ...n.Spec, Role: role };
        });
        if (already) ctx.stdout.write(name === 'promote' ? `Node ${ref} is already a manager.\n` : `Node ${ref} is already a worker.\n`);
        else ctx.stdout.write(name === 'promote' ? `Node ${ref} promoted to a manager in the swarm.\n` : `Manager ${ref} demoted in the swarm.\n`);
      }
      return 0;
    },
  };
}

/** `shoal node promote`. */
export const nodePromoteCommand = roleCommand('promote');
/** `shoal node demote`. */
export const nodeDemoteCommand = roleCommand('demote');

/** `shoal node rm`. */
export const nodeRmCommand: Command = {
  name: 'node rm',
  usage: 'shoal node rm [OPTIONS] NODE [NODE...]',
  summary: 'Remove one or more nodes from the swarm',
  flags: [{ name: 'force', short: 'f', kind: 'bool' }],
  minArgs: 1,
  async run(ctx, f) {
    for (const ref of f.args) {
      await ctx.api().delete(`/nodes/${encodeURIComponent(ref)}`, { force: f.bools.has('force') });
      ctx.stdout.write(`${ref}\n`);
    }
    return 0;
  },
};

/** `shoal node ps`. */
export const nodePsCommand: Command = {
  name: 'node ps',
  usage: 'shoal node ps [OPTIONS] [NODE...]',
  summary: 'List tasks running on one or more nodes, defaults to current node',
  flags: [{ name: 'quiet', short: 'q', kind: 'bool' }, { name: 'format', kind: 'value' }, { name: 'filter', short: 'f', kind: 'list' }, { name: 'no-trunc', kind: 'bool' }],
  minArgs: 0,
  async run(ctx, f) {
    const format = f.values.get('format');
    if (format !== undefined) checkTemplate(format);
    const filters = parseFilterFlags(f.lists.get('filter') ?? [], ['id', 'name', 'desired-state']);
    const ids: string[] = [];
    for (const ref of f.args.length === 0 ? ['self'] : f.args) ids.push((await getNode(ctx, await resolveNodeRef(ctx, ref))).ID);
    const tasks = (await ctx.api().get<DTask[]>('/tasks', { filters: filtersParam({ ...filters, node: ids }) })) ?? [];
    await printTasks(ctx, tasks, { format, quiet: f.bools.has('quiet'), noTrunc: f.bools.has('no-trunc') });
    return 0;
  },
};
