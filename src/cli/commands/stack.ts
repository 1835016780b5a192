import * as fs from 'node:fs';
import * as path from 'node:path';
import { InvalidArgumentError } from '../../types/errors';
import { filtersParam } from '../api-client';
import type { Command, CommandContext } from '../command';
import { parseCompose, STACK_LABEL, stackServiceSpec } from '../compose';
import type { DService, DTask } from '../docker-types';
import { FlagError } from '../flags';
import { checkTemplate, formatRows } from '../format';
import { maybeWait, printWarnings, sendUpdate } from './service';
import { printServices, printTasks } from './service-read';

// `shoal stack deploy|ls|ps|services|rm`: a stack is the services labelled
// com.docker.stack.namespace=NAME and named NAME_svc, as docker's.

function checkStackName(name: string): void {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) throw new FlagError(`invalid stack name ${JSON.stringify(name)}: letters, digits, _ . - starting with a letter or digit`);
}

async function stackServices(ctx: CommandContext, stack: string): Promise<DService[]> {
  const all = (await ctx.api().get<DService[]>('/services', { filters: filtersParam({ label: [`${STACK_LABEL}=${stack}`] }) })) ?? [];
  // Filtered here as well, so the answer does not depend on how much of the label filter the server knows.
  return all.filter((s) => s.Spec.Labels?.[STACK_LABEL] === stack);
}

/** `shoal stack deploy -c compose.yml NAME`. */
export const stackDeployCommand: Command = {
  name: 'stack deploy',
  usage: 'shoal stack deploy [OPTIONS] STACK',
  summary: 'Deploy a new stack or update an existing stack',
  flags: [{ name: 'compose-file', short: 'c', kind: 'list' }, { name: 'detach', short: 'd', kind: 'bool' }, { name: 'quiet', short: 'q', kind: 'bool' }, { name: 'prune', kind: 'bool' }],
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, f) {
    const stack = f.args[0];
    checkStackName(stack);
    const files = f.lists.get('compose-file') ?? [];
    if (files.length !== 1) throw new FlagError(files.length === 0 ? 'a compose file is required: -c compose.yml' : 'only one compose file (-c) is supported');
    const file = path.resolve(ctx.cwd, files[0]);
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new InvalidArgumentError(`cannot read compose file ${files[0]}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
    }
    const project = parseCompose(text, files[0]);
    for (const w of project.warnings) ctx.stderr.write(`warning: ${w}\n`);
    const existing = new Map((await stackServices(ctx, stack)).map((s) => [s.Spec.Name ?? '', s]));
    const deployed: { id: string; op: 'create' | 'update'; stale?: DService['UpdateStatus'] }[] = [];
    for (const { name, spec } of project.services) {
      const full = stackServiceSpec(stack, name, spec);
      const old = existing.get(full.Name!);
      if (old !== undefined) {
        ctx.stdout.write(`Updating service ${full.Name} (id: ${old.ID})\n`);
        await sendUpdate(ctx, old, full, false);
        deployed.push({ id: old.ID, op: 'update', stale: old.UpdateStatus });
      } else {
        ctx.stdout.write(`Creating service ${full.Name}\n`);
        const answer = await ctx.api().post<{ ID: string }>('/services/create', full);
        printWarnings(ctx, answer);
        deployed.push({ id: answer.ID, op: 'create' });
      }
    }
    if (f.bools.has('prune')) {
      const wanted = new Set(project.services.map((s) => `${stack}_${s.name}`));
      for (const [name, s] of existing) {
        if (wanted.has(name)) continue;
        ctx.stdout.write(`Removing service ${name}\n`);
        await ctx.api().delete(`/services/${encodeURIComponent(s.ID)}`);
      }
    }
    let code = 0;
    for (const d of deployed) {
      const r = await maybeWait(ctx, f, d.id, { op: d.op, staleUpdate: d.stale });
      if (r !== 0) code = r;
    }
    return code;
  },
};

/** `shoal stack ls`. */
export const stackLsCommand: Command = {
  name: 'stack ls',
  usage: 'shoal stack ls [OPTIONS]',
  summary: 'List stacks',
  flags: [{ name: 'format', kind: 'value' }],
  minArgs: 0,
  maxArgs: 0,
  async run(ctx, f) {
    const format = f.values.get('format');
    if (format !== undefined) checkTemplate(format);
    const services = (await ctx.api().get<DService[]>('/services')) ?? [];
    const counts = new Map<string, number>();
    for (const s of services) {
      const stack = s.Spec.Labels?.[STACK_LABEL];
      if (stack !== undefined) counts.set(stack, (counts.get(stack) ?? 0) + 1);
    }
    const rows = [...counts].sort(([a], [b]) => a.localeCompare(b)).map(([Name, n]) => ({ Name, Services: String(n) }));
    ctx.stdout.write(formatRows(rows, [{ key: 'Name', header: 'NAME' }, { key: 'Services', header: 'SERVICES' }], { format }));
    return 0;
  },
};

/** `shoal stack services NAME`. */
export const stackServicesCommand: Command = {
  name: 'stack services',
  usage: 'shoal stack services [OPTIONS] STACK',
  summary: 'List the services in the stack',
  flags: [{ name: 'quiet', short: 'q', kind: 'bool' }, { name: 'format', kind: 'value' }],
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, f) {
    const format = f.values.get('format');
    if (format !== undefined) checkTemplate(format);
    if ((await stackServices(ctx, f.args[0])).length === 0) {
      ctx.stderr.write(`Nothing found in stack: ${f.args[0]}\n`);
      return 0;
    }
    await printServices(ctx, { label: [`${STACK_LABEL}=${f.args[0]}`] }, { format, quiet: f.bools.has('quiet') });
    return 0;
  },
};

/** `shoal stack ps NAME`. */
export const stackPsCommand: Command = {
  name: 'stack ps',
  usage: 'shoal stack ps [OPTIONS] STACK',
  summary: 'List the tasks in the stack',
  flags: [{ name: 'quiet', short: 'q', kind: 'bool' }, { name: 'format', kind: 'value' }, { name: 'no-trunc', kind: 'bool' }],
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, f) {
    const format = f.values.get('format');
    if (format !== undefined) checkTemplate(format);
    const services = await stackServices(ctx, f.args[0]);
    if (services.length === 0) {
      ctx.stderr.write(`Nothing found in stack: ${f.args[0]}\n`);
      return 0;
    }
    const tasks = (await ctx.api().get<DTask[]>('/tasks', { filters: filtersParam({ service: services.map((s) => s.ID) }) })) ?? [];
    await printTasks(ctx, tasks, { format, quiet: f.bools.has('quiet'), noTrunc: f.bools.has('no-trunc') });
    return 0;
  },
};

/** `shoal stack rm NAME...`. */
export const stackRmCommand: Command = {
  name: 'stack rm',
  usage: 'shoal stack rm STACK [STACK...]',
  summary: 'Remove one or more stacks',
  flags: [],
  minArgs: 1,
  async run(ctx, f) {
    let failed = false;
    for (const stack of f.args) {
      const services = (await stackServices(ctx, stack)).sort((a, b) => (a.Spec.Name ?? '').localeCompare(b.Spec.Name ?? ''));
      if (services.length === 0) {
        ctx.stderr.write(`Nothing found in stack: ${stack}\n`);
        continue;
      }
      for (const s of services) {
        ctx.stdout.write(`Removing service ${s.Spec.Name}\n`);
        try {
          await ctx.api().delete(`/services/${encodeURIComponent(s.ID)}`);
        } catch (err) {
          ctx.stderr.write(`failed to remove service ${s.Spec.Name}: ${(err as Error).message}\n`);
          failed = true;
        }
      }
    }
    return failed ? 1 : 0;
  },
};
