#!/usr/bin/env node
import { ShoalError } from '../types/errors';
import { Backend } from '../api/container-backend';
import { cliErrorExitCode, Command, CommandContext, CommandExitError } from './command';
import { inspectCommand, logsCommand, psCommand, rmCommand, stopCommand } from './commands/containers';
import { importCommand, imagesCommand, loadCommand, pullCommand, rmiCommand } from './commands/images';
import { runCommand } from './commands/run';
import { eventsCommand } from './commands/events';
import { nodeDemoteCommand, nodeInspectCommand, nodeLsCommand, nodePromoteCommand, nodePsCommand, nodeRmCommand, nodeUpdateCommand } from './commands/node';
import { serviceCreateCommand, serviceRmCommand, serviceRollbackCommand, serviceScaleCommand, serviceUpdateCommand } from './commands/service';
import { serviceInspectCommand, serviceLogsCommand, serviceLsCommand, servicePsCommand } from './commands/service-read';
import { stackDeployCommand, stackLsCommand, stackPsCommand, stackRmCommand, stackServicesCommand } from './commands/stack';
import { infoCommand, versionCommand } from './commands/system';
import { swarmInitCommand, swarmJoinCommand, swarmJoinTokenCommand, swarmLeaveCommand, swarmUpdateCommand } from './commands/swarm';
import { ApiClient, socketFromHost } from './api-client';
import { ApiContainerBackend } from './api-container-backend';
import { FlagError, FlagSpec, parseFlags } from './flags';
import { LocalBackend, LocalBackendOptions } from './local-backend';

/** Single containers and images: run in this process by the runtime (no shoald needed). */
const localCommands: Command[] = [runCommand, psCommand, logsCommand, stopCommand, rmCommand, inspectCommand, imagesCommand, rmiCommand, loadCommand, importCommand, pullCommand];

/** The swarm: clients of shoald's local API. Two-word names (`service create`) as docker's. */
const swarmCommands: Command[] = [
  swarmInitCommand, swarmJoinCommand, swarmJoinTokenCommand, swarmLeaveCommand, swarmUpdateCommand,
  nodeLsCommand, nodeInspectCommand, nodeUpdateCommand, nodePromoteCommand, nodeDemoteCommand, nodeRmCommand, nodePsCommand,
  serviceCreateCommand, serviceLsCommand, servicePsCommand, serviceInspectCommand, serviceLogsCommand, serviceScaleCommand,
  serviceUpdateCommand, serviceRollbackCommand, serviceRmCommand,
  stackDeployCommand, stackLsCommand, stackPsCommand, stackServicesCommand, stackRmCommand,
  eventsCommand, infoCommand, versionCommand,
];

const commands: Command[] = [...localCommands, ...swarmCommands];

/** Command groups (`shoal service ...`) and their summaries. */
const groups: Record<string, string> = { swarm: 'Manage the swarm', node: 'Manage swarm nodes', service: 'Manage swarm services', stack: 'Manage swarm stacks' };

/** Docker's two-word forms, mapped to the one-word commands. */
const aliases: Record<string, string> = {
  'image ls': 'images', 'image list': 'images', 'image rm': 'rmi', 'image load': 'load', 'image import': 'import',
  'image pull': 'pull', 'image inspect': 'inspect', 'container ls': 'ps', 'container list': 'ps', 'container run': 'run',
  'container logs': 'logs', 'container stop': 'stop', 'container rm': 'rm', 'container inspect': 'inspect',
  'service list': 'service ls', 'service remove': 'service rm', 'node list': 'node ls', 'node remove': 'node rm',
  'stack list': 'stack ls', 'stack remove': 'stack rm', 'system events': 'events', 'system info': 'info',
};

const globalFlags: FlagSpec[] = [
  { name: 'host', short: 'H', kind: 'value' },
  { name: 'data-root', kind: 'value' },
  { name: 'bridge', kind: 'value' },
  { name: 'bridge-subnet', kind: 'value' },
  { name: 'cgroup-parent', kind: 'value' },
  { name: 'ip-forward', kind: 'value' },
  { name: 'help', kind: 'bool' },
];

/** Global flags that choose the in-process runtime over shoald's. */
const localFlags = ['data-root', 'bridge', 'bridge-subnet', 'cgroup-parent', 'ip-forward'];

/** Where things are by default on a host (DESIGN.md §10); only the CLI and the daemon know these. */
const defaults = { dataRoot: '/var/lib/shoal', bridgeName: 'shoal0', bridgeSubnet: '10.88.0.0/16', cgroupParent: 'shoal' };

function usage(): string {
  const lines = [...localCommands, eventsCommand, infoCommand, versionCommand].map((c) => `  ${c.name.padEnd(9)} ${c.summary}`);
  return [
    'Usage: shoal [GLOBAL OPTIONS] COMMAND [ARGS...]',
    '',
    'Global options:',
    '  -H, --host unix:///PATH  the socket of shoald (default unix:///run/shoal/shoal.sock, or $SHOAL_HOST)',
    `  --data-root DIR        where images and containers live (default ${defaults.dataRoot})`,
    `  --bridge NAME          the node bridge for --network bridge (default ${defaults.bridgeName})`,
    `  --bridge-subnet CIDR   its address pool (default ${defaults.bridgeSubnet})`,
    `  --cgroup-parent NAME   parent cgroup of all containers (default ${defaults.cgroupParent})`,
    '  --ip-forward BOOL      turn on IPv4 forwarding for outbound traffic (default true)',
    '',
    'Swarm commands (talk to shoald):',
    ...Object.entries(groups).map(([g, summary]) => `  ${g.padEnd(9)} ${summary}`),
    '',
    'Commands:',
    ...lines,
    '',
    "Run 'shoal COMMAND --help' for a command's options.",
  ].join('\n') + '\n';
}

function groupUsage(group: string): string {
  const subs = commands.filter((c) => c.name.startsWith(`${group} `));
  return [`Usage: shoal ${group} COMMAND`, '', groups[group], '', 'Commands:', ...subs.map((c) => `  ${c.name.split(' ')[1].padEnd(11)} ${c.summary}`), '', `Run 'shoal ${group} COMMAND --help' for a command's options.`].join('\n') + '\n';
}

function commandHelp(c: Command): string {
  const flags = c.flags.map((f) => `  ${f.short === undefined ? '    ' : `-${f.short}, `}--${f.name}${f.kind === 'bool' ? '' : ' VALUE'}${f.kind === 'list' ? ' (repeatable)' : ''}`);
  return [`Usage: ${c.usage}`, '', c.summary, ...(flags.length > 0 ? ['', 'Options:', ...flags] : [])].join('\n') + '\n';
}

/** Splits argv into global flags, the command, and the command's own arguments. */
function splitCommand(argv: string[]): { global: ReturnType<typeof parseFlags>; command: Command | undefined; rest: string[]; group?: string } {
  const global = parseFlags(argv, globalFlags, { stopAtPositional: true, command: '' });
  let [name, ...rest] = global.args;
  if (name !== undefined && rest.length > 0 && aliases[`${name} ${rest[0]}`] !== undefined) {
    name = aliases[`${name} ${rest[0]}`];
    rest = rest.slice(1);
  }
  if (name === undefined) return { global, command: undefined, rest };
  if (groups[name] !== undefined) {
    const subs = commands.filter((c) => c.name.startsWith(`${name} `));
    const sub = rest[0];
    const command = subs.find((c) => c.name === `${name} ${sub}`);
    if (command !== undefined) return { global, command, rest: rest.slice(1) };
    if (sub === undefined || sub === '--help') return { global, command: undefined, rest, group: name };
    throw new FlagError(`unknown command: "shoal ${name} ${sub}"`, { hint: `one of: ${subs.map((c) => c.name.split(' ')[1]).join(', ')}` });
  }
  const command = commands.find((c) => c.name === name);
  if (!command) throw new FlagError(`unknown command: ${JSON.stringify(name)}`, { hint: "see 'shoal --help'" });
  return { global, command, rest };
}

function backendOptions(g: ReturnType<typeof parseFlags>): LocalBackendOptions {
  const ipForward = g.values.get('ip-forward') ?? 'true';
  if (ipForward !== 'true' && ipForward !== 'false') throw new FlagError(`invalid --ip-forward ${JSON.stringify(ipForward)}: expected true or false`);
  return {
    dataRoot: g.values.get('data-root') ?? defaults.dataRoot,
    bridgeName: g.values.get('bridge') ?? defaults.bridgeName,
    bridgeSubnet: g.values.get('bridge-subnet') ?? defaults.bridgeSubnet,
    cgroupParent: g.values.get('cgroup-parent') ?? defaults.cgroupParent,
    ipForward: ipForward === 'true',
  };
}

/** Runs one command line; resolves with the exit code. Never throws for a user's mistake. */
export async function main(argv: string[]): Promise<number> {
  let backend: Backend | undefined;
  let commandName = '';
  try {
    const { global, command, rest, group } = splitCommand(argv);
    if (group !== undefined) {
      process.stdout.write(groupUsage(group));
      return rest[0] === '--help' ? 0 : cliErrorExitCode;
    }
    if (command === undefined) {
      process.stdout.write(usage());
      return global.bools.has('help') ? 0 : cliErrorExitCode;
    }
    commandName = command.name;
    const f = parseFlags(rest, [...command.flags, { name: 'help', kind: 'bool' }], { stopAtPositional: command.stopAtPositional, command: command.name });
    if (f.bools.has('help')) { process.stdout.write(commandHelp(command)); return 0; }
    if (f.args.length < command.minArgs || (command.maxArgs !== undefined && f.args.length > command.maxArgs)) {
      const want = command.maxArgs === command.minArgs ? `exactly ${command.minArgs}` : command.maxArgs === undefined ? `at least ${command.minArgs}` : `at most ${command.maxArgs}`;
      throw new FlagError(`"shoal ${command.name}" requires ${want} argument${command.minArgs === 1 && command.maxArgs === 1 ? '' : 's'}, got ${f.args.length}`, { hint: `usage: ${command.usage}` });
    }
    const opts = backendOptions(global);
    const socketPath = socketFromHost(global.values.get('host') ?? process.env.SHOAL_HOST);
    let api: ApiClient | undefined;
    const ctx: CommandContext = {
      backend: async () => {
        const openLocal = async (): Promise<Backend> => {
          if (process.getuid?.() !== 0) throw new ShoalError('PermissionDenied', 'shoal runs containers with namespaces, cgroups and mounts, which needs root', { hint: `run it as root: sudo shoal ${command.name} ...` });
          return LocalBackend.open(opts);
        };
        // While shoald runs, containers go through it, so that the runtime is never opened by two
        // processes; flags naming a local data root (tests, a second root) keep this process's runtime.
        const explicitLocal = localFlags.some((k) => global.values.has(k));
        if (backend === undefined) backend = !explicitLocal && (await ctx.api().ping()) ? new ApiContainerBackend(ctx.api()) : await openLocal();
        return backend;
      },
      api: () => (api ??= new ApiClient(socketPath)),
      stdout: process.stdout,
      stdoutIsTTY: process.stdout.isTTY === true,
      stderr: process.stderr,
      stdin: process.stdin,
      env: process.env,
      cwd: process.cwd(),
      now: () => Date.now(),
      onSignal: (handler) => {
        process.on('SIGINT', handler);
        process.on('SIGTERM', handler);
        return () => { process.off('SIGINT', handler); process.off('SIGTERM', handler); };
      },
    };
    return await command.run(ctx, f);
  } catch (err) {
    printError(err, commandName);
    if (err instanceof CommandExitError) return err.exitCode;
    return ShoalError.is(err) && !(err instanceof FlagError) && commandName !== 'run' && commandName !== '' ? 1 : cliErrorExitCode;
  } finally {
    backend?.close();
  }
}

/** One line of cause, one of what to do; a stack trace only for what is not a user's mistake. */
function printError(err: unknown, command: string): void {
  const prefix = command === '' ? 'shoal' : `shoal ${command}`;
  if (ShoalError.is(err)) {
    const hint = err.hint ?? (err instanceof FlagError ? `see 'shoal ${command === '' ? '' : `${command} `}--help'` : undefined);
    process.stderr.write(`${prefix}: ${err.message.split('\n')[0]}\n${hint === undefined ? '' : `${sentence(hint)}\n`}`);
    return;
  }
  const e = err instanceof Error ? err : new Error(String(err));
  process.stderr.write(`${prefix}: unexpected error: ${e.message}\n${process.env.SHOAL_DEBUG ? `${e.stack}\n` : 'This is a bug in shoal; run again with SHOAL_DEBUG=1 for the stack trace and report it.\n'}`);
}

/** A hint as a sentence: capital first letter, one full stop (none after a command to type). */
function sentence(s: string): string {
  const t = `${s.charAt(0).toUpperCase()}${s.slice(1)}`;
  return t.endsWith('.') || t.includes(': ') ? t : `${t}.`;
}

if (require.main === module) {
  // `shoal service logs web | head`: a reader that went away ends the output, as for any Unix tool.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
