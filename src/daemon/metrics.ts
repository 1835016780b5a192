import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { NatsPublisher } from '../events/nats-publisher';
import type { Dispatcher } from '../manager/dispatcher/dispatcher';
import type { Store, StoreEvent } from '../manager/store/store';
import type { RaftNode } from '../raft/node/raft-node';
import { InvalidArgumentError } from '../types/errors';
import { TaskState, taskStateName, type Task } from '../types/objects';
import type { DaemonMetricsHooks } from './daemon';

/** How often the leader is sampled for leader changes (RaftNode reports them only to its creator). */
const leaderPollMs = 50;
const proposalBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const schedulingBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

type RaftSource = Pick<RaftNode<unknown>, 'status'>;
type StoreSource = Pick<Store, 'view' | 'watch'>;
type DispatcherSource = Pick<Dispatcher, 'sessionCount'>;
type NatsSource = Pick<NatsPublisher, 'stats'>;

/**
 * shoald's Prometheus metrics (issue 7): Raft progress and leader changes, proposals and their
 * latency, tasks by state, scheduling latency, dispatcher sessions, running containers, NATS
 * events dropped, and the process's own metrics. Values kept by other objects are read when
 * scraped (collect callbacks), so the daemon's parts need not know about metrics. Each instance
 * has its own Registry (several daemons, or tests, can live in one process).
 */
export class DaemonMetrics implements DaemonMetricsHooks {
  readonly registry = new Registry();
  private raft: RaftSource | undefined;
  private store: StoreSource | undefined;
  private dispatcher: DispatcherSource | undefined;
  private nats: NatsSource | undefined;
  private countRunning: (() => number) | undefined;
  private unwatchStore: (() => void) | undefined;
  private leaderTimer: NodeJS.Timeout | undefined;
  private lastLeader = { id: 0, term: 0 };
  private readonly leaderChanges: Counter;
  private readonly proposals: Counter;
  private readonly proposalSeconds: Histogram;
  private readonly schedulingSeconds: Histogram;

  constructor() {
    const registers = [this.registry];
    const gauge = (name: string, help: string, read: () => number): void => {
      new Gauge({ name, help, registers, collect() { this.set(read()); } });
    };
    const total = (name: string, help: string, read: () => number): void => {
      new Counter({ name, help, registers, collect() { setCounter(this, read()); } });
    };
    gauge('shoal_raft_term', 'Current Raft term of this manager', () => this.raft?.status().term ?? 0);
    gauge('shoal_raft_commit_index', 'Highest Raft log index known to be committed', () => this.raft?.status().commit ?? 0);
    gauge('shoal_raft_applied_index', 'Highest Raft log index applied to the store', () => this.raft?.status().applied ?? 0);
    gauge('shoal_raft_is_leader', '1 if this manager is the Raft leader', () => (this.raft?.status().role === 'leader' ? 1 : 0));
    const sample = (): void => this.sampleLeader();
    this.leaderChanges = new Counter({ name: 'shoal_raft_leader_changes_total', help: 'Leaders this manager has seen elected', registers, collect: sample });
    this.proposals = new Counter({ name: 'shoal_raft_proposals_total', help: 'Store writes proposed to Raft by this manager', registers });
    this.proposalSeconds = new Histogram({ name: 'shoal_raft_proposal_seconds', help: 'Time from proposing a store write to its being applied here', registers, buckets: proposalBuckets });
    const tasksByState = (): Map<string, number> => {
      const out = new Map<string, number>();
      const view = this.store?.view;
      if (view !== undefined) for (const s of Object.values(TaskState)) out.set(taskStateName(s), view.tasksWithState(s).length);
      return out;
    };
    new Gauge({
      name: 'shoal_tasks', help: 'Tasks in the store by observed state', labelNames: ['state'], registers,
      collect() {
        this.reset();
        for (const [state, n] of tasksByState()) this.set({ state }, n);
      },
    });
    this.schedulingSeconds = new Histogram({ name: 'shoal_scheduling_latency_seconds', help: 'Time from a task being created to its being assigned to a node', registers, buckets: schedulingBuckets });
    gauge('shoal_dispatcher_sessions', 'Worker sessions open on this manager', () => this.dispatcher?.sessionCount() ?? 0);
    gauge('shoal_containers_running', 'Containers running on this node', () => this.countRunning?.() ?? 0);
    total('shoal_events_nats_dropped_total', 'Cluster events dropped because NATS was unreachable and the buffer was full', () => this.nats?.stats().dropped ?? 0);
    total('shoal_events_nats_published_total', 'Cluster events handed to NATS (resends included)', () => this.nats?.stats().published ?? 0);
    gauge('shoal_events_nats_pending', 'Cluster events buffered for NATS', () => this.nats?.stats().pending ?? 0);
    collectDefaultMetrics({ register: this.registry });
  }

  /** Reads Raft's term and indexes when scraped, and samples its leader to count leader changes. */
  attachRaft(node: RaftSource): void {
    this.raft = node;
    this.lastLeader = { id: 0, term: 0 };
    clearInterval(this.leaderTimer);
    this.leaderTimer = setInterval(() => this.sampleLeader(), leaderPollMs);
    this.leaderTimer.unref();
    this.sampleLeader();
  }

  /** Counts tasks by state when scraped, and observes scheduling latency from the store's changes. */
  attachStore(store: StoreSource): void {
    this.unwatchStore?.();
    this.store = store;
    this.unwatchStore = store.watch((e) => this.onStoreEvent(e));
  }

  attachDispatcher(d: DispatcherSource): void {
    this.dispatcher = d;
  }

  attachRuntime(countRunning: () => number): void {
    this.countRunning = countRunning;
  }

  attachNats(publisher: NatsSource): void {
    this.nats = publisher;
  }

  /** One store write proposed to Raft and applied, after `ms`. */
  observeProposal(ms: number): void {
    this.proposals.inc();
    this.proposalSeconds.observe(Math.max(0, ms) / 1000);
  }

  /** Stops sampling and watching (the registry stays readable). */
  close(): void {
    clearInterval(this.leaderTimer);
    this.leaderTimer = undefined;
    this.unwatchStore?.();
    this.unwatchStore = undefined;
  }

  /** Counts a leader as new when the leader or the term changed since the last sample (as etcd's leader_changes_seen). */
  private sampleLeader(): void {
    const st = this.raft?.status();
    if (st === undefined || st.leader === 0) return;
    if (st.leader === this.lastLeader.id && st.term === this.lastLeader.term) return;
    this.lastLeader = { id: st.leader, term: st.term };
    this.leaderChanges.inc();
  }

  private onStoreEvent(e: StoreEvent): void {
    if (e.reset) return;
    for (const c of e.changes) {
      if (c.kind !== 'task' || c.before === undefined || c.after === undefined) continue;
      const before = c.before as Task;
      const after = c.after as Task;
      if (before.status.state < TaskState.ASSIGNED && after.status.state === TaskState.ASSIGNED) {
        this.schedulingSeconds.observe(Math.max(0, after.meta.updatedAt - after.meta.createdAt) / 1000);
      }
    }
  }
}

/** A counter whose total another object keeps: set to that total at scrape time. */
function setCounter(c: Counter, total: number): void {
  c.reset();
  if (total > 0) c.inc(total);
}

/** A running metrics endpoint. */
export interface MetricsServer {
  /** The bound address (the port is the real one when 0 was asked). */
  readonly address: { host: string; port: number };
  close(): Promise<void>;
}

/** Splits `host:port` (IPv6 in brackets). */
export function parseListenAddr(addr: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]\s/]+):(\d+)$/.exec(addr);
  const port = m === null ? NaN : Number(m[2]);
  if (m === null || !Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError(`--metrics-addr: expected host:port, got ${JSON.stringify(addr)}`);
  return { host: m[1].replace(/^\[|\]$/g, ''), port };
}

/** Serves `GET /metrics` in Prometheus's text format on addr; everything else is 404. */
export async function startMetricsServer(addr: string, registry: Registry): Promise<MetricsServer> {
  const { host, port } = parseListenAddr(addr);
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('404 page not found\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'content-type': 'text/plain', allow: 'GET, HEAD' }).end('method not allowed\n');
      return;
    }
    registry.metrics().then(
      (text) => { res.writeHead(200, { 'content-type': registry.contentType }).end(req.method === 'HEAD' ? undefined : text); },
      (err: unknown) => { res.writeHead(500, { 'content-type': 'text/plain' }).end(`collecting metrics failed: ${String(err)}\n`); },
    );
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      reject(new InvalidArgumentError(`--metrics-addr: cannot listen on ${addr}: ${err.code ?? err.message}`, { cause: err, hint: err.code === 'EADDRINUSE' ? 'another process uses that port; choose another --metrics-addr' : undefined }));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  return {
    address: { host, port: bound.port },
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
