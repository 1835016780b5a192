import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { FailedPreconditionError } from '../../types/errors';
import type { ApiClient } from '../api-client';
import type { Command, CommandContext } from '../command';
import type { DService, DServiceSpec } from '../docker-types';
import { FlagError, ParsedFlags } from '../flags';
import { createFlags, createSpec, updateFlags, updateSpec } from '../service-flags';
import { parseCount } from '../units';
import { waitForConvergence, WaitOptions } from '../wait';

// `shoal service create|update|scale|rollback|rm`: the writes, each waiting for convergence
// unless --detach, as docker's.

/** The service as shoald has it now. */
export function getService(api: ApiClient, ref: string): Promise<DService> {
  return api.get<DService>(`/services/${encodeURIComponent(ref)}`);
}

/** Prints the warnings an answer carries (Docker's `Warning` or `Warnings`). */
export function printWarnings(ctx: CommandContext, answer: unknown): void {
  const a = (answer ?? {}) as { Warning?: unknown; Warnings?: unknown };
  const list: unknown[] = [...(Array.isArray(a.Warnings) ? (a.Warnings as unknown[]) : []), ...(typeof a.Warning === 'string' && a.Warning !== '' ? [a.Warning] : [])];
  for (const w of list) ctx.stderr.write(`warning: ${String(w)}\n`);
}

/** Waits for the service unless --detach; with --quiet the progress is not shown. */
export async function maybeWait(ctx: CommandContext, f: ParsedFlags, serviceId: string, opts: WaitOptions): Promise<number> {
  if (f.bools.has('detach')) return 0;
  const quiet = f.bools.has('quiet');
  const waitCtx: CommandContext = quiet ? { ...ctx, stdout: new Writable({ write: (_c, _e, cb) => cb() }), stdoutIsTTY: false } : ctx;
  return waitForConvergence(waitCtx, ctx.api(), serviceId, opts);
}

/** Sends a new spec for a service at the version it was read at. */
export async function sendUpdate(ctx: CommandContext, s: DService, spec: DServiceSpec, rollback: boolean): Promise<void> {
  const answer = await ctx.api().post<unknown>(`/services/${encodeURIComponent(s.ID)}/update`, spec, { version: s.Version.Index, ...(rollback ? { rollback: 'previous' } : {}) });
  printWarnings(ctx, answer);
}

/** A name for a service created without --name (Docker's daemon invents one; shoald wants one): image-xxxxxx. */
export function generatedName(image: string): string {
  const base = (image.split('@')[0].split('/').pop() ?? '').split(':')[0].replace(/[^a-zA-Z0-9_.-]/g, '').slice(0, 48) || 'service';
  return `${/^[a-zA-Z0-9]/.test(base) ? base : `s${base}`}-${randomBytes(3).toString('hex')}`;
}

/** `shoal service create`. */
export const serviceCreateCommand: Command = {
  name: 'service create',
  usage: 'shoal service create [OPTIONS] IMAGE [COMMAND] [ARG...]',
  summary: 'Create a new service',
  flags: createFlags,
  stopAtPositional: true,
  minArgs: 1,
  async run(ctx, f) {
    const spec = createSpec(f, ctx.env);
    spec.Name ??= generatedName(spec.TaskTemplate.ContainerSpec.Image);
    const answer = await ctx.api().post<{ ID: string }>('/services/create', spec);
    printWarnings(ctx, answer);
    ctx.stdout.write(`${answer.ID}\n`);
    return maybeWait(ctx, f, answer.ID, { op: 'create' });
  },
};

/** `shoal service update`. */
export const serviceUpdateCommand: Command = {
  name: 'service update',
  usage: 'shoal service update [OPTIONS] SERVICE',
  summary: 'Update a service',
  flags: updateFlags,
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, f) {
    const s = await getService(ctx.api(), f.args[0]);
    const rollback = f.bools.has('rollback');
    if (rollback && s.PreviousSpec === undefined) throw new FailedPreconditionError(`service ${f.args[0]} has no previous spec to roll back to`);
    const spec = updateSpec(s.Spec, f, ctx.env);
    await sendUpdate(ctx, s, rollback ? s.Spec : spec, rollback);
    ctx.stdout.write(`${f.args[0]}\n`);
    return maybeWait(ctx, f, s.ID, { op: rollback ? 'rollback' : 'update', staleUpdate: s.UpdateStatus });
  },
};

/** `shoal service rollback`. */
export const serviceRollbackCommand: Command = {
  name: 'service rollback',
  usage: 'shoal service rollback [OPTIONS] SERVICE',
  summary: 'Revert changes to a service\'s configuration',
  flags: [{ name: 'detach', short: 'd', kind: 'bool' }, { name: 'quiet', short: 'q', kind: 'bool' }],
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, f) {
    const s = await getService(ctx.api(), f.args[0]);
    if (s.PreviousSpec === undefined) throw new FailedPreconditionError(`service ${f.args[0]} has no previous spec to roll back to`, { hint: 'a service can be rolled back after an update' });
    await sendUpdate(ctx, s, s.Spec, true);
    ctx.stdout.write(`${f.args[0]}\n`);
    return maybeWait(ctx, f, s.ID, { op: 'rollback', staleUpdate: s.UpdateStatus });
  },
};

/** `shoal service scale web=5 api=2`. */
export const serviceScaleCommand: Command = {
  name: 'service scale',
  usage: 'shoal service scale SERVICE=REPLICAS [SERVICE=REPLICAS...]',
  summary: 'Scale one or multiple replicated services',
  flags: [{ name: 'detach', short: 'd', kind: 'bool' }],
  minArgs: 1,
  async run(ctx, f) {
    const wanted = f.args.map((a) => {
      const eq = a.indexOf('=');
      if (eq <= 0) throw new FlagError(`invalid scale specifier ${JSON.stringify(a)}: expected SERVICE=REPLICAS`, { hint: 'for example: shoal service scale web=5' });
      return { ref: a.slice(0, eq), replicas: parseCount(`scale of ${a.slice(0, eq)}`, a.slice(eq + 1)) };
    });
    let failed = false;
    for (const w of wanted) {
      try {
        const s = await getService(ctx.api(), w.ref);
        if (s.Spec.Mode?.Global !== undefined) throw new FailedPreconditionError(`scale can only be used with replicated mode, and ${w.ref} is a global service`);
        await sendUpdate(ctx, s, { ...s.Spec, Mode: { Replicated: { Replicas: w.replicas } } }, false);
        ctx.stdout.write(`${w.ref} scaled to ${w.replicas}\n`);
        if (await maybeWait(ctx, f, s.ID, { op: 'scale', staleUpdate: s.UpdateStatus }) !== 0) failed = true;
      } catch (err) {
        if (wanted.length === 1) throw err;
        ctx.stderr.write(`shoal service scale: ${w.ref}: ${(err as Error).message}\n`);
        failed = true;
      }
    }
    return failed ? 1 : 0;
  },
};

/** `shoal service rm`. */
export const serviceRmCommand: Command = {
  name: 'service rm',
  usage: 'shoal service rm SERVICE [SERVICE...]',
  summary: 'Remove one or more services',
  flags: [],
  minArgs: 1,
  async run(ctx, f) {
    let failed = false;
    for (const ref of f.args) {
      try {
        await ctx.api().delete(`/services/${encodeURIComponent(ref)}`);
        ctx.stdout.write(`${ref}\n`);
      } catch (err) {
        if (f.args.length === 1) throw err;
        ctx.stderr.write(`shoal service rm: ${(err as Error).message}\n`);
        failed = true;
      }
    }
    return failed ? 1 : 0;
  },
};
