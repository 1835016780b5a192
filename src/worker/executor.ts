import type { Clock } from '../types/clock';
import { ShoalError } from '../types/errors';
import { TaskState, type Task, type TaskStatus } from '../types/objects';
import type { ContainerRuntime } from '../runtime/container-runtime';
import type { ContainerConfig, MountSpec, NetworkMode } from '../runtime/container-config';
import type { ResourceLimits } from '../runtime/cgroups';
import type { ContainerState } from '../runtime/container-state';
import { decide, type AttachedContainer, type ContainerExit, type ControllerAction, type ControllerEvent } from './task-controller';
import type { StatusReporter } from './status-reporter';
import type { WorkerStore } from './worker-store';

/** What an image reference resolves to on this node; the image store implements it. */
export interface ResolvedImage {
  readonly layerDirs: string[];
  /** The image's defaults (cmd, env, workingDir, user), overridden by the task's spec. */
  readonly config: Partial<ContainerConfig>;
  /** The image's Entrypoint alone (config.cmd is Entrypoint + Cmd), so that a task's args replace only Cmd, as Docker does. */
  readonly entrypoint?: readonly string[];
}

/** Finds an image on this node; throws a NotFound ShoalError when it is not there. */
export interface ImageResolver {
  resolve(ref: string): Promise<ResolvedImage>;
}

/** What the executor needs from its node. */
export interface ExecutorDeps {
  readonly runtime: ContainerRuntime;
  readonly images: ImageResolver;
  readonly store: WorkerStore;
  readonly reporter: StatusReporter;
  readonly clock: Clock;
  /** Named in messages such as "image busybox:1.36 not found on node w2". */
  readonly nodeName: string;
  readonly network?: NetworkMode;
  /** Called with errors the executor cannot report on a task. */
  readonly onError?: (err: unknown) => void;
}

/** The runtime container of a task is named after it: a second create for the same task fails instead of running twice. */
export const containerName = (taskId: string): string => `shoal-task-${taskId}`;

const DEFAULT_STOP_GRACE_MS = 10_000;

function exitOf(s: ContainerState): ContainerExit {
  return { exitCode: s.exitCode ?? -1, signal: s.exitSignal, oomKilled: s.oomKilled, error: s.error };
}

/** The runtime's mounts for a task's: a volume mount's source is the volume's name. */
function mountsOf(task: Task): MountSpec[] {
  return task.spec.container.mounts.map((m): MountSpec => {
    if (m.type === 'bind') return { type: 'bind', source: m.source, target: m.target, readOnly: m.readOnly };
    if (m.type === 'volume') return { type: 'volume', name: m.source, target: m.target, readOnly: m.readOnly };
    return { type: 'tmpfs', target: m.target };
  });
}

/** The task's resource limits as cgroup limits (0 means none, as in Docker). */
function limitsOf(task: Task): ResourceLimits | undefined {
  const l = task.spec.resources.limits;
  const out: ResourceLimits = { ...(l.memoryBytes > 0 ? { memoryBytes: l.memoryBytes } : {}), ...(l.nanoCPUs > 0 ? { nanoCpus: l.nanoCPUs } : {}) };
  return Object.keys(out).length > 0 ? out : undefined;
}

/** The container config of a task: the task's spec over the image's defaults. */
export function containerConfigOf(task: Task, image: Partial<ContainerConfig>, network: NetworkMode, entrypoint?: readonly string[]): ContainerConfig {
  const c = task.spec.container;
  const cmd = c.command.length > 0 ? [...c.command, ...c.args]
    : c.args.length > 0 && entrypoint !== undefined ? [...entrypoint, ...c.args]
      : c.args.length > 0 && image.cmd !== undefined && image.cmd.length > 0 ? [image.cmd[0], ...c.args] : image.cmd ?? [];
  return {
    ...image,
    cmd,
    env: [...(image.env ?? []), ...c.env],
    workingDir: c.workdir !== '' ? c.workdir : image.workingDir,
    user: c.user !== '' ? c.user : image.user,
    hostname: c.hostname !== '' ? c.hostname : undefined,
    stopGraceMs: c.stopGraceMs > 0 ? c.stopGraceMs : DEFAULT_STOP_GRACE_MS,
    init: c.init === true ? true : image.init,
    mounts: [...(image.mounts ?? []), ...mountsOf(task)],
    limits: limitsOf(task) ?? image.limits,
    network,
    labels: { ...(image.labels ?? {}), 'shoal.task.id': task.id, 'shoal.service.id': task.serviceId },
  };
}

/** A start failure names the command it tried, unless the runtime's message already does. */
function withCommand(message: string, cmd: readonly string[]): string {
  return cmd.length === 0 || message.includes(cmd[0]) ? message : `${message} (command ${JSON.stringify(cmd[0])})`;
}

/** One task's controller: feeds events to the pure `decide` and performs its actions, one event at a time. */
class TaskRunner {
  private chain: Promise<void> = Promise.resolve();
  private waiting = false;
  removed = false;

  constructor(public task: Task, public status: TaskStatus, private readonly x: ExecutorDeps) {}

  dispatch(e: ControllerEvent): Promise<void> {
    this.chain = this.chain.then(() => this.handle(e)).catch((err: unknown) => this.x.onError?.(err));
    return this.chain;
  }

  private async handle(e: ControllerEvent): Promise<void> {
    if (this.removed) return;
    const d = decide({ status: this.status, desiredState: this.task.desiredState, stopGraceMs: this.task.spec.container.stopGraceMs > 0 ? this.task.spec.container.stopGraceMs : DEFAULT_STOP_GRACE_MS, now: this.x.clock.now() }, e);
    if (d.statuses.length > 0) {
      this.status = d.statuses[d.statuses.length - 1];
      // Persisted before reported: what the manager hears of, a restarted agent remembers.
      await this.x.store.put({ task: this.task, status: this.status });
      for (const s of d.statuses) this.x.reporter.report(this.task.id, s);
    }
    for (const a of d.actions) this.perform(a);
  }

  private perform(a: ControllerAction): void {
    const rt = this.x.runtime;
    const cid = (): string => this.status.containerId;
    switch (a.kind) {
      case 'prepare':
        void this.prepare();
        return;
      case 'start':
        void (async () => {
          try {
            await rt.start(cid());
            await this.dispatch({ kind: 'started', pid: rt.inspect(cid()).pid ?? 0 });
          } catch (err) {
            await this.dispatch({ kind: 'start-failed', message: withCommand((err as Error).message, rt.inspect(cid()).config.cmd) });
          }
        })();
        return;
      case 'wait':
        if (this.waiting) return;
        this.waiting = true;
        rt.wait(cid()).then((s) => this.dispatch({ kind: 'exited', exit: exitOf(s) }), (err: unknown) => this.dispatch({ kind: 'exited', exit: { exitCode: -1, error: `lost the container: ${(err as Error).message}` } }))
          .finally(() => { this.waiting = false; }).catch(() => undefined);
        return;
      case 'stop':
        rt.stop(cid(), a.graceMs).catch((err: unknown) => this.x.onError?.(err));
        return;
      case 'remove':
        if (cid() !== '') rt.remove(cid(), { force: true }).catch(() => undefined);
    }
  }

  private async prepare(): Promise<void> {
    const ref = this.task.spec.container.image;
    let image: ResolvedImage;
    try {
      image = await this.x.images.resolve(ref);
    } catch (err) {
      const message = ShoalError.is(err, 'NotFound') ? `image ${ref} not found on node ${this.x.nodeName}` : `image ${ref}: ${(err as Error).message}`;
      await this.dispatch({ kind: 'prepare-failed', message });
      return;
    }
    try {
      const rt = this.x.runtime;
      // A container made before a crash that was never recorded is reused, not made twice.
      const existing = rt.list().find((c) => c.name === containerName(this.task.id));
      const id = existing?.id ?? await rt.create({ layerDirs: image.layerDirs, config: containerConfigOf(this.task, image.config, this.x.network ?? 'none', image.entrypoint), name: containerName(this.task.id) });
      await this.dispatch({ kind: 'prepared', containerId: id });
    } catch (err) {
      await this.dispatch({ kind: 'prepare-failed', message: (err as Error).message });
    }
  }
}

/**
 * Runs this node's assigned tasks through the runtime: one controller per task, its statuses
 * persisted in the worker store and handed to the reporter.
 */
export class Executor {
  private readonly runners = new Map<string, TaskRunner>();

  private constructor(private readonly x: ExecutorDeps) {}

  /** Loads the tasks held before a restart and re-attaches to their containers. */
  static async open(x: ExecutorDeps): Promise<Executor> {
    const ex = new Executor(x);
    const byName = new Map(x.runtime.list().map((c) => [c.name, c]));
    for (const held of await x.store.all()) {
      const r = new TaskRunner(held.task, held.status, x);
      ex.runners.set(held.task.id, r);
      const c = byName.get(containerName(held.task.id));
      void r.dispatch({ kind: 'attached', container: c === undefined ? undefined : attachedOf(c) });
    }
    return ex;
  }

  /** The status of every task held, for the re-report at the start of a session. */
  statuses(): { taskId: string; status: TaskStatus }[] {
    return [...this.runners.values()].filter((r) => r.status.state > TaskState.ASSIGNED).map((r) => ({ taskId: r.task.id, status: r.status }));
  }

  taskIds(): string[] {
    return [...this.runners.keys()];
  }

  /** The complete set: tasks not in it are no longer this node's. */
  async applyComplete(tasks: readonly Task[]): Promise<void> {
    const ids = new Set(tasks.map((t) => t.id));
    for (const id of [...this.runners.keys()]) if (!ids.has(id)) await this.remove(id);
    for (const t of tasks) await this.update(t);
  }

  /** A task assigned or changed (its desired state). */
  async update(task: Task): Promise<void> {
    const r = this.runners.get(task.id);
    if (r === undefined) {
      const status = task.status;
      const runner = new TaskRunner(task, status, this.x);
      this.runners.set(task.id, runner);
      await this.x.store.put({ task, status });
      if (status.state >= TaskState.ACCEPTED) {
        // The manager knows more than this node's record (lost or wiped): find the container rather than start another.
        const c = this.x.runtime.list().find((s) => s.name === containerName(task.id));
        void runner.dispatch({ kind: 'attached', container: c === undefined ? undefined : attachedOf(c) });
      } else {
        void runner.dispatch({ kind: 'assigned' });
      }
      return;
    }
    const desiredChanged = r.task.desiredState !== task.desiredState;
    r.task = task;
    if (desiredChanged) void r.dispatch({ kind: 'desired', desiredState: task.desiredState });
  }

  /** The task is no longer assigned here: its container is stopped and removed, its record dropped. */
  async remove(taskId: string): Promise<void> {
    const r = this.runners.get(taskId);
    if (r === undefined) return;
    this.runners.delete(taskId);
    r.removed = true;
    const cid = r.status.containerId;
    if (cid !== '') {
      try {
        // Gone from the assignments while it runs: it still gets its grace period.
        const grace = r.task.spec.container.stopGraceMs > 0 ? r.task.spec.container.stopGraceMs : DEFAULT_STOP_GRACE_MS;
        if (this.x.runtime.inspect(cid).status === 'running') await this.x.runtime.stop(cid, grace);
        await this.x.runtime.remove(cid, { force: true });
      } catch (err) {
        if (!ShoalError.is(err, 'NotFound')) this.x.onError?.(err);
      }
    }
    await this.x.store.delete(taskId);
  }

  /** Stops handling events (the agent goes away); containers are left as they are. */
  close(): void {
    for (const r of this.runners.values()) r.removed = true;
  }

  /** The container of a task held, if it has one (logs). */
  containerOf(taskId: string): string | undefined {
    const id = this.runners.get(taskId)?.status.containerId;
    return id === undefined || id === '' ? undefined : id;
  }

  /** The status of a task held (tests, diagnostics). */
  status(taskId: string): TaskStatus | undefined {
    return this.runners.get(taskId)?.status;
  }
}

function attachedOf(c: ContainerState): AttachedContainer {
  if (c.status === 'running') return { status: 'running', id: c.id, pid: c.pid ?? 0 };
  if (c.status === 'exited') return { status: 'exited', id: c.id, exit: exitOf(c) };
  return { status: 'created', id: c.id };
}
