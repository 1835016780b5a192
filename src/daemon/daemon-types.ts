import type { NatsPublisher } from '../events/nats-publisher';
import type { Dispatcher } from '../manager/dispatcher/dispatcher';
import type { Store } from '../manager/store/store';
import type { RaftNode } from '../raft/node/raft-node';

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
  /** The NATS events publisher, when --events-nats is set (dropped events are a metric). */
  attachNats?(publisher: NatsPublisher): void;
}
