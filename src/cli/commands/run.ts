import { ContainerConfig, MountSpec, NetworkMode } from '../../runtime/container-config';
import { ShoalError } from '../../types/errors';
import { Backend } from '../../api/container-backend';
import { Command, CommandContext, CommandExitError } from '../command';
import { FlagError, ParsedFlags } from '../flags';
import { parseBytes, parseCount, parseCpus, parseEnv, parsePort, parseVolume } from '../units';

const runFlags: Command['flags'] = [
  { name: 'rm', kind: 'bool' },
  { name: 'detach', short: 'd', kind: 'bool' },
  { name: 'name', kind: 'value' },
  { name: 'publish', short: 'p', kind: 'list' },
  { name: 'memory', short: 'm', kind: 'value' },
  { name: 'cpus', kind: 'value' },
  { name: 'pids-limit', kind: 'value' },
  { name: 'volume', short: 'v', kind: 'list' },
  { name: 'env', short: 'e', kind: 'list' },
  { name: 'workdir', short: 'w', kind: 'value' },
  { name: 'user', short: 'u', kind: 'value' },
  { name: 'hostname', short: 'h', kind: 'value' },
  { name: 'network', kind: 'value' },
  { name: 'read-only', kind: 'bool' },
  { name: 'init', kind: 'bool' },
  { name: 'stop-timeout', kind: 'value' },
  { name: 'stop-signal', kind: 'value' },
  { name: 'entrypoint', kind: 'value' },
  { name: 'label', short: 'l', kind: 'list' },
];

/** Turns run's flags into a container config; every bad value is refused here, before anything is created. */
export function runConfig(f: ParsedFlags, ctx: Pick<CommandContext, 'env' | 'cwd'>): Omit<ContainerConfig, 'cmd'> {
  const v = (n: string): string | undefined => f.values.get(n);
  const network = (v('network') ?? 'bridge') as NetworkMode;
  if (!['bridge', 'none', 'host'].includes(network)) throw new FlagError(`invalid --network ${JSON.stringify(network)}: expected bridge, none or host`);
  const ports = (f.lists.get('publish') ?? []).map((p) => parsePort('--publish', p));
  if (ports.length > 0 && network !== 'bridge') throw new FlagError(`invalid --publish: ports can only be published with --network bridge, not ${network}`);
  const mounts: MountSpec[] = (f.lists.get('volume') ?? []).map((m) => parseVolume('--volume', m, ctx.cwd));
  const env = (f.lists.get('env') ?? []).map((e) => parseEnv('--env', e, ctx.env)).filter((e): e is string => e !== undefined);
  const labels: Record<string, string> = {};
  for (const l of f.lists.get('label') ?? []) {
    const eq = l.indexOf('=');
    labels[eq < 0 ? l : l.slice(0, eq)] = eq < 0 ? '' : l.slice(eq + 1);
  }
  const workdir = v('workdir');
  if (workdir !== undefined && !workdir.startsWith('/')) throw new FlagError(`invalid --workdir ${JSON.stringify(workdir)}: must be an absolute path`);
  const c: Omit<ContainerConfig, 'cmd'> = { network, ports, mounts, env, labels, readOnlyRootfs: f.bools.has('read-only'), init: f.bools.has('init') };
  const limits: NonNullable<ContainerConfig['limits']> = {};
  if (v('memory') !== undefined) limits.memoryBytes = parseBytes('--memory', v('memory')!);
  if (limits.memoryBytes !== undefined && limits.memoryBytes < 6 * 1024 * 1024) throw new FlagError(`invalid --memory ${JSON.stringify(v('memory'))}: the minimum is 6m`);
  if (v('cpus') !== undefined) limits.nanoCpus = parseCpus('--cpus', v('cpus')!);
  if (v('pids-limit') !== undefined) limits.pidsLimit = parseCount('--pids-limit', v('pids-limit')!, 1);
  c.limits = limits;
  if (workdir !== undefined) c.workingDir = workdir;
  if (v('user') !== undefined) c.user = v('user');
  if (v('hostname') !== undefined) c.hostname = v('hostname');
  if (v('stop-timeout') !== undefined) c.stopGraceMs = parseCount('--stop-timeout', v('stop-timeout')!) * 1000;
  if (v('stop-signal') !== undefined) c.stopSignal = v('stop-signal');
  return c;
}

/** Streams a container's output to ours until it exits. */
async function streamOutput(backend: Backend, id: string, ctx: CommandContext): Promise<void> {
  for await (const e of backend.containerLogs(id, { follow: true, pollMs: 20 })) {
    (e.stream === 'stderr' ? ctx.stderr : ctx.stdout).write(`${e.line}\n`);
  }
}

/** `shoal run`: create and start a container; in the foreground, show its output and exit with its code. */
export const runCommand: Command = {
  name: 'run',
  usage: 'shoal run [OPTIONS] IMAGE [COMMAND] [ARG...]',
  summary: 'Create and run a new container from an image',
  flags: runFlags,
  stopAtPositional: true,
  minArgs: 1,
  async run(ctx, f) {
    const config = runConfig(f, ctx);
    const detach = f.bools.has('detach');
    const rm = f.bools.has('rm');
    if (detach && rm) throw new FlagError('--rm with --detach needs shoald to remove the container when it exits, and this CLI runs without it', { hint: 'leave out --rm and remove it later with: shoal rm CONTAINER' });
    const [image, ...cmd] = f.args;
    const entrypoint = f.values.get('entrypoint');
    const backend = await ctx.backend();
    const id = await backend.createContainer({ image, name: f.values.get('name'), cmd, entrypoint: entrypoint === undefined ? undefined : entrypoint === '' ? [] : [entrypoint], config });
    try {
      await backend.startContainer(id);
    } catch (err) {
      if (rm) await backend.removeContainer(id, true).catch(() => { /* report the start error */ });
      throw execFailure(err, cmd[0] ?? image);
    }
    if (detach) {
      ctx.stdout.write(`${id}\n`);
      return 0;
    }
    return foreground(backend, id, rm, ctx);
  },
};

/** Docker's codes for a command that cannot run: 127 not found, 126 not executable. */
function execFailure(err: unknown, command: string): unknown {
  if (!ShoalError.is(err) || !/exec: /.test(err.message)) return err;
  const notFound = /No such file or directory/.test(err.message);
  const denied = /Permission denied/.test(err.message);
  if (!notFound && !denied) return err;
  return new CommandExitError(notFound ? 127 : 126, `cannot run ${JSON.stringify(command)} in the container: ${notFound ? 'no such file in the image or its PATH' : 'permission denied'}`, notFound ? 'check the command, or the image\'s PATH' : 'check the file\'s mode in the image');
}

async function foreground(backend: Backend, id: string, rm: boolean, ctx: CommandContext): Promise<number> {
  let stops = 0;
  // The first Ctrl-C stops the container with its grace; a second one kills it at once.
  const off = ctx.onSignal(() => {
    stops += 1;
    void backend.stopContainer(id, stops > 1 ? 0 : undefined).catch((err: Error) => { ctx.stderr.write(`shoal: stopping ${id.slice(0, 12)}: ${err.message}\n`); });
  });
  try {
    await streamOutput(backend, id, ctx);
    const st = await backend.waitContainer(id);
    if (st.oomKilled) ctx.stderr.write(`shoal: container ${id.slice(0, 12)} was killed for exceeding its memory limit (OOMKilled)\n`);
    return st.exitCode ?? 255;
  } finally {
    off();
    if (rm) {
      await backend.removeContainer(id, true).catch((err) => {
        if (!ShoalError.is(err, 'NotFound')) throw err;
      });
    }
  }
}
