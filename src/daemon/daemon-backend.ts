import type {
  ApiBackend, ControlOps, EngineInfo, EventStreamOptions, LocalSwarmState, ServiceLogLine, ServiceLogOptions,
  SwarmInitRequest, SwarmJoinRequest,
} from '../api/backend';
import type { Backend as ContainerBackend } from '../api/container-backend';
import type { ShoalEvent } from '../events/event';
import type { ContainerRuntime } from '../runtime/container-runtime';
import type { ImageStore } from '../runtime/image';
import { FailedPreconditionError } from '../types/errors';
import { hostOf } from './addresses';
import { engineInfo } from './engine-info';
import { eventStream } from './event-stream';
import { serviceLogs } from './service-logs';
import { alreadyInSwarm, SwarmNode, type NodeContext } from './swarm-node';

/** Docker's answer on a node that is not a manager (the API turns it into a 503). */
export const notAManager = 'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.';
/** Docker's answer to leave on a node in no swarm. */
export const notInSwarm = 'This node is not part of a swarm';

/**
 * shoald's ApiBackend: the host's runtime for single containers, and the swarm node this host is
 * (none, a worker, or a manager) for everything of the cluster. Init, join and leave run one at a time.
 */
export class DaemonBackend implements ApiBackend {
  private node: SwarmNode | undefined;
  private state: LocalSwarmState['state'] = 'inactive';
  private error = '';
  private busy: Promise<unknown> = Promise.resolve();

  constructor(private readonly ctx: NodeContext, readonly containers: ContainerBackend, private readonly runtime: ContainerRuntime, private readonly images: ImageStore) {}

  /** At start: resumes the membership the data root holds, if any. */
  async resume(): Promise<void> {
    const node = await SwarmNode.resume(this.ctx);
    if (node !== undefined) {
      this.node = node;
      this.state = 'active';
    }
  }

  /** The swarm node, if this host is in a swarm (tests, metrics). */
  get swarmNode(): SwarmNode | undefined {
    return this.node;
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.busy.then(fn, fn);
    this.busy = run.catch(() => undefined);
    return run;
  }

  engine(): Promise<EngineInfo> {
    return engineInfo(this.ctx.dataRoot, this.runtime, this.images, this.ctx.hostname);
  }

  swarmState(): LocalSwarmState {
    const n = this.node;
    const manager = n?.managerParts;
    const remoteManagers = manager !== undefined
      ? manager.store.view.nodes().filter((x) => x.managerStatus !== undefined).map((x) => ({ nodeId: x.id, addr: x.managerStatus!.addr }))
      : (n?.managerAddrs() ?? []).map((addr) => ({ nodeId: '', addr }));
    return {
      state: this.state,
      nodeId: n?.file.nodeId ?? '',
      nodeAddr: n === undefined ? '' : hostOf(n.file.advertiseAddr),
      clusterId: n?.file.clusterId ?? '',
      controlAvailable: n?.controlOps !== undefined,
      error: this.error,
      remoteManagers,
    };
  }

  swarmInit(req: SwarmInitRequest): Promise<string> {
    return this.exclusive(async () => {
      if (this.node !== undefined && req.forceNewCluster) return this.forceNewCluster(this.node);
      if (this.node !== undefined) throw new FailedPreconditionError(alreadyInSwarm);
      if (req.forceNewCluster) {
        this.ctx.logger.warn('force-new-cluster has no effect on a node in no swarm: a new cluster is created');
      }
      this.node = await SwarmNode.init(this.ctx, req);
      this.state = 'active';
      this.error = '';
      return this.node.file.nodeId;
    });
  }

  /**
   * `swarm init --force-new-cluster` on a manager: restarts it as the only manager of its Raft
   * group with the state it has (services, nodes, tasks, certificates), as Docker does to recover
   * from a lost quorum. The other managers stay in `node ls` as unreachable until they are
   * demoted or removed; to come back they must leave and join again.
   */
  private async forceNewCluster(node: SwarmNode): Promise<string> {
    if (node.managerParts === undefined) {
      throw new FailedPreconditionError('--force-new-cluster: this node is a worker; only a manager can start a new cluster from its state', { hint: 'run it on a manager' });
    }
    const nodeId = node.file.nodeId;
    this.ctx.logger.warn({ nodeId }, 'forcing a new cluster: this manager restarts as the only member of its Raft group');
    await node.stop();
    this.node = undefined;
    try {
      this.node = await SwarmNode.resume(this.ctx, { forceNewCluster: true });
    } catch (err) {
      // The force wrote nothing it did not finish: come back as before if that still works.
      this.node = await SwarmNode.resume(this.ctx).catch(() => undefined);
      if (this.node === undefined) {
        this.state = 'error';
        this.error = (err as Error).message;
      }
      throw err;
    }
    this.state = 'active';
    this.error = '';
    // Answered once it leads, as a plain init: the next command finds a leader.
    await this.node?.managerParts?.waitLeading();
    return nodeId;
  }

  swarmJoin(req: SwarmJoinRequest): Promise<void> {
    return this.exclusive(async () => {
      if (this.node !== undefined) throw new FailedPreconditionError(alreadyInSwarm);
      this.state = 'pending';
      try {
        this.node = await SwarmNode.join(this.ctx, req);
        this.state = 'active';
        this.error = '';
      } catch (err) {
        this.state = 'inactive';
        throw err;
      }
    });
  }

  swarmLeave(force: boolean): Promise<void> {
    return this.exclusive(async () => {
      const n = this.node;
      if (n === undefined) throw new FailedPreconditionError(notInSwarm);
      const m = n.managerParts;
      if (m !== undefined && !force) {
        const managers = m.raft.peers().size;
        const what = managers <= 1
          ? 'Removing the last manager erases all current state of the swarm.'
          : `Removing this node leaves ${managers - 1} managers out of ${managers}. Without a Raft quorum your swarm will be inaccessible.`;
        throw new FailedPreconditionError(`You are attempting to leave the swarm on a node that is participating as a manager. ${what} Use \`--force\` to suppress this message.`);
      }
      await n.leave();
      this.node = undefined;
      this.state = 'inactive';
      this.error = '';
    });
  }

  control(): ControlOps {
    const ops = this.node?.controlOps;
    if (ops === undefined) throw new FailedPreconditionError(notAManager);
    return ops;
  }

  serviceLogs(idOrName: string, opts: ServiceLogOptions, signal: AbortSignal): AsyncIterable<ServiceLogLine> {
    const ops = this.control();
    return serviceLogs(ops, this.node!.identity, idOrName, opts, signal, this.ctx.logger);
  }

  events(opts: EventStreamOptions, signal: AbortSignal): AsyncIterable<ShoalEvent> {
    const m = this.node?.managerParts;
    if (m === undefined) throw new FailedPreconditionError(notAManager);
    return eventStream(m.bus, opts, signal);
  }

  /** Stops the swarm node (containers keep running). */
  async stop(): Promise<void> {
    await this.busy;
    await this.node?.stop();
    this.node = undefined;
  }
}
