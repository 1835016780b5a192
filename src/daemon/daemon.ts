import type { ApiBackend } from '../api/backend';
import type { Dispatcher } from '../manager/dispatcher/dispatcher';
import type { Store } from '../manager/store/store';
import type { RaftNode } from '../raft/node/raft-node';
import type { DaemonConfig } from './config';

/** The part of a pino Logger the daemon uses. */
export interface DaemonLogger {
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
  debug(obj: object | string, msg?: string): void;
}

/** Hooks through which shoald's metrics (src/daemon, prom-client) watch the daemon's parts. */
export interface DaemonMetricsHooks {
  attachRaft?(node: RaftNode<unknown>): void;
  attachStore?(store: Store): void;
  attachDispatcher?(d: Dispatcher): void;
  attachRuntime?(countRunning: () => number): void;
  observeProposal?(ms: number): void;
}

/** shoald: one host's runtime, and once in a swarm its manager and/or worker parts. */
export class Daemon {
  private constructor(readonly backend: ApiBackend, private readonly shutdown: () => Promise<void>) {}

  static start(cfg: DaemonConfig, deps: { logger: DaemonLogger; metrics?: DaemonMetricsHooks }): Promise<Daemon> {
    void cfg; void deps;
    return Promise.reject(new Error('Daemon.start: not implemented yet'));
  }

  async stop(): Promise<void> {
    await this.shutdown();
  }
}
