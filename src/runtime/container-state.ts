import * as fs from 'node:fs';
import * as path from 'node:path';
import { ContainerConfig } from './container-config';

/** Where a container's things live: `<root>/containers/<id>/...` (DESIGN.md §10). */
export class ContainerPaths {
  constructor(readonly root: string, readonly id: string) {}
  get dir(): string { return path.join(this.root, 'containers', this.id); }
  get config(): string { return path.join(this.dir, 'config.json'); }
  get state(): string { return path.join(this.dir, 'state.json'); }
  /** NUL-separated records for the shim. */
  get spec(): string { return path.join(this.dir, 'spec'); }
  get rootfs(): string { return path.join(this.dir, 'rootfs'); }
  get upper(): string { return path.join(this.dir, 'upper'); }
  get work(): string { return path.join(this.dir, 'work'); }
  get log(): string { return path.join(this.dir, 'container.log'); }
  /** Written by the monitor when the container's first process is gone: "code signal finishedMs". */
  get exit(): string { return path.join(this.dir, 'exit'); }
  /** Files bind-mounted over the image's /etc/hosts, /etc/hostname and /etc/resolv.conf. */
  get etcDir(): string { return path.join(this.dir, 'etc'); }
}

/** Lifecycle of a container, as Docker names it. */
export type ContainerStatus = 'created' | 'running' | 'exited';

/** The network a started container got, kept so that teardown works after a restart. */
export interface NetworkAttachment {
  mode: 'bridge' | 'none' | 'host';
  ip?: string;
  hostVeth?: string;
  ports: { hostPort: number; containerPort: number; protocol: 'tcp' | 'udp' }[];
}

/** What we persist about a container besides its config. */
export interface ContainerState {
  id: string;
  name: string;
  createdAt: string;
  layerDirs: string[];
  status: ContainerStatus;
  /** Host pid of the container's PID 1 and of its monitor, while running. */
  pid?: number;
  monitorPid?: number;
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number;
  exitSignal?: number;
  oomKilled?: boolean;
  /** Why the runtime ended the container, if it did (e.g. "monitor lost"). */
  error?: string;
  network?: NetworkAttachment;
}

/** A container as inspect returns it. */
export interface ContainerInfo extends ContainerState {
  config: ContainerConfig;
}

/**
 * Writes JSON atomically (write, rename) so that a crash of the daemon never leaves half a
 * file. No fsync, on purpose: it cost ~10 ms per write on this disk, and the only thing it
 * would add is survival of a power loss, after which no container is running anyway (the
 * worker's own LevelDB is the durable record of its tasks, DESIGN.md §7).
 */
export function writeJsonAtomic(file: string, value: unknown): void {
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(value), { mode: 0o600 });
  fs.renameSync(tmp, file);
}

/** The monitor's exit record, or undefined while the container runs. */
export interface ExitRecord {
  exitCode: number;
  signal: number;
  finishedAtMs: number;
}

/** Parses the monitor's exit file ("code signal finishedMs"). */
export function readExitFile(file: string): ExitRecord | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const [code, sig, at] = text.trim().split(' ').map(Number);
  if (![code, sig, at].every((n) => Number.isInteger(n))) return undefined;
  return { exitCode: code, signal: sig, finishedAtMs: at };
}
