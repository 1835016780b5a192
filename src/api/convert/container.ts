import type { ContainerConfig, MountSpec, PortMapping } from '../../runtime/container-config';
import { InvalidArgumentError } from '../../types/errors';
import type { ContainerSummary, CreateRequest, ImageRow } from '../container-backend';
import { obj, optBool, optInt, optObj, optStr, optStrList, optStrMap, type JsonObject } from './check';

/** The label through which the API remembers Docker's HostConfig.AutoRemove on a container. */
export const AUTO_REMOVE_LABEL = 'org.shoal.api.autoremove';

/** Docker's strslice: a string or a list of strings. */
function strSlice(v: unknown, path: string): string[] | undefined {
  if (typeof v === 'string') return [v];
  return optStrList(v, path);
}

function portBindings(v: unknown): PortMapping[] {
  const pb = optObj(v, 'HostConfig.PortBindings') ?? {};
  const out: PortMapping[] = [];
  for (const [key, bindings] of Object.entries(pb)) {
    const m = /^(\d+)(?:\/(tcp|udp))?$/.exec(key);
    if (m === null) throw new InvalidArgumentError(`HostConfig.PortBindings: invalid port ${JSON.stringify(key)}: expected <port>[/tcp|udp]`);
    const list = bindings === null ? [] : bindings;
    if (!Array.isArray(list)) throw new InvalidArgumentError(`HostConfig.PortBindings.${key}: expected list, got ${JSON.stringify(bindings)}`);
    list.forEach((b, i) => {
      const hostPortText = optStr(obj(b, `HostConfig.PortBindings.${key}[${i}]`).HostPort, `HostConfig.PortBindings.${key}[${i}].HostPort`) ?? '';
      if (!/^\d*$/.test(hostPortText)) throw new InvalidArgumentError(`HostConfig.PortBindings.${key}[${i}].HostPort: expected a port number, got ${JSON.stringify(hostPortText)}`);
      out.push({ containerPort: Number(m[1]), hostPort: hostPortText === '' ? 0 : Number(hostPortText), protocol: (m[2] ?? 'tcp') as 'tcp' | 'udp' });
    });
  }
  return out;
}

function binds(v: unknown): MountSpec[] {
  return (optStrList(v, 'HostConfig.Binds') ?? []).map((b, i) => {
    const parts = b.split(':');
    if (parts.length < 2 || parts.length > 3) throw new InvalidArgumentError(`HostConfig.Binds[${i}]: expected <source>:<target>[:ro], got ${JSON.stringify(b)}`);
    const readOnly = parts[2] === 'ro';
    return parts[0].startsWith('/') ? { type: 'bind', source: parts[0], target: parts[1], readOnly } : { type: 'volume', name: parts[0], target: parts[1], readOnly };
  });
}

/** Docker's container create body (`POST /containers/create`) as the container backend's request. */
export function createRequestFromDocker(body: unknown, name: string | undefined): CreateRequest {
  const b = optObj(body, 'body');
  if (b === undefined) throw new InvalidArgumentError('body: expected a container config object');
  const image = optStr(b.Image, 'Image') ?? '';
  if (image === '') throw new InvalidArgumentError('Image: an image is required');
  if (optBool(b.Tty, 'Tty') === true) throw new InvalidArgumentError('Tty: a TTY is not supported by shoal: run the container without -t');
  if (optBool(b.OpenStdin, 'OpenStdin') === true) throw new InvalidArgumentError('OpenStdin: stdin is not supported by shoal: run the container without -i');
  const hc = obj(b.HostConfig, 'HostConfig');
  const config: Omit<ContainerConfig, 'cmd'> = {};
  const env = optStrList(b.Env, 'Env');
  const workingDir = optStr(b.WorkingDir, 'WorkingDir');
  const user = optStr(b.User, 'User');
  const hostname = optStr(b.Hostname, 'Hostname');
  const labels = { ...optStrMap(b.Labels, 'Labels') };
  const stopTimeout = optInt(b.StopTimeout, 'StopTimeout', 0);
  const stopSignal = optStr(b.StopSignal, 'StopSignal');
  const memoryBytes = optInt(hc.Memory, 'HostConfig.Memory', 0);
  const nanoCpus = optInt(hc.NanoCpus, 'HostConfig.NanoCpus', 0);
  const pidsLimit = optInt(hc.PidsLimit, 'HostConfig.PidsLimit');
  const network = optStr(hc.NetworkMode, 'HostConfig.NetworkMode');
  if (network !== undefined && !['', 'default', 'bridge', 'host', 'none'].includes(network)) throw new InvalidArgumentError(`HostConfig.NetworkMode: expected one of "bridge", "host", "none", got ${JSON.stringify(network)}`);
  if (optBool(hc.AutoRemove, 'HostConfig.AutoRemove') === true) labels[AUTO_REMOVE_LABEL] = 'true';
  if (env !== undefined) config.env = env;
  if (workingDir !== undefined && workingDir !== '') config.workingDir = workingDir;
  if (user !== undefined && user !== '') config.user = user;
  if (hostname !== undefined && hostname !== '') config.hostname = hostname;
  if (stopTimeout !== undefined) config.stopGraceMs = stopTimeout * 1000;
  if (stopSignal !== undefined && stopSignal !== '') config.stopSignal = stopSignal;
  if (memoryBytes || nanoCpus || (pidsLimit !== undefined && pidsLimit > 0)) {
    config.limits = { ...(memoryBytes ? { memoryBytes } : {}), ...(nanoCpus ? { nanoCpus } : {}), ...(pidsLimit !== undefined && pidsLimit > 0 ? { pidsLimit } : {}) };
  }
  if (network !== undefined && network !== '' && network !== 'default') config.network = network as ContainerConfig['network'];
  const ports = portBindings(hc.PortBindings);
  if (ports.length > 0) config.ports = ports;
  const mounts = binds(hc.Binds);
  if (mounts.length > 0) config.mounts = mounts;
  if (optBool(hc.Init, 'HostConfig.Init') === true) config.init = true;
  if (optBool(hc.ReadonlyRootfs, 'HostConfig.ReadonlyRootfs') === true) config.readOnlyRootfs = true;
  if (Object.keys(labels).length > 0) config.labels = labels;
  const entrypoint = strSlice(b.Entrypoint, 'Entrypoint');
  return { image, ...(name !== undefined && name !== '' ? { name: name.replace(/^\//, '') } : {}), cmd: strSlice(b.Cmd, 'Cmd') ?? [], ...(entrypoint !== undefined ? { entrypoint } : {}), config };
}

function ago(iso: string | undefined, now: number): string {
  const s = iso === undefined ? 0 : Math.max(0, Math.floor((now - Date.parse(iso)) / 1000));
  if (s < 60) return s <= 1 ? 'Less than a second' : `${s} seconds`;
  if (s < 3600) return `${Math.floor(s / 60)} minutes`;
  if (s < 86400) return `${Math.floor(s / 3600)} hours`;
  return `${Math.floor(s / 86400)} days`;
}

/** Docker's `/containers/json` row. */
export function containerRowToDocker(c: ContainerSummary, now = Date.now()): JsonObject {
  const status = c.status === 'running' ? `Up ${ago(c.startedAt, now)}` : c.status === 'exited' ? `Exited (${c.exitCode ?? 0}) ${ago(c.finishedAt, now)} ago` : 'Created';
  return {
    Id: c.id,
    Names: [`/${c.name}`],
    Image: c.image,
    ImageID: '',
    Command: c.command.join(' '),
    Created: Math.floor(Date.parse(c.createdAt) / 1000),
    Ports: c.ports.map((p) => ({ IP: '0.0.0.0', PrivatePort: p.containerPort, PublicPort: p.hostPort, Type: p.protocol })),
    Labels: {},
    State: c.status,
    Status: status,
    HostConfig: { NetworkMode: 'default' },
    NetworkSettings: { Networks: {} },
    Mounts: [],
  };
}

/** Docker's container inspect object, from the runtime's (duck-typed) inspect record. */
export function containerInspectToDocker(raw: unknown, s: ContainerSummary): JsonObject {
  const info = (typeof raw === 'object' && raw !== null ? raw : {}) as { pid?: number; error?: string; config?: Partial<ContainerConfig> };
  const cfg = info.config ?? {};
  const labels = { ...cfg.labels };
  return {
    Id: s.id,
    Created: s.createdAt,
    Path: s.command[0] ?? '',
    Args: s.command.slice(1),
    State: {
      Status: s.status, Running: s.status === 'running', Paused: false, Restarting: false, OOMKilled: s.oomKilled ?? false, Dead: false,
      Pid: s.status === 'running' ? info.pid ?? 0 : 0, ExitCode: s.exitCode ?? 0, Error: info.error ?? '',
      StartedAt: s.startedAt ?? '0001-01-01T00:00:00Z', FinishedAt: s.finishedAt ?? '0001-01-01T00:00:00Z',
    },
    Image: s.image,
    Name: `/${s.name}`,
    RestartCount: 0,
    Driver: 'overlay2',
    Platform: 'linux',
    HostConfig: {
      Memory: cfg.limits?.memoryBytes ?? 0, NanoCpus: cfg.limits?.nanoCpus ?? 0, AutoRemove: labels[AUTO_REMOVE_LABEL] === 'true',
      NetworkMode: cfg.network ?? 'bridge',
      PortBindings: Object.fromEntries(s.ports.map((p) => [`${p.containerPort}/${p.protocol}`, [{ HostIp: '', HostPort: String(p.hostPort) }]])),
    },
    Config: {
      Hostname: cfg.hostname ?? '', User: cfg.user ?? '', Env: cfg.env ?? [], Cmd: s.command, Image: s.image, WorkingDir: cfg.workingDir ?? '',
      Labels: labels, Tty: false, OpenStdin: false, AttachStdout: false, AttachStderr: false,
    },
    Mounts: [],
    NetworkSettings: { Ports: {}, Networks: {} },
  };
}

/** Docker's `/images/json` row. */
export function imageRowToDocker(i: ImageRow): JsonObject {
  return {
    Id: i.id.startsWith('sha256:') ? i.id : `sha256:${i.id}`,
    ParentId: '',
    RepoTags: i.references.length > 0 ? i.references : ['<none>:<none>'],
    RepoDigests: [],
    Created: i.created === undefined ? 0 : Math.floor(Date.parse(i.created) / 1000),
    Size: i.size,
    VirtualSize: i.size,
    SharedSize: -1,
    Labels: {},
    Containers: -1,
  };
}

/** Docker's image inspect object, from the image store's (duck-typed) resolved image and its list row. */
export function imageInspectToDocker(raw: unknown, row: ImageRow | undefined): JsonObject {
  const img = (typeof raw === 'object' && raw !== null ? raw : {}) as { id?: string; config?: Record<string, unknown>; layerDirs?: string[] };
  const id = img.id ?? row?.id ?? '';
  const cfg = img.config ?? {};
  return {
    Id: id.startsWith('sha256:') ? id : `sha256:${id}`,
    RepoTags: row?.references ?? [],
    RepoDigests: [],
    Parent: '',
    Comment: '',
    Created: row?.created ?? '0001-01-01T00:00:00Z',
    Config: {
      Cmd: cfg.Cmd ?? null, Entrypoint: cfg.Entrypoint ?? null, Env: cfg.Env ?? null, WorkingDir: cfg.WorkingDir ?? '', User: cfg.User ?? '',
      Labels: cfg.Labels ?? null, StopSignal: cfg.StopSignal, ExposedPorts: cfg.ExposedPorts,
    },
    Architecture: 'amd64',
    Os: 'linux',
    Size: row?.size ?? 0,
    VirtualSize: row?.size ?? 0,
    RootFS: { Type: 'layers', Layers: [] },
  };
}
