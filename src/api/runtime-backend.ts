import { BridgeNetwork } from '../runtime/bridge-network';
import { ContainerConfig } from '../runtime/container-config';
import { LogEntry, LogOptions } from '../runtime/container-logs';
import { ContainerRuntime } from '../runtime/container-runtime';
import { ContainerInfo } from '../runtime/container-state';
import { ImageStore, RunConfig } from '../runtime/image';
import { InvalidArgumentError } from '../types/errors';
import { Backend, ContainerSummary, CreateRequest, ImageRow } from './container-backend';

/** A lock the backend takes around runtime changes and drops while it waits on a container (the CLI's data-root lock). */
export interface BackendLock {
  acquire(): Promise<void>;
  release(): void;
}

/** The lock of a process that owns the runtime alone (shoald): nothing to take. */
export const noLock: BackendLock = { acquire: () => Promise.resolve(), release: () => undefined };

/** Labels through which a container remembers its image (the runtime itself knows only layer dirs). */
const imageLabel = 'org.shoal.image';
const imageIdLabel = 'org.shoal.image.id';

/**
 * Single containers and images over a runtime and an image store in this process: the CLI's
 * in-process backend (with its data-root lock) and shoald's (sharing the daemon's runtime).
 * Containers outlive it (their monitors belong to the per-node shim server).
 */
export class RuntimeBackend implements Backend {
  constructor(
    protected readonly rt: ContainerRuntime,
    protected readonly images: ImageStore,
    protected readonly bridge: BridgeNetwork,
    protected readonly lock: BackendLock = noLock,
    /** Whether close() closes the runtime (false when its owner closes it). */
    private readonly ownsRuntime = true,
  ) {}

  async createContainer(req: CreateRequest): Promise<string> {
    await this.lock.acquire();
    const img = await this.images.resolve(req.image);
    const config = mergeImageConfig(req, img.config);
    config.labels = { ...img.config.Labels, ...req.config.labels, [imageLabel]: req.image, [imageIdLabel]: img.id };
    if ((config.network ?? 'bridge') === 'bridge') await this.bridge.setup();
    return this.rt.create({ layerDirs: img.layerDirs, config, name: req.name });
  }

  async startContainer(id: string): Promise<void> {
    await this.lock.acquire();
    await this.rt.start(id);
  }

  async waitContainer(ref: string): Promise<ContainerSummary> {
    // Another command may run meanwhile (docker ps in a second terminal); this one re-locks after.
    this.lock.release();
    const st = await this.rt.wait(ref);
    await this.lock.acquire();
    return summary({ ...st, config: this.rt.inspect(st.id).config });
  }

  listContainers(): Promise<ContainerSummary[]> {
    return Promise.resolve(this.rt.list().map((s) => summary(this.rt.inspect(s.id))));
  }

  inspectContainer(ref: string): Promise<unknown> {
    return Promise.resolve(this.rt.inspect(ref));
  }

  containerLogs(ref: string, opts: LogOptions): AsyncIterable<LogEntry> {
    if (opts.follow) this.lock.release();
    return this.rt.logs(ref, opts);
  }

  async stopContainer(ref: string, graceMs?: number): Promise<ContainerSummary> {
    const st = await this.rt.stop(ref, graceMs);
    return summary({ ...st, config: this.rt.inspect(st.id).config });
  }

  async removeContainer(ref: string, force: boolean): Promise<ContainerSummary> {
    await this.lock.acquire();
    const s = summary(this.rt.inspect(ref));
    await this.rt.remove(ref, { force });
    await this.rt.settle();
    return s;
  }

  async listImages(): Promise<ImageRow[]> {
    return (await this.images.list()).map((i) => ({ references: i.references, id: i.id, size: i.size, created: i.created }));
  }

  inspectImage(ref: string): Promise<unknown> {
    return this.images.resolve(ref);
  }

  removeImage(ref: string): Promise<{ untagged: string[]; deleted: string | undefined }> {
    const inUse = (id: string): boolean => this.rt.list().some((c) => this.rt.inspect(c.id).config.labels?.[imageIdLabel] === id);
    return this.images.remove(ref, inUse);
  }

  loadImages(tarball: string): Promise<{ id: string; references: string[] }[]> {
    return this.images.load(tarball);
  }

  importImage(tarball: string, reference: string): Promise<{ id: string; references: string[] }> {
    return this.images.importRootfs(tarball, reference);
  }

  pullImage(reference: string): Promise<{ id: string; references: string[] }> {
    return this.images.pull(reference);
  }

  close(): void {
    if (this.ownsRuntime) this.rt.close();
    this.lock.release();
  }
}

/** Docker's rules: --entrypoint replaces the image's entrypoint and drops its Cmd; a given command replaces Cmd. */
export function mergeImageConfig(req: CreateRequest, img: RunConfig): ContainerConfig {
  const entrypoint = req.entrypoint ?? img.Entrypoint ?? [];
  const cmd = req.cmd.length > 0 ? req.cmd : req.entrypoint !== undefined ? [] : (img.Cmd ?? []);
  const argv = [...entrypoint, ...cmd];
  if (argv.length === 0) throw new InvalidArgumentError(`no command specified: image ${req.image} has no Cmd or Entrypoint`, { hint: `give one: shoal run ${req.image} COMMAND` });
  const env = new Map<string, string>();
  for (const e of [...(img.Env ?? []), ...(req.config.env ?? [])]) env.set(e.split('=', 1)[0], e);
  const c: ContainerConfig = { ...req.config, cmd: argv, env: [...env.values()] };
  if (c.workingDir === undefined && img.WorkingDir) c.workingDir = img.WorkingDir;
  if (c.user === undefined && img.User) c.user = img.User;
  if (c.stopSignal === undefined && img.StopSignal) c.stopSignal = img.StopSignal;
  return c;
}

function summary(c: ContainerInfo): ContainerSummary {
  return {
    id: c.id,
    name: c.name,
    image: c.config.labels?.[imageLabel] ?? '<unknown>',
    command: c.config.cmd,
    createdAt: c.createdAt,
    status: c.status,
    startedAt: c.startedAt,
    finishedAt: c.finishedAt,
    exitCode: c.exitCode,
    oomKilled: c.oomKilled,
    ports: c.network?.ports ?? c.config.ports ?? [],
  };
}
