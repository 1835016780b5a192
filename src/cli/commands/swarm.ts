import type { Command, CommandContext } from '../command';
import type { DInfo, DSwarm, DSwarmSpec } from '../docker-types';
import { FlagError } from '../flags';
import { parseCount, parseDurationNs } from '../units';

// `shoal swarm init|join|join-token|leave|update`, with docker's flags and messages.

function info(ctx: CommandContext): Promise<DInfo> {
  return ctx.api().get<DInfo>('/info');
}

/** The address other nodes join at: this manager's advertised address, as docker prints it. */
async function joinAddr(ctx: CommandContext): Promise<string> {
  const i = await info(ctx);
  const self = i.Swarm.RemoteManagers?.find((m) => m.NodeID === i.Swarm.NodeID);
  if (self !== undefined) return self.Addr;
  const addr = i.Swarm.NodeAddr;
  return addr.includes(':') ? addr : `${addr}:2377`;
}

/** The join command for a role, as `docker swarm join-token` prints it. */
async function joinInstructions(ctx: CommandContext, role: 'worker' | 'manager', swarm: DSwarm): Promise<string> {
  const token = role === 'worker' ? swarm.JoinTokens.Worker : swarm.JoinTokens.Manager;
  return `To add a ${role} to this swarm, run the following command:\n\n    shoal swarm join --token ${token} ${await joinAddr(ctx)}\n\n`;
}

/** `shoal swarm init`. */
export const swarmInitCommand: Command = {
  name: 'swarm init',
  usage: 'shoal swarm init [OPTIONS]',
  summary: 'Initialize a swarm',
  flags: [{ name: 'advertise-addr', kind: 'value' }, { name: 'listen-addr', kind: 'value' }, { name: 'force-new-cluster', kind: 'bool' }],
  minArgs: 0,
  maxArgs: 0,
  async run(ctx, f) {
    const nodeId = await ctx.api().post<string>('/swarm/init', {
      ListenAddr: f.values.get('listen-addr') ?? '0.0.0.0:2377',
      AdvertiseAddr: f.values.get('advertise-addr') ?? '',
      ForceNewCluster: f.bools.has('force-new-cluster'),
      Spec: {},
    });
    const swarm = await ctx.api().get<DSwarm>('/swarm');
    ctx.stdout.write(`Swarm initialized: current node (${String(nodeId)}) is now a manager.\n\n${await joinInstructions(ctx, 'worker', swarm)}`
      + "To add a manager to this swarm, run 'shoal swarm join-token manager' and follow the instructions.\n\n");
    return 0;
  },
};

/** `shoal swarm join --token T HOST:PORT`. */
export const swarmJoinCommand: Command = {
  name: 'swarm join',
  usage: 'shoal swarm join [OPTIONS] HOST:PORT',
  summary: 'Join a swarm as a node and/or manager',
  flags: [{ name: 'token', kind: 'value' }, { name: 'advertise-addr', kind: 'value' }, { name: 'listen-addr', kind: 'value' }],
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, f) {
    const token = f.values.get('token');
    if (token === undefined || token === '') throw new FlagError('--token is required to join a swarm', { hint: "get it on a manager with: shoal swarm join-token worker" });
    await ctx.api().post<unknown>('/swarm/join', {
      ListenAddr: f.values.get('listen-addr') ?? '0.0.0.0:2377',
      AdvertiseAddr: f.values.get('advertise-addr') ?? '',
      RemoteAddrs: [f.args[0]],
      JoinToken: token,
    });
    const i = await info(ctx);
    ctx.stdout.write(i.Swarm.ControlAvailable ? 'This node joined a swarm as a manager.\n' : 'This node joined a swarm as a worker.\n');
    return 0;
  },
};

/** `shoal swarm join-token [-q] [--rotate] worker|manager`. */
export const swarmJoinTokenCommand: Command = {
  name: 'swarm join-token',
  usage: 'shoal swarm join-token [OPTIONS] (worker|manager)',
  summary: 'Manage join tokens',
  flags: [{ name: 'quiet', short: 'q', kind: 'bool' }, { name: 'rotate', kind: 'bool' }],
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, f) {
    const role = f.args[0];
    if (role !== 'worker' && role !== 'manager') throw new FlagError(`unknown role ${JSON.stringify(role)}: expected worker or manager`);
    let swarm = await ctx.api().get<DSwarm>('/swarm');
    if (f.bools.has('rotate')) {
      await ctx.api().post<unknown>('/swarm/update', swarm.Spec, { version: swarm.Version.Index, rotateWorkerToken: role === 'worker', rotateManagerToken: role === 'manager' });
      swarm = await ctx.api().get<DSwarm>('/swarm');
      if (!f.bools.has('quiet')) ctx.stdout.write(`Successfully rotated ${role} join token.\n\n`);
    }
    if (f.bools.has('quiet')) {
      ctx.stdout.write(`${role === 'worker' ? swarm.JoinTokens.Worker : swarm.JoinTokens.Manager}\n`);
      return 0;
    }
    ctx.stdout.write(await joinInstructions(ctx, role, swarm));
    return 0;
  },
};

/** `shoal swarm leave [--force]`. */
export const swarmLeaveCommand: Command = {
  name: 'swarm leave',
  usage: 'shoal swarm leave [OPTIONS]',
  summary: 'Leave the swarm',
  flags: [{ name: 'force', short: 'f', kind: 'bool' }],
  minArgs: 0,
  maxArgs: 0,
  async run(ctx, f) {
    await ctx.api().post<unknown>('/swarm/leave', undefined, { force: f.bools.has('force') });
    ctx.stdout.write('Node left the swarm.\n');
    return 0;
  },
};

/** Applies `swarm update` flags to the swarm's spec; returns the new spec. */
export function swarmSpecUpdate(spec: DSwarmSpec, values: ReadonlyMap<string, string>): DSwarmSpec {
  const out: DSwarmSpec = { ...spec };
  const v = (n: string): string | undefined => values.get(n);
  if (v('task-history-limit') !== undefined) out.Orchestration = { ...spec.Orchestration, TaskHistoryRetentionLimit: parseCount('--task-history-limit', v('task-history-limit')!) };
  if (v('dispatcher-heartbeat') !== undefined) {
    const ns = parseDurationNs('--dispatcher-heartbeat', v('dispatcher-heartbeat')!);
    if (ns <= 0) throw new FlagError(`invalid --dispatcher-heartbeat ${JSON.stringify(v('dispatcher-heartbeat'))}: must be more than 0`);
    out.Dispatcher = { ...spec.Dispatcher, HeartbeatPeriod: ns };
  }
  if (v('cert-expiry') !== undefined) {
    const ns = parseDurationNs('--cert-expiry', v('cert-expiry')!);
    if (ns <= 0) throw new FlagError(`invalid --cert-expiry ${JSON.stringify(v('cert-expiry'))}: must be more than 0`);
    out.CAConfig = { ...spec.CAConfig, NodeCertExpiry: ns };
  }
  return out;
}

/** `shoal swarm update`. */
export const swarmUpdateCommand: Command = {
  name: 'swarm update',
  usage: 'shoal swarm update [OPTIONS]',
  summary: 'Update the swarm',
  flags: [{ name: 'task-history-limit', kind: 'value' }, { name: 'dispatcher-heartbeat', kind: 'value' }, { name: 'cert-expiry', kind: 'value' }],
  minArgs: 0,
  maxArgs: 0,
  async run(ctx, f) {
    const swarm = await ctx.api().get<DSwarm>('/swarm');
    const spec = swarmSpecUpdate(swarm.Spec, f.values);
    await ctx.api().post<unknown>('/swarm/update', spec, { version: swarm.Version.Index });
    ctx.stdout.write('Swarm updated.\n');
    return 0;
  },
};
