import * as fs from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { EventBus, attachStore } from '../events/bus';
import { NatsPublisher, type AckedStore } from '../events/nats-publisher';
import { addControlService } from '../manager/controlapi/control-server';
import { ControlApi } from '../manager/controlapi/control-api';
import { ControlClientCtor } from '../manager/controlapi/control-proto';
import { addDispatcherService, DispatcherClientCtor } from '../manager/dispatcher/dispatcher-server';
import { Manager } from '../manager/manager';
import { raftNodeLog, raftNodeMembership } from '../manager/raft-node-log';
import type { ReplicatedLog } from '../manager/replicated-log';
import { Store } from '../manager/store/store';
import { caServiceDefinition } from '../pki/ca-proto';
import { addCaService, type NodeRegistry } from '../pki/ca-server';
import { JoinTokens, newJoinToken } from '../pki/join-token';
import type { MtlsServer } from '../pki/mtls-server';
import type { NodeIdentity } from '../pki/node-identity';
import type { NodeRole } from '../pki/node-role';
import type { RootCA } from '../pki/root-ca';
import { clusterChannelOptions, managerChannelCredentials } from '../pki/tls-credentials';
import { RaftNode } from '../raft/node/raft-node';
import { LevelRaftStorage } from '../raft/storage/level-storage';
import { GrpcTransport } from '../raft/transport/grpc-transport';
import { raftServiceDefinition } from '../raft/transport/raft-service';
import type { Clock } from '../types/clock';
import { ShoalError, UnavailableError } from '../types/errors';
import { DEFAULT_CLUSTER_SPEC, NEW_META, type Node } from '../types/objects';
import type { Random } from '../types/random';
import type { DaemonLogger, DaemonMetricsHooks } from './daemon-types';
import { addMembershipService, membershipService, onLeader, type MembershipHandlers, type MembershipJoinReply, type MembershipJoinRequest } from './membership';

/** Timing of the managers' Raft group (tests may shorten it). */
export interface RaftTuning {
  readonly heartbeatMs?: number;
  readonly electionTimeoutMs?: number;
}

/** What a manager's parts are made from. */
export interface ManagerPartsOptions {
  readonly dataRoot: string;
  readonly identity: NodeIdentity;
  readonly rootCa: RootCA;
  readonly raftId: number;
  /** host:port other managers reach this one at. */
  readonly advertiseAddr: string;
  /** The cluster's one mTLS server, already listening; this adds the manager's services to it. */
  readonly server: MtlsServer;
  /** Founds a new Raft group (swarm init). */
  readonly bootstrap?: Readonly<Record<number, string>>;
  /** Restart as the only manager of the Raft group (swarm init --force-new-cluster). */
  readonly forceNewCluster?: boolean;
  /** Members named by the leader when this manager joined. */
  readonly knownPeers?: Readonly<Record<number, string>>;
  readonly clock: Clock;
  readonly random: Random;
  readonly logger: DaemonLogger;
  readonly metrics?: DaemonMetricsHooks;
  readonly raft?: RaftTuning;
  /** nats://host:port to publish the cluster's events to while this manager leads ('' = off). */
  readonly eventsNats: string;
  /** Bound on events buffered for NATS while it is unreachable (unset = the publisher's default). */
  readonly eventsNatsBuffer?: number;
}

/** How long a new Raft node may take to find its leader before start gives up. */
const leaderWaitMs = 15_000;
const pollMs = 20;

/** Resolves once cond() holds, polling; rejects with an UnavailableError after timeoutMs. */
export async function waitUntil(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new UnavailableError(`${what} did not happen within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/**
 * The last event NATS confirmed, kept in a small JSON file of the data root (written to a temporary
 * file and renamed, so a crash leaves the old or the new one). Keyed by cluster id: a new swarm on
 * the same data root starts its Raft log again from index 1.
 */
export function natsAckedFile(file: string): AckedStore {
  return {
    load: (clusterId) => {
      let text: string;
      try {
        text = fs.readFileSync(file, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
      const v = JSON.parse(text) as { clusterId?: unknown; index?: unknown; sub?: unknown };
      if (v.clusterId !== clusterId || !Number.isSafeInteger(v.index) || !Number.isSafeInteger(v.sub)) return undefined;
      return { index: v.index as number, sub: v.sub as number };
    },
    save: (clusterId, key) => {
      const tmp = `${file}.tmp`;
      fs.writeFileSync(tmp, JSON.stringify({ clusterId, index: key.index, sub: key.sub }) + '\n', { mode: 0o600 });
      fs.renameSync(tmp, file);
    },
  };
}

/** A node object as the CA first records it: role and nothing else until its agent reports. */
export function newNodeObject(nodeId: string, role: NodeRole): Node {
  return {
    id: nodeId,
    meta: NEW_META,
    spec: { name: '', labels: {}, role, availability: 'active' },
    description: { hostname: '', platform: { os: '', architecture: '' }, resources: { nanoCPUs: 0, memoryBytes: 0 } },
    status: { state: 'unknown', addr: '', message: '' },
  };
}

/**
 * A manager's half of shoald (DESIGN.md §1): the Raft member over LevelDB, the replicated store
 * and the leader loops, the event bus, and the services of the cluster port — Raft, CA,
 * dispatcher, control, membership.
 */
export class ManagerParts {
  readonly bus = new EventBus();
  private readonly controlClients = new Map<string, grpc.Client>();
  private readonly detach: (() => void)[] = [];
  private nats: NatsPublisher | undefined;
  private closed = false;

  private constructor(
    private readonly o: ManagerPartsOptions,
    readonly storage: LevelRaftStorage,
    readonly raft: RaftNode<unknown>,
    readonly store: Store,
    readonly log: ReplicatedLog & { close(): void },
    readonly manager: Manager,
  ) {}

  /** Opens the Raft member (restarting, founding or joining) and serves the manager's services. */
  static async open(o: ManagerPartsOptions): Promise<ManagerParts> {
    const transport = new GrpcTransport({ selfId: o.raftId, credentials: managerChannelCredentials(o.identity), channelOptions: clusterChannelOptions });
    o.server.grpc.addService(raftServiceDefinition, transport.service);
    const storage = await LevelRaftStorage.open(path.join(o.dataRoot, 'raft'));
    // The store and the log adapter need each other: the store proposes through the log, the
    // Raft node applies into the store. The proxy closes the loop once both exist.
    const late: { log?: ReplicatedLog & { close(): void } } = {};
    const proxy: ReplicatedLog = {
      propose: async (d) => {
        if (late.log === undefined) throw new UnavailableError('the raft node is not open yet');
        const t0 = Date.now();
        try {
          return await late.log.propose(d);
        } finally {
          o.metrics?.observeProposal?.(Date.now() - t0);
        }
      },
      isLeader: () => late.log?.isLeader() ?? false,
      onLeadershipChange: (cb) => {
        if (late.log === undefined) throw new Error('leadership watched before the raft node is open');
        return late.log.onLeadershipChange(cb);
      },
    };
    const store = new Store(proxy, o.clock);
    let raft: RaftNode<unknown>;
    try {
      raft = await RaftNode.open<unknown>({
        id: o.raftId, storage, transport, stateMachine: store, bootstrap: o.bootstrap, knownPeers: o.knownPeers, forceNewCluster: o.forceNewCluster,
        clock: o.clock, random: o.random, heartbeatMs: o.raft?.heartbeatMs, electionTimeoutMs: o.raft?.electionTimeoutMs,
        onLeaderChange: (leader, isSelf) => o.logger.info({ raftLeader: leader, isSelf }, isSelf ? 'this manager leads' : 'raft leader changed'),
        onFatal: (err) => o.logger.error({ err }, 'raft node stopped after an error it cannot recover from'),
      });
    } catch (err) {
      await storage.close();
      await transport.close();
      throw err;
    }
    const log = raftNodeLog(raft, o.clock);
    late.log = log;
    const manager = new Manager(store, log, o.clock, o.random, {
      onError: (loop, err) => o.logger.warn({ loop, err: String(err) }, 'leader loop error'),
    });
    const parts = new ManagerParts(o, storage, raft, store, log, manager);
    parts.serve();
    o.metrics?.attachRaft?.(raft);
    o.metrics?.attachStore?.(store);
    o.metrics?.attachDispatcher?.(manager.dispatcher);
    return parts;
  }

  /** The current role of a node in the cluster (authorization, CA). */
  roleOf(nodeId: string): NodeRole | undefined {
    const n = this.store.view.get('node', nodeId);
    if (n !== undefined) return n.spec.role;
    // Until this manager's store has caught up (a new or restarting member), the certificate
    // alone vouches for the peer: otherwise the leader could never reach it to catch it up.
    return this.store.view.cluster() === undefined ? 'manager' : undefined;
  }

  /** host:port of the leader if known and another manager. */
  leaderAddr(): string | undefined {
    const id = this.raft.leaderId();
    if (id === 0 || id === this.o.raftId) return undefined;
    return this.raft.peers().get(id);
  }

  /** True while this manager holds a Raft seat (voter or learner); false once it was removed (demotion, node rm). */
  hasSeat(): boolean {
    const cs = this.raft.status().confState;
    return cs.voters.includes(this.o.raftId) || cs.learners.includes(this.o.raftId);
  }

  /** Addresses of the other managers as this manager's store last knew them. */
  otherManagerAddrs(selfNodeId: string): string[] {
    const fromStore = this.store.view.nodes().filter((n) => n.id !== selfNodeId && n.managerStatus !== undefined).map((n) => n.managerStatus!.addr);
    const fromRaft = [...this.raft.peers()].filter(([id]) => id !== this.o.raftId).map(([, a]) => a);
    return [...new Set([...fromRaft, ...fromStore])];
  }

  /** Addresses of every manager (Raft members), this one first. */
  managerAddrs(): string[] {
    const others = [...this.raft.peers()].filter(([id]) => id !== this.o.raftId).map(([, a]) => a);
    return [this.o.advertiseAddr, ...others];
  }

  /** Resolves once this manager leads and has applied everything before its term. */
  waitLeading(timeoutMs = leaderWaitMs): Promise<void> {
    return waitUntil(() => this.log.isLeader(), timeoutMs, 'leadership of the new cluster');
  }

  /** Resolves once this manager's store holds the cluster object (caught up with the leader). */
  waitCaughtUp(timeoutMs = leaderWaitMs): Promise<void> {
    return waitUntil(() => this.store.view.cluster() !== undefined, timeoutMs, 'catching up with the raft leader');
  }

  private membershipHandlers(): MembershipHandlers {
    return {
      isLeader: () => this.log.isLeader(),
      leaderAddr: () => this.leaderAddr(),
      credentials: () => managerChannelCredentials(this.o.identity),
      channelOptions: clusterChannelOptions,
      join: (req) => this.addLearner(req),
      promote: (req) => this.promote(req),
      leave: (req) => this.removeVoter(req),
      roleOf: (id) => this.store.view.get('node', id)?.spec.role,
      admit: async (req) => {
        if (this.store.view.get('node', req.nodeId) !== undefined) return;
        await this.store.write([{ op: 'create', target: { kind: 'node', object: newNodeObject(req.nodeId, req.role) } }]);
      },
    };
  }

  /** On the leader: a manager that joined gets a Raft seat as a learner, and the members' addresses. */
  private async addLearner(req: MembershipJoinRequest): Promise<MembershipJoinReply> {
    this.mustBeManagerNode(req.nodeId);
    if (this.raft.peers().get(req.raftId) !== req.addr) {
      this.o.logger.info({ nodeId: req.nodeId, raftId: req.raftId, addr: req.addr }, 'adding a raft learner');
      await this.raft.addLearner(req.raftId, req.addr);
    }
    return { members: Object.fromEntries([...this.raft.peers()].map(([id, a]) => [String(id), a])), caKeyPem: this.o.rootCa.keyPem };
  }

  /** On the leader: the learner has caught up; it votes from now on, and its node object says where it is. */
  private async promote(req: MembershipJoinRequest): Promise<void> {
    this.mustBeManagerNode(req.nodeId);
    if (!this.raft.status().confState.voters.includes(req.raftId)) {
      this.o.logger.info({ nodeId: req.nodeId, raftId: req.raftId }, 'making a raft learner a voter');
      await this.raft.promoteLearner(req.raftId);
    }
    for (let attempt = 0; ; attempt++) {
      const cur = this.store.view.get('node', req.nodeId);
      if (cur === undefined) return;
      try {
        await this.store.write([{ op: 'update', target: { kind: 'node', object: { ...cur, managerStatus: { raftId: req.raftId, addr: req.addr, leader: false, reachability: 'reachable' } } } }]);
        return;
      } catch (err) {
        if (!ShoalError.is(err, 'Conflict') || attempt >= 5) throw err;
      }
    }
  }

  /** On the leader: a manager leaving the swarm gives up its seat; the leader itself first hands leadership over. */
  private async removeVoter(req: MembershipJoinRequest): Promise<void> {
    if (req.raftId === this.o.raftId) {
      await raftNodeMembership(this.raft).transferLeadership?.();
      throw new UnavailableError('this manager led; leadership has moved so that it can leave', { hint: 'retry' });
    }
    if (!this.raft.peers().has(req.raftId)) return;
    this.o.logger.info({ nodeId: req.nodeId, raftId: req.raftId }, 'removing a raft member that leaves the swarm');
    await this.raft.removeMember(req.raftId);
  }

  private mustBeManagerNode(nodeId: string): void {
    const n = this.store.view.get('node', nodeId);
    if (n === undefined || n.spec.role !== 'manager') {
      throw new ShoalError('PermissionDenied', `node ${nodeId} is not a manager of this cluster`, { hint: 'join with the manager join token' });
    }
  }

  private registry(): NodeRegistry {
    const h = this.membershipHandlers();
    return {
      roleOf: (id) => this.roleOf(id),
      admit: (nodeId, role) => onLeader(h, 'Admit', { nodeId, role }, () => h.admit({ nodeId, role })),
    };
  }

  private leaderControlClient(): grpc.Client | undefined {
    const addr = this.leaderAddr();
    if (addr === undefined) return undefined;
    let c = this.controlClients.get(addr);
    if (c === undefined) {
      c = new ControlClientCtor(addr, managerChannelCredentials(this.o.identity), clusterChannelOptions);
      this.controlClients.set(addr, c);
    }
    return c;
  }

  private serve(): void {
    const { server, rootCa, clock, random } = this.o;
    addCaService(server.grpc, {
      rootCa,
      tokens: {
        roleOf: (token) => {
          const c = this.store.view.cluster();
          return c === undefined ? undefined : new JoinTokens(rootCa.certPem, { ...c.joinTokens }).roleOf(token);
        },
      },
      registry: this.registry(),
      clock: { now: () => Date.now(), setTimer: clock.setTimer.bind(clock) },
      // `swarm update --cert-expiry` reaches the next certificate issued.
      certValidityMs: () => this.store.view.cluster()?.spec.caConfig.nodeCertExpiryMs ?? DEFAULT_CLUSTER_SPEC.caConfig.nodeCertExpiryMs,
    });
    addDispatcherService(server.grpc, () => (this.manager.isLeading() ? this.manager.dispatcher : undefined), { managers: () => this.manager.dispatcher.managers() });
    addControlService(server.grpc, {
      api: new ControlApi(this.store, clock, random, () => newJoinToken(rootCa.certPem), { raftMembership: raftNodeMembership(this.raft) }),
      isLeader: () => this.log.isLeader(),
      leaderClient: () => this.leaderControlClient(),
    });
    addMembershipService(server.grpc, this.membershipHandlers());
    this.detach.push(attachStore(this.bus, this.store));
    if (this.o.eventsNats !== '') {
      this.nats = new NatsPublisher({
        url: this.o.eventsNats, bus: this.bus, log: this.log,
        clusterId: () => this.store.view.cluster()?.id,
        bufferMax: this.o.eventsNatsBuffer,
        ackedStore: natsAckedFile(path.join(this.o.dataRoot, 'events-nats.json')),
        logger: (msg, level) => (level === 'warn' ? this.o.logger.warn(msg) : this.o.logger.info(msg)),
      });
      this.nats.start();
      this.o.metrics?.attachNats?.(this.nats);
    }
  }

  /** Stops the loops, the Raft member and its storage (the server is closed by its owner). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Off the cluster port at once: a manager that stops being one (demotion) must not keep serving as one.
    for (const def of [raftServiceDefinition, caServiceDefinition(), DispatcherClientCtor.service, ControlClientCtor.service, membershipService]) {
      this.o.server.grpc.removeService(def);
    }
    for (const d of this.detach) d();
    await this.nats?.close();
    this.manager.close();
    this.log.close();
    for (const c of this.controlClients.values()) c.close();
    this.controlClients.clear();
    await this.raft.stop();
    await this.storage.close();
  }
}
