import * as fs from 'node:fs';
import type { Backend, ContainerSummary, CreateRequest, ImageRow } from '../api/container-backend';
import type { PortMapping } from '../runtime/container-config';
import type { LogEntry, LogOptions } from '../runtime/container-logs';
import { ApiClient } from './api-client';
import { LogDemuxer } from './commands/service-read';

// Single containers through shoald's local API (Docker's /containers and /images endpoints),
// used while shoald runs so that the CLI never opens the runtime under a running daemon.

/** Docker's container inspect object, the fields read here. */
interface DContainer {
  Id: string;
  Name?: string;
  Created?: string;
  Path?: string;
  Args?: string[];
  Image?: string;
  State?: { Status?: string; ExitCode?: number; OOMKilled?: boolean; StartedAt?: string; FinishedAt?: string };
  HostConfig?: { PortBindings?: Record<string, { HostPort?: string }[] | null> };
}

const zeroTime = (t: string | undefined): string | undefined => (t === undefined || t.startsWith('0001-') ? undefined : t);

/** A container summary from Docker's inspect object. */
export function summaryFromDocker(c: DContainer): ContainerSummary {
  const ports: PortMapping[] = [];
  for (const [key, bindings] of Object.entries(c.HostConfig?.PortBindings ?? {})) {
    const [port, proto = 'tcp'] = key.split('/');
    for (const b of bindings ?? []) ports.push({ containerPort: Number(port), hostPort: Number(b.HostPort ?? 0), protocol: proto === 'udp' ? 'udp' : 'tcp' });
  }
  const status = c.State?.Status === 'running' ? 'running' : c.State?.Status === 'created' ? 'created' : 'exited';
  return {
    id: c.Id,
    name: (c.Name ?? '').replace(/^\//, ''),
    image: c.Image ?? '',
    command: [...(c.Path ? [c.Path] : []), ...(c.Args ?? [])],
    createdAt: c.Created ?? new Date(0).toISOString(),
    status,
    ...(zeroTime(c.State?.StartedAt) !== undefined ? { startedAt: c.State!.StartedAt } : {}),
    ...(zeroTime(c.State?.FinishedAt) !== undefined ? { finishedAt: c.State!.FinishedAt } : {}),
    ...(status === 'exited' ? { exitCode: c.State?.ExitCode ?? 0 } : {}),
    ...(c.State?.OOMKilled === true ? { oomKilled: true } : {}),
    ports,
  };
}

/** Docker's container create body from the CLI's request. */
export function createBody(req: CreateRequest): Record<string, unknown> {
  const c = req.config;
  const portBindings: Record<string, { HostPort: string }[]> = {};
  for (const p of c.ports ?? []) (portBindings[`${p.containerPort}/${p.protocol}`] ??= []).push({ HostPort: String(p.hostPort) });
  const binds = (c.mounts ?? []).flatMap((m) => (m.type === 'tmpfs' ? [] : [`${m.type === 'bind' ? m.source : m.name}:${m.target}${m.readOnly === true ? ':ro' : ''}`]));
  return {
    Image: req.image,
    ...(req.cmd.length > 0 ? { Cmd: req.cmd } : {}),
    ...(req.entrypoint !== undefined ? { Entrypoint: req.entrypoint } : {}),
    ...(c.env !== undefined ? { Env: c.env } : {}),
    ...(c.workingDir !== undefined ? { WorkingDir: c.workingDir } : {}),
    ...(c.user !== undefined ? { User: c.user } : {}),
    ...(c.hostname !== undefined ? { Hostname: c.hostname } : {}),
    ...(c.labels !== undefined ? { Labels: c.labels } : {}),
    ...(c.stopGraceMs !== undefined ? { StopTimeout: Math.round(c.stopGraceMs / 1000) } : {}),
    ...(c.stopSignal !== undefined ? { StopSignal: c.stopSignal } : {}),
    HostConfig: {
      NetworkMode: c.network ?? 'bridge',
      PortBindings: portBindings,
      Binds: binds,
      ...(c.limits?.memoryBytes !== undefined ? { Memory: c.limits.memoryBytes } : {}),
      ...(c.limits?.nanoCpus !== undefined ? { NanoCpus: c.limits.nanoCpus } : {}),
      ...(c.limits?.pidsLimit !== undefined ? { PidsLimit: c.limits.pidsLimit } : {}),
      Init: c.init === true,
      ReadonlyRootfs: c.readOnlyRootfs === true,
    },
  };
}

/** The `Backend` of the container commands, served by shoald. */
export class ApiContainerBackend implements Backend {
  constructor(private readonly api: ApiClient) {}

  private path(ref: string, rest = ''): string {
    return `/containers/${encodeURIComponent(ref)}${rest}`;
  }

  private async summary(ref: string): Promise<ContainerSummary> {
    return summaryFromDocker(await this.api.get<DContainer>(this.path(ref, '/json')));
  }

  async createContainer(req: CreateRequest): Promise<string> {
    const r = await this.api.post<{ Id: string }>('/containers/create', createBody(req), { name: req.name });
    return r.Id;
  }

  async startContainer(id: string): Promise<void> {
    await this.api.post<unknown>(this.path(id, '/start'));
  }

  async waitContainer(ref: string): Promise<ContainerSummary> {
    await this.api.request<unknown>('POST', this.path(ref, '/wait'), undefined, undefined, true);
    return this.summary(ref);
  }

  async listContainers(): Promise<ContainerSummary[]> {
    const rows = (await this.api.get<{ Id: string }[]>('/containers/json', { all: true })) ?? [];
    const out: ContainerSummary[] = [];
    for (const r of rows) out.push(await this.summary(r.Id));
    return out;
  }

  inspectContainer(ref: string): Promise<unknown> {
    return this.api.get<unknown>(this.path(ref, '/json'));
  }

  async *containerLogs(ref: string, opts: LogOptions): AsyncIterable<LogEntry> {
    const ac = new AbortController();
    const body = await this.api.stream(this.path(ref, '/logs'), {
      stdout: true, stderr: true, timestamps: true, follow: opts.follow === true, tail: opts.tail,
      since: opts.sinceMs === undefined ? undefined : (opts.sinceMs / 1000).toFixed(3),
    }, ac.signal);
    const demux = new LogDemuxer();
    const carry = { stdout: '', stderr: '' };
    try {
      for await (const chunk of body) {
        for (const part of demux.push(chunk)) {
          const parts = (carry[part.stream] + part.text).split('\n');
          carry[part.stream] = parts.pop() ?? '';
          for (const l of parts) {
            const sp = l.indexOf(' ');
            yield { stream: part.stream, time: sp < 0 ? '' : l.slice(0, sp), line: sp < 0 ? l : l.slice(sp + 1) };
          }
        }
      }
    } finally {
      ac.abort();
    }
  }

  async stopContainer(ref: string, graceMs?: number): Promise<ContainerSummary> {
    await this.api.post<unknown>(this.path(ref, '/stop'), undefined, { t: graceMs === undefined ? undefined : Math.round(graceMs / 1000) });
    return this.summary(ref);
  }

  async removeContainer(ref: string, force: boolean): Promise<ContainerSummary> {
    const s = await this.summary(ref);
    await this.api.delete(this.path(s.id), { force });
    return s;
  }

  async listImages(): Promise<ImageRow[]> {
    const rows = (await this.api.get<{ Id: string; RepoTags?: string[] | null; Size?: number; Created?: number }[]>('/images/json')) ?? [];
    return rows.map((r) => ({
      references: (r.RepoTags ?? []).filter((t) => t !== '<none>:<none>'),
      id: r.Id,
      size: r.Size ?? 0,
      created: r.Created ? new Date(r.Created * 1000).toISOString() : undefined,
    }));
  }

  async loadImages(tarball: string): Promise<{ id: string; references: string[] }[]> {
    const text = await this.api.upload('/images/load', fs.createReadStream(tarball), 'application/x-tar');
    const out: { id: string; references: string[] }[] = [];
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      const m = /^Loaded image(?: ID)?: (\S+)/.exec((JSON.parse(line) as { stream?: string }).stream ?? '');
      if (m === null) continue;
      if (/^Loaded image ID/.test((JSON.parse(line) as { stream: string }).stream)) out.push({ id: m[1], references: [] });
      else out.push({ id: '', references: [m[1]] });
    }
    return out;
  }

  /** Docker's image inspect object, as shoald serves it. */
  async inspectImage(ref: string): Promise<unknown> {
    return this.api.get<unknown>(`/images/${encodeURIComponent(ref)}/json`);
  }

  async removeImage(ref: string): Promise<{ untagged: string[]; deleted: string | undefined }> {
    const rows = await this.api.request<{ Untagged?: string; Deleted?: string }[]>('DELETE', `/images/${encodeURIComponent(ref)}`, undefined, undefined);
    return {
      untagged: (rows ?? []).flatMap((r) => (r.Untagged !== undefined ? [r.Untagged] : [])),
      deleted: (rows ?? []).find((r) => r.Deleted !== undefined)?.Deleted?.replace(/^sha256:/, ''),
    };
  }

  async importImage(tarball: string, reference: string): Promise<{ id: string; references: string[] }> {
    const { repo, tag } = splitReference(reference);
    const text = await this.api.upload('/images/create', fs.createReadStream(tarball), 'application/x-tar', { fromSrc: '-', repo, tag });
    return { id: lastStatus(text), references: [reference] };
  }

  async pullImage(reference: string): Promise<{ id: string; references: string[] }> {
    const { repo, tag } = splitReference(reference);
    const text = await this.api.request<unknown>('POST', '/images/create', { fromImage: repo, tag }, undefined, true).then((v) => (typeof v === 'string' ? v : JSON.stringify(v ?? '')));
    const digest = /Digest: (\S+)/.exec(text);
    return { id: digest?.[1] ?? '', references: [reference] };
  }

  close(): void {
    // Nothing held: every call is one request.
  }
}

/** repo and tag of a reference (`name:tag`, `name@digest` or `name`), as the images/create endpoint takes them. */
function splitReference(reference: string): { repo: string; tag: string | undefined } {
  const at = reference.indexOf('@');
  if (at >= 0) return { repo: reference.slice(0, at), tag: reference.slice(at + 1) };
  const colon = reference.lastIndexOf(':');
  return colon > reference.lastIndexOf('/') ? { repo: reference.slice(0, colon), tag: reference.slice(colon + 1) } : { repo: reference, tag: undefined };
}

/** The last `status` of a stream of Docker progress messages (an import's image id). */
function lastStatus(text: string): string {
  let out = '';
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const m = JSON.parse(line) as { status?: string; error?: string };
      if (m.error !== undefined) throw new Error(m.error);
      if (m.status !== undefined) out = m.status;
    } catch (err) {
      if (err instanceof SyntaxError) continue;
      throw err;
    }
  }
  return out;
}
