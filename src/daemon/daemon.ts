import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ApiBackend } from '../api/backend';
import { RuntimeBackend, noLock } from '../api/runtime-backend';
import { BridgeNetwork } from '../runtime/bridge-network';
import type { NetworkMode } from '../runtime/container-config';
import { ContainerRuntime } from '../runtime/container-runtime';
import { ImageStore } from '../runtime/image';
import { InvalidArgumentError } from '../types/errors';
import type { DaemonConfig } from './config';
import { DaemonBackend } from './daemon-backend';
import type { DaemonLogger, DaemonMetricsHooks } from './daemon-types';
import type { RaftTuning } from './manager-parts';

export type { DaemonLogger, DaemonMetricsHooks } from './daemon-types';

/** Settings with sensible defaults that tests (and the odd host) change; not flags. */
export interface DaemonTuning {
  /** The node's hostname as reported (default: the host's). */
  readonly hostname?: string;
  /** Parent cgroup of every container (default "shoal"). */
  readonly cgroupParent?: string;
  /** Network of service tasks' containers (default "bridge"). */
  readonly taskNetwork?: NetworkMode;
  /** The node bridge (default shoal0 on 10.88.0.0/16). */
  readonly bridgeName?: string;
  readonly bridgeSubnet?: string;
  readonly raft?: RaftTuning;
}

/** What the daemon is given besides its config. */
export interface DaemonDeps {
  readonly logger: DaemonLogger;
  readonly metrics?: DaemonMetricsHooks;
  readonly tuning?: DaemonTuning;
}

/** shoald: one host's runtime, and once in a swarm its manager and/or worker parts. */
export class Daemon {
  private stopped = false;

  private constructor(
    private readonly core: DaemonBackend,
    private readonly runtime: ContainerRuntime,
    private readonly logger: DaemonLogger,
  ) {}

  /** The API's view of this daemon. */
  get backend(): ApiBackend {
    return this.core;
  }

  /** The daemon's own implementation of the backend (tests, diagnostics). */
  get daemonBackend(): DaemonBackend {
    return this.core;
  }

  /**
   * Opens the runtime and image store under the data root, then resumes the swarm membership
   * the data root holds (restart) or stays out of any swarm until init or join.
   */
  static async start(cfg: DaemonConfig, deps: DaemonDeps): Promise<Daemon> {
    if (!path.isAbsolute(cfg.dataRoot)) throw new InvalidArgumentError(`invalid --data-root ${JSON.stringify(cfg.dataRoot)}: must be an absolute path`);
    fs.mkdirSync(cfg.dataRoot, { recursive: true, mode: 0o711 });
    const t = deps.tuning ?? {};
    const images = await ImageStore.open(path.join(cfg.dataRoot, 'images'));
    const bridge = new BridgeNetwork({ name: t.bridgeName ?? 'shoal0', subnet: t.bridgeSubnet ?? '10.88.0.0/16', enableForwarding: true });
    const runtime = await ContainerRuntime.open({ root: cfg.dataRoot, cgroupParent: t.cgroupParent ?? 'shoal', network: bridge });
    deps.metrics?.attachRuntime?.(() => runtime.list().filter((c) => c.status === 'running').length);
    const taskNetwork = t.taskNetwork ?? 'bridge';
    // Tasks on the bridge need it up before their first container starts.
    if (taskNetwork === 'bridge') await bridge.setup();
    const core = new DaemonBackend({
      dataRoot: cfg.dataRoot, runtime, images, listenAddr: cfg.listenAddr, advertiseAddr: cfg.advertiseAddr,
      eventsNats: cfg.eventsNats, eventsNatsBuffer: cfg.eventsNatsBuffer, hostname: t.hostname ?? os.hostname(), labels: cfg.labels, taskNetwork, raft: t.raft,
      logger: deps.logger, metrics: deps.metrics,
    }, new RuntimeBackend(runtime, images, bridge, noLock, false), runtime, images);
    try {
      await core.resume();
    } catch (err) {
      runtime.close();
      throw err;
    }
    deps.logger.info({ dataRoot: cfg.dataRoot, swarm: core.swarmState().state }, 'shoald started');
    return new Daemon(core, runtime, deps.logger);
  }

  /**
   * Stops the swarm parts and lets go of the runtime; containers keep running under their
   * monitors for the next start. stopShimServer also ends the node's shim server (tests, uninstall).
   */
  async stop(opts: { stopShimServer?: boolean } = {}): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.core.stop();
    this.runtime.close({ stopShimServer: opts.stopShimServer });
    this.logger.info('shoald stopped');
  }
}
