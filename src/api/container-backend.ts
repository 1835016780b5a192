import { ContainerConfig, PortMapping } from '../runtime/container-config';
import { LogEntry, LogOptions } from '../runtime/container-logs';

/**
 * What the commands need from whoever runs containers and holds images. Today the CLI runs
 * the runtime in-process (local-backend.ts); shoald's local API (src/api) serves the same
 * interface, and no command has to change.
 */
export interface Backend {
  /** Creates a container from an image; `cmd` (empty: the image's) and `entrypoint` override the image's. */
  createContainer(req: CreateRequest): Promise<string>;
  startContainer(id: string): Promise<void>;
  /** Resolves once the container has exited. May run long: implementations release shared locks meanwhile. */
  waitContainer(ref: string): Promise<ContainerSummary>;
  listContainers(): Promise<ContainerSummary[]>;
  inspectContainer(ref: string): Promise<unknown>;
  /** The container's log; with follow, until it exits. */
  containerLogs(ref: string, opts: LogOptions): AsyncIterable<LogEntry>;
  stopContainer(ref: string, graceMs?: number): Promise<ContainerSummary>;
  removeContainer(ref: string, force: boolean): Promise<ContainerSummary>;
  listImages(): Promise<ImageRow[]>;
  inspectImage(ref: string): Promise<unknown>;
  removeImage(ref: string): Promise<{ untagged: string[]; deleted: string | undefined }>;
  loadImages(tarball: string): Promise<{ id: string; references: string[] }[]>;
  importImage(tarball: string, reference: string): Promise<{ id: string; references: string[] }>;
  pullImage(reference: string): Promise<{ id: string; references: string[] }>;
  /** Frees what the backend holds in this process (containers keep running). */
  close(): void;
}

/** A container to create: the image, its command overrides, and everything else of its config. */
export interface CreateRequest {
  image: string;
  name?: string;
  cmd: string[];
  entrypoint?: string[];
  config: Omit<ContainerConfig, 'cmd'>;
}

/** One container as `ps` shows it. */
export interface ContainerSummary {
  id: string;
  name: string;
  image: string;
  command: string[];
  createdAt: string;
  status: 'created' | 'running' | 'exited';
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number;
  oomKilled?: boolean;
  ports: PortMapping[];
}

/** One image as `images` shows it. */
export interface ImageRow {
  references: string[];
  id: string;
  size: number;
  created: string | undefined;
}
