import * as fs from 'node:fs';
import * as path from 'node:path';
import { API_VERSION } from '../api-client';
import type { Command } from '../command';
import { checkTemplate, renderTemplate } from '../format';

// `shoal info` and `shoal version`: what shoald says about itself and its host, as docker's.

/** The CLI's own version, from the package it ships in. */
export function clientVersion(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../../../package.json'), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** GET /info, the fields `shoal info` prints. */
interface Info {
  Containers?: number; ContainersRunning?: number; ContainersStopped?: number; Images?: number; ServerVersion?: string;
  KernelVersion?: string; OperatingSystem?: string; Architecture?: string; NCPU?: number; MemTotal?: number; Name?: string;
  DockerRootDir?: string; CgroupVersion?: string;
  Swarm?: { LocalNodeState?: string; NodeID?: string; NodeAddr?: string; ControlAvailable?: boolean; Error?: string; Nodes?: number; Managers?: number; Cluster?: { ID?: string } };
}

/** Docker's `info` text, the parts shoal has. */
export function infoText(i: Info): string {
  const s = i.Swarm ?? {};
  const lines = [
    'Server:',
    ` Containers: ${i.Containers ?? 0}`,
    `  Running: ${i.ContainersRunning ?? 0}`,
    `  Stopped: ${i.ContainersStopped ?? 0}`,
    ` Images: ${i.Images ?? 0}`,
    ` Server Version: ${i.ServerVersion ?? ''}`,
    ...(i.CgroupVersion ? [` Cgroup Version: ${i.CgroupVersion}`] : []),
    ` Swarm: ${s.LocalNodeState ?? 'inactive'}`,
  ];
  if (s.LocalNodeState === 'active') {
    lines.push(`  NodeID: ${s.NodeID ?? ''}`, `  Is Manager: ${s.ControlAvailable === true}`);
    if (s.ControlAvailable === true) lines.push(`  ClusterID: ${s.Cluster?.ID ?? ''}`, `  Managers: ${s.Managers ?? 0}`, `  Nodes: ${s.Nodes ?? 0}`);
    lines.push(`  Node Address: ${s.NodeAddr ?? ''}`);
  }
  if (s.Error) lines.push(`  Error: ${s.Error}`);
  lines.push(
    ` Kernel Version: ${i.KernelVersion ?? ''}`,
    ` Operating System: ${i.OperatingSystem ?? ''}`,
    ` Architecture: ${i.Architecture ?? ''}`,
    ` CPUs: ${i.NCPU ?? 0}`,
    ` Total Memory: ${((i.MemTotal ?? 0) / 1024 ** 3).toFixed(2)}GiB`,
    ` Name: ${i.Name ?? ''}`,
    ` Shoal Root Dir: ${i.DockerRootDir ?? ''}`,
  );
  return `${lines.join('\n')}\n`;
}

/** `shoal info`. */
export const infoCommand: Command = {
  name: 'info',
  usage: 'shoal info [OPTIONS]',
  summary: 'Display system-wide information from shoald',
  flags: [{ name: 'format', short: 'f', kind: 'value' }],
  minArgs: 0,
  maxArgs: 0,
  async run(ctx, f) {
    const format = f.values.get('format');
    if (format !== undefined && format !== 'json') checkTemplate(format);
    const info = await ctx.api().get<Info>('/info');
    ctx.stdout.write(format === 'json' ? `${JSON.stringify(info)}\n` : format !== undefined ? `${renderTemplate(format, info)}\n` : infoText(info));
    return 0;
  },
};

/** `shoal version`: the CLI's version, then shoald's (an unreachable shoald is an error, as docker's). */
export const versionCommand: Command = {
  name: 'version',
  usage: 'shoal version [OPTIONS]',
  summary: 'Show the shoal and shoald versions',
  flags: [{ name: 'format', short: 'f', kind: 'value' }],
  minArgs: 0,
  maxArgs: 0,
  async run(ctx, f) {
    const format = f.values.get('format');
    if (format !== undefined && format !== 'json') checkTemplate(format);
    const client = { Version: clientVersion(), ApiVersion: API_VERSION, Os: process.platform, Arch: process.arch, NodeVersion: process.version };
    if (format === undefined) ctx.stdout.write(`Client:\n Version:     ${client.Version}\n API version: ${client.ApiVersion}\n Node.js:     ${client.NodeVersion}\n OS/Arch:     ${client.Os}/${client.Arch}\n\n`);
    const server = await ctx.api().get<{ Version?: string; ApiVersion?: string; Os?: string; Arch?: string; KernelVersion?: string }>('/version');
    const both = { Client: client, Server: server };
    if (format === 'json') ctx.stdout.write(`${JSON.stringify(both)}\n`);
    else if (format !== undefined) ctx.stdout.write(`${renderTemplate(format, both)}\n`);
    else ctx.stdout.write(`Server: shoald\n Version:     ${server.Version ?? ''}\n API version: ${server.ApiVersion ?? ''}\n OS/Arch:     ${server.Os ?? ''}/${server.Arch ?? ''}\n Kernel:      ${server.KernelVersion ?? ''}\n`);
    return 0;
  },
};
