import * as path from 'node:path';
import type { NodeIdentity } from '../pki/node-identity';
import type { NetworkMode } from '../runtime/container-config';
import type { ContainerRuntime } from '../runtime/container-runtime';
import type { ImageStore } from '../runtime/image';
import type { Clock } from '../types/clock';
import type { Random } from '../types/random';
import { Agent } from '../worker/agent';
import { Executor } from '../worker/executor';
import { describeHost } from '../worker/node-description';
import { StatusReporter } from '../worker/status-reporter';
import { WorkerStore } from '../worker/worker-store';
import type { DaemonLogger } from './daemon-types';
import { imageResolver } from './image-resolver';

/** What a node's worker half is made from. */
export interface WorkerPartsOptions {
  readonly dataRoot: string;
  readonly identity: NodeIdentity;
  readonly runtime: ContainerRuntime;
  readonly images: ImageStore;
  /** host:port of the managers to open a session with. */
  readonly managers: readonly string[];
  /** host:port this node is reached at (its logs service). */
  readonly addr: string;
  readonly hostname?: string;
  /** Engine labels (`shoald --label k=v`), reported in the node's description. */
  readonly labels?: Readonly<Record<string, string>>;
  readonly network: NetworkMode;
  readonly clock: Clock;
  readonly random: Random;
  readonly logger: DaemonLogger;
}

/**
 * The worker half every swarm node runs (DESIGN.md §1): the agent's session with the leader's
 * dispatcher, the executor over this node's runtime, and the tasks it holds in LevelDB under
 * <data-root>/worker so a restart re-attaches to its containers instead of starting others.
 */
export class WorkerParts {
  private constructor(readonly store: WorkerStore, readonly reporter: StatusReporter, readonly executor: Executor, readonly agent: Agent) {}

  static async open(o: WorkerPartsOptions): Promise<WorkerParts> {
    const store = await WorkerStore.open(path.join(o.dataRoot, 'worker'));
    const reporter = new StatusReporter(o.clock);
    const description = describeHost(o.hostname);
    let executor: Executor;
    try {
      executor = await Executor.open({
        runtime: o.runtime, images: imageResolver(o.images), store, reporter, clock: o.clock,
        nodeName: description.hostname, network: o.network,
        onError: (err) => o.logger.warn({ err: String(err) }, 'executor error'),
      });
    } catch (err) {
      reporter.close();
      await store.close();
      throw err;
    }
    const agent = new Agent({
      identity: o.identity, managers: o.managers, description, addr: o.addr, executor, reporter,
      clock: o.clock, random: o.random, store, labels: o.labels,
      refreshDescription: () => describeHost(o.hostname),
      onError: (err) => o.logger.debug({ err: String(err) }, 'agent session ended'),
    });
    agent.start();
    return new WorkerParts(store, reporter, executor, agent);
  }

  /** The container of a task held here (the logs service). */
  containerOf(taskId: string): string | undefined {
    return this.executor.containerOf(taskId);
  }

  /** Stops the session and the executor; containers keep running for the next start to re-attach. */
  async close(): Promise<void> {
    await this.agent.stop();
    this.executor.close();
    this.reporter.close();
    await this.store.close();
  }

  /** Leaving the swarm: the session ends, every task's container is stopped and removed, the records dropped. */
  async removeAllTasks(): Promise<void> {
    await this.agent.stop();
    await Promise.all(this.executor.taskIds().map((id) => this.executor.remove(id)));
    // The managers it learned belong to the swarm it left.
    await this.store.clear();
    await this.close();
  }
}
