// Test harness: 3 managers in this process, each a real RaftNode (LevelDB in a temp dir, the
// mTLS gRPC transport on loopback) with the replicated store and the leader loops, plus
// simulated agents that keep a session with whichever manager leads.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initClusterPki, issueLocal, type ClusterPki } from '../../../src/pki/cluster-init';
import { MtlsServer } from '../../../src/pki/mtls-server';
import { NodeIdentity } from '../../../src/pki/node-identity';
import type { NodeRole } from '../../../src/pki/node-role';
import { nodeCertValidity } from '../../../src/pki/root-ca';
import { channelKeepaliveOptions, managerChannelCredentials } from '../../../src/pki/tls-credentials';
import { RaftNode } from '../../../src/raft/node/raft-node';
import { LevelRaftStorage } from '../../../src/raft/storage/level-storage';
import { GrpcTransport } from '../../../src/raft/transport/grpc-transport';
import { raftServiceDefinition } from '../../../src/raft/transport/raft-service';
import { systemClock } from '../../../src/types/clock';
import { systemRandom } from '../../../src/types/random';
import { TaskState, type Node, type Task } from '../../../src/types/objects';
import { ControlApi } from '../../../src/manager/controlapi/control-api';
import { Manager } from '../../../src/manager/manager';
import { raftNodeLog, raftNodeMembership } from '../../../src/manager/raft-node-log';
import type { ReplicatedLog } from '../../../src/manager/replicated-log';
import type { ApplyResult } from '../../../src/manager/store/store';
import { Store } from '../../../src/manager/store/store';
import { newJoinToken } from '../../../src/pki/join-token';
import { freePort } from '../../raft/node/proc-cluster';
import { SimAgent, type SimAgentOptions } from '../sim/sim-agent';
import { makeCluster, makeNode } from '../sim/fixtures';

/** Raft timing of the test managers (fast, still well above loopback latency). */
const RAFT = { heartbeatMs: 50, electionTimeoutMs: 500 };

/** One manager: Raft member raftId, with its store, loops and control API. */
export interface DurableManager {
  readonly raftId: number;
  readonly nodeId: string;
  readonly address: string;
  readonly identity: NodeIdentity;
  node: RaftNode<ApplyResult>;
  store: Store;
  log: ReplicatedLog & { close(): void };
  manager: Manager;
  api: ControlApi;
  storage: LevelRaftStorage;
  server: MtlsServer;
  /** Loop errors other than the expected races of a leader change. */
  readonly errors: unknown[];
}

/** Settings of a harness. */
export interface DurableOptions {
  /** Raft snapshot after this many applied entries. */
  snapshotEveryEntries?: number;
  keepTailEntries?: number;
  /** Extra services on each manager's gRPC server (called before it listens). */
  addServices?: (m: DurableManager, cluster: DurableCluster) => void;
}

const EXPECTED = /Conflict|not the leader|leadership lost|raft node stopped|replaced by another|proposal refused|stopped/;

/** Three durable managers; always call destroy(). */
export class DurableCluster {
  readonly managers = new Map<number, DurableManager>();
  readonly agents = new Map<string, SimAgent>();
  private readonly roles = new Map<string, NodeRole>();
  private readonly ports = new Map<number, number>();
  private readonly identities = new Map<number, NodeIdentity>();

  private constructor(readonly root: string, readonly pki: ClusterPki, private readonly opts: DurableOptions) {}

  /** Founds a 3-manager cluster, writes the cluster object and one Node per manager (with its raft id). */
  static async create(opts: DurableOptions = {}): Promise<DurableCluster> {
    const c = new DurableCluster(mkdtempSync(path.join(os.tmpdir(), 'shoal-mgr-durable-')), await initClusterPki({ clock: systemClock }), opts);
    try {
      for (const id of [1, 2, 3]) c.ports.set(id, await freePort());
      const bootstrap = Object.fromEntries([1, 2, 3].map((id) => [id, `127.0.0.1:${c.ports.get(id)}`]));
      await Promise.all([1, 2, 3].map((id) => c.start(id, bootstrap)));
      const leader = await c.leader();
      // Managers run no simulated agent: drained, so no task is placed on them (a common swarm setup).
      const nodes: Node[] = [...c.managers.values()].map((m) => {
        const n = makeNode(systemRandom, { hostname: `manager-${m.raftId}`, role: 'manager' });
        return { ...n, id: m.nodeId, spec: { ...n.spec, availability: 'drain' as const },
          managerStatus: { raftId: m.raftId, addr: m.address, leader: false, reachability: 'unknown' as const } };
      });
      await leader.store.write([
        { op: 'create', target: { kind: 'cluster', object: makeCluster(systemRandom, { dispatcher: { heartbeatPeriodMs: 500 } }) } },
        ...nodes.map((n) => ({ op: 'create' as const, target: { kind: 'node' as const, object: n } })),
      ]);
    } catch (err) {
      await c.destroy();
      throw err;
    }
    return c;
  }

  /** A certificate of this cluster for a member in good standing with `role`. */
  async identity(role: NodeRole): Promise<NodeIdentity> {
    const issued = await issueLocal(this.pki.rootCa, { role }, nodeCertValidity(Date.now()));
    this.roles.set(issued.info.nodeId, role);
    return new NodeIdentity(issued.material);
  }

  /** Starts (or restarts, from its data directory) manager raftId; `loops: false` runs no leader loops (nothing writes). */
  async start(raftId: number, bootstrap?: Record<number, string>, how: { loops?: boolean } = {}): Promise<DurableManager> {
    let identity = this.identities.get(raftId);
    if (identity === undefined) this.identities.set(raftId, (identity = await this.identity('manager')));
    const port = this.ports.get(raftId)!;
    const server = new MtlsServer({ identity, host: '127.0.0.1', port, clusterId: this.pki.rootCa.clusterId, membership: { roleOf: (n) => this.roles.get(n) }, clock: systemClock });
    const transport = new GrpcTransport({ selfId: raftId, credentials: managerChannelCredentials(identity), channelOptions: channelKeepaliveOptions });
    server.grpc.addService(raftServiceDefinition, transport.service);
    const storage = await LevelRaftStorage.open(path.join(this.root, `manager${raftId}`));
    const errors: unknown[] = [];
    const held: { log?: ReplicatedLog } = {};
    const proxy: ReplicatedLog = { propose: (d) => held.log!.propose(d), isLeader: () => held.log?.isLeader() ?? false, onLeadershipChange: (cb) => held.log!.onLeadershipChange(cb) };
    const store = new Store(proxy, systemClock);
    const node = await RaftNode.open<ApplyResult>({
      id: raftId, storage, transport, stateMachine: store, bootstrap, ...RAFT,
      snapshotEveryEntries: this.opts.snapshotEveryEntries, keepTailEntries: this.opts.keepTailEntries,
    });
    const log = raftNodeLog(node, systemClock, 20, { reachableWindowMs: 4 * RAFT.electionTimeoutMs });
    held.log = log;
    const manager = new Manager(store, how.loops === false ? { ...log, isLeader: () => false, onLeadershipChange: () => () => undefined } : log, systemClock, systemRandom, {
      managerStatusPeriodMs: 200,
      onError: (_l, err) => { if (!EXPECTED.test(String(err))) errors.push(err); },
    });
    const api = new ControlApi(store, systemClock, systemRandom, () => newJoinToken(this.pki.rootCa.certPem), { raftMembership: raftNodeMembership(node) });
    const m: DurableManager = { raftId, nodeId: identity.info.nodeId, address: `127.0.0.1:${port}`, identity, node, store, log, manager, api, storage, server, errors };
    this.opts.addServices?.(m, this);
    await server.listen();
    this.managers.set(raftId, m);
    return m;
  }

  get(raftId: number): DurableManager {
    const m = this.managers.get(raftId);
    if (m === undefined) throw new Error(`manager ${raftId} is not running`);
    return m;
  }

  /** The manager whose leader loops run (it leads and has caught up), waiting up to timeoutMs. */
  async leader(timeoutMs = 15_000): Promise<DurableManager> {
    let found: DurableManager | undefined;
    await this.until(() => (found = [...this.managers.values()].find((m) => m.log.isLeader() && m.manager.isLeading())) !== undefined, timeoutMs, 'a leading manager');
    return found!;
  }

  /** The leading manager now, if any. */
  leading(): DurableManager | undefined {
    return [...this.managers.values()].find((m) => m.log.isLeader() && m.manager.isLeading());
  }

  /** Stops a manager: its loops, its Raft node, its storage and its server (the data directory stays). */
  async stop(raftId: number): Promise<void> {
    const m = this.managers.get(raftId);
    if (m === undefined) return;
    this.managers.delete(raftId);
    m.manager.close();
    m.log.close();
    await m.node.stop();
    await m.storage.close();
    await m.server.close();
  }

  /** Joins a worker node and starts its simulated agent; resolves once the node is ready. */
  async addWorker(hostname: string, agent: Partial<SimAgentOptions> = {}): Promise<Node> {
    const leader = await this.leader();
    const node = makeNode(systemRandom, { hostname });
    await leader.store.write([{ op: 'create', target: { kind: 'node', object: node } }]);
    const a = new SimAgent(node, systemClock, () => this.leading()?.manager.dispatcher, agent);
    this.agents.set(node.id, a);
    a.start();
    await this.until(() => this.leading()?.store.view.get('node', node.id)?.status.state === 'ready', 15_000, `node ${hostname} ready`);
    return node;
  }

  /** Tasks of a service that should run and do, as the leading manager's store says. */
  running(serviceId: string): Task[] {
    const s = this.leading()?.store;
    if (s === undefined) return [];
    return s.view.tasksOfService(serviceId).filter((t) => t.desiredState === TaskState.RUNNING && t.status.state === TaskState.RUNNING);
  }

  /** Waits (real time) until cond() holds. */
  async until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!cond()) {
      if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Loop errors of every manager, for an assertion at the end of a test. */
  assertNoLoopErrors(): void {
    for (const m of this.managers.values()) assert.deepEqual(m.errors.map(String), [], `loop errors on manager ${m.raftId}`);
  }

  async destroy(): Promise<void> {
    for (const a of this.agents.values()) a.stop();
    for (const id of [...this.managers.keys()]) await this.stop(id).catch(() => undefined);
    rmSync(this.root, { recursive: true, force: true });
  }
}
