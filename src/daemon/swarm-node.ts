import { randomInt } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { SwarmInitRequest, SwarmJoinRequest } from '../api/backend';
import { joinCluster, renewCertificate, type IssuedCredentials } from '../pki/ca-client';
import { CertRenewer } from '../pki/cert-renewer';
import { CertStore, type NodeTlsMaterial } from '../pki/cert-store';
import { initClusterPki } from '../pki/cluster-init';
import { parseJoinToken } from '../pki/join-token';
import { MtlsServer } from '../pki/mtls-server';
import { NodeIdentity } from '../pki/node-identity';
import { RootCA } from '../pki/root-ca';
import { clusterChannelOptions, managerChannelCredentials } from '../pki/tls-credentials';
import type { NetworkMode } from '../runtime/container-config';
import type { ContainerRuntime } from '../runtime/container-runtime';
import type { ImageStore } from '../runtime/image';
import { systemClock, type Clock } from '../types/clock';
import { FailedPreconditionError, InvalidArgumentError, ShoalError } from '../types/errors';
import { DEFAULT_CLUSTER_SPEC, NEW_META, validateClusterSpec, type Cluster, type Node } from '../types/objects';
import { systemRandom, type Random } from '../types/random';
import { addLogsService, workerPolicy } from '../worker/logs-server';
import { describeHost } from '../worker/node-description';
import { advertiseAddress, localDialAddress, parseHostPort, type HostPort } from './addresses';
import { GrpcControlOps } from './control-client';
import { longTimerClock } from './long-timer-clock';
import type { DaemonLogger, DaemonMetricsHooks } from './daemon-types';
import { ManagerParts, newNodeObject, type RaftTuning } from './manager-parts';
import { askManagers, membershipServiceName, RoleAsker, type MembershipJoinReply } from './membership';
import { readSwarmFile, recoveryHintFor, wipeSwarmState, writeSwarmFile, type SwarmFile } from './swarm-file';
import { typedErrorOf, typedOrAsIs } from './typed-errors';
import { WorkerParts } from './worker-parts';

/** What every swarm node is built on: the host's runtime and settings. */
export interface NodeContext {
  readonly dataRoot: string;
  readonly runtime: ContainerRuntime;
  readonly images: ImageStore;
  /** --listen-addr and --advertise-addr, used when a request leaves them empty. */
  readonly listenAddr: string;
  readonly advertiseAddr: string;
  readonly eventsNats: string;
  /** Bound on events buffered for NATS (unset = the publisher's default). */
  readonly eventsNatsBuffer?: number;
  readonly hostname: string;
  /** Engine labels (`shoald --label k=v`). */
  readonly labels?: Readonly<Record<string, string>>;
  readonly taskNetwork: NetworkMode;
  readonly raft?: RaftTuning;
  readonly logger: DaemonLogger;
  readonly metrics?: DaemonMetricsHooks;
  readonly clock?: Clock;
  readonly random?: Random;
}

/** The cluster port's policy: the cluster's table, the agents' logs service, and manager membership. */
const daemonPolicy = { ...workerPolicy, [membershipServiceName]: ['manager'] as const, [`/${membershipServiceName}/Role`]: ['worker', 'manager'] as const };

/** How often a manager's agent is told the current managers. */
const managerRefreshMs = 2_000;

/** A worker asks whether it was promoted every this many refresh ticks. */
const workerRoleCheckTicks = 3;

/** Refresh ticks without a leader before a manager asks whether it is still one... */
const leaderlessTicksBeforeProbe = 2;
/** ...doubling each time the answer is "still a manager" (a lost quorum), up to about five minutes. */
const leaderlessTicksBeforeProbeMax = 150;

/** A fresh Raft member id: random, so ids are never reused across joins (RaftNode refuses reuse). */
const newRaftId = (): number => randomInt(1, 2 ** 47);

/** Docker's words for a node already in a swarm. */
export const alreadyInSwarm = 'This node is already part of a swarm. Use "docker swarm leave" to leave this swarm and join another one.';

/**
 * This host as a member of a swarm: its certificate, the cluster port (mTLS gRPC), its worker
 * half, and on a manager the manager half. Made by init, join, or resume (restart).
 */
export class SwarmNode {
  private manager: ManagerParts | undefined;
  private worker: WorkerParts | undefined;
  private control: GrpcControlOps | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  private renewer: CertRenewer | undefined;
  private probing = false;
  private leaderlessTicks = 0;
  private probeAfterTicks = leaderlessTicksBeforeProbe;
  private ticks = 0;
  private roleAsker: RoleAsker | undefined;
  private probe: Promise<void> | undefined;

  private constructor(
    private readonly ctx: NodeContext,
    readonly identity: NodeIdentity,
    readonly server: MtlsServer,
    private readonly listen: HostPort,
    public file: SwarmFile,
  ) {}

  private static clock(ctx: NodeContext): Clock {
    return ctx.clock ?? systemClock;
  }

  /** Listens on the cluster port with this identity; the agent's logs service is on it from the start. */
  private static async listenWith(ctx: NodeContext, identity: NodeIdentity, listenAddr: string, nodeRef: { node?: SwarmNode }): Promise<{ server: MtlsServer; listen: HostPort }> {
    const listen = parseHostPort('listen address', listenAddr);
    const server = new MtlsServer({
      identity, host: listen.host, port: listen.port, clusterId: identity.info.clusterId, clock: systemClock,
      policy: daemonPolicy,
      // A worker has no store: any manager certificate of the cluster may read its tasks' logs.
      membership: { roleOf: (id) => (nodeRef.node?.manager !== undefined ? nodeRef.node.manager.roleOf(id) : 'manager') },
      onRejectedPeer: (r) => ctx.logger.debug({ ...r }, 'cluster port refused a peer'),
    });
    addLogsService(server.grpc, ctx.runtime, (taskId) => nodeRef.node?.worker?.containerOf(taskId));
    try {
      await server.listen();
    } catch (err) {
      await server.close();
      throw new FailedPreconditionError(`cannot listen on ${listenAddr}: ${(err as Error).message}`, { cause: err, hint: 'pick another --listen-addr' });
    }
    return { server, listen };
  }

  private managerOptions(rootCa: RootCA, raftId: number) {
    const c = this.ctx;
    return {
      dataRoot: c.dataRoot, identity: this.identity, rootCa, raftId, advertiseAddr: this.file.advertiseAddr, server: this.server,
      clock: SwarmNode.clock(c), random: c.random ?? systemRandom, logger: c.logger, metrics: c.metrics, raft: c.raft, eventsNats: c.eventsNats, eventsNatsBuffer: c.eventsNatsBuffer,
    };
  }

  /** `swarm init`: a new cluster whose only manager (and leader) is this node. */
  static async init(ctx: NodeContext, req: SwarmInitRequest): Promise<SwarmNode> {
    if (req.spec !== undefined) validateClusterSpec(req.spec);
    const listenAddr = req.listenAddr !== '' ? req.listenAddr : ctx.listenAddr;
    parseHostPort('listen address', listenAddr);
    const pki = await initClusterPki({ clock: SwarmNode.clock(ctx) });
    const identity = new NodeIdentity(pki.firstManager.material);
    const certs = new CertStore(path.join(ctx.dataRoot, 'certificates'));
    const ref: { node?: SwarmNode } = {};
    const { server, listen } = await SwarmNode.listenWith(ctx, identity, listenAddr, ref);
    const advertise = advertiseAddress(req.advertiseAddr !== '' ? req.advertiseAddr : ctx.advertiseAddr, listen, server.port);
    const raftId = newRaftId();
    const { nodeId, clusterId } = identity.info;
    const node = new SwarmNode(ctx, identity, server, listen, {
      nodeId, clusterId, listenAddr: localBind(listen, server.port), advertiseAddr: advertise, raftId, managers: [advertise],
    });
    ref.node = node;
    try {
      await certs.saveNode(pki.firstManager.material);
      await certs.saveRootCa({ certPem: pki.rootCa.certPem, keyPem: pki.rootCa.keyPem });
      node.manager = await ManagerParts.open({ ...node.managerOptions(pki.rootCa, raftId), bootstrap: { [raftId]: advertise } });
      await node.manager.waitLeading();
      const cluster: Cluster = {
        id: clusterId, meta: NEW_META, spec: req.spec ?? DEFAULT_CLUSTER_SPEC,
        joinTokens: { worker: pki.tokens.current('worker'), manager: pki.tokens.current('manager') },
      };
      const self: Node = {
        ...newNodeObject(nodeId, 'manager'),
        description: describeHost(ctx.hostname),
        managerStatus: { raftId, addr: advertise, leader: true, reachability: 'reachable' },
      };
      await node.manager.store.write([
        { op: 'create', target: { kind: 'cluster', object: cluster } },
        { op: 'create', target: { kind: 'node', object: self } },
      ]);
      await writeSwarmFile(ctx.dataRoot, node.file);
      await node.startWorker();
      ctx.logger.info({ nodeId, clusterId, advertise, raftId }, 'swarm initialized: this node is its manager');
      return node;
    } catch (err) {
      await node.stop().catch(() => undefined);
      await wipeSwarmState(ctx.dataRoot);
      throw err;
    }
  }

  /** `swarm join`: a certificate from the CA with the token, then the agent; a manager also takes a Raft seat. */
  static async join(ctx: NodeContext, req: SwarmJoinRequest): Promise<SwarmNode> {
    if (req.remoteAddrs.length === 0) throw new InvalidArgumentError('remote_addrs must name at least one manager (host:port)');
    for (const a of req.remoteAddrs) parseHostPort('remote address', a);
    parseJoinToken(req.joinToken);
    const listenAddr = req.listenAddr !== '' ? req.listenAddr : ctx.listenAddr;
    parseHostPort('listen address', listenAddr);
    const issued = await SwarmNode.certificate(req);
    const identity = new NodeIdentity(issued.material);
    const ref: { node?: SwarmNode } = {};
    const { server, listen } = await SwarmNode.listenWith(ctx, identity, listenAddr, ref);
    const advertise = advertiseAddress(req.advertiseAddr !== '' ? req.advertiseAddr : ctx.advertiseAddr, listen, server.port);
    const { nodeId, clusterId, role } = identity.info;
    const raftId = role === 'manager' ? newRaftId() : 0;
    const node = new SwarmNode(ctx, identity, server, listen, {
      nodeId, clusterId, listenAddr: localBind(listen, server.port), advertiseAddr: advertise, raftId, managers: [...req.remoteAddrs],
    });
    ref.node = node;
    const certs = new CertStore(path.join(ctx.dataRoot, 'certificates'));
    try {
      await certs.saveNode(issued.material);
      if (role === 'manager') await node.takeSeat(req.remoteAddrs, raftId);
      await writeSwarmFile(ctx.dataRoot, node.file);
      await node.startWorker();
      ctx.logger.info({ nodeId, clusterId, role, advertise }, 'joined the swarm');
      return node;
    } catch (err) {
      await node.stop().catch(() => undefined);
      await wipeSwarmState(ctx.dataRoot);
      throw typedOrAsIs(err, 'join');
    }
  }

  /** The CA's join call against each remote manager in turn; the first answer wins. */
  private static async certificate(req: SwarmJoinRequest): Promise<IssuedCredentials> {
    let last: unknown;
    for (const address of req.remoteAddrs) {
      try {
        return await joinCluster({ address, token: req.joinToken });
      } catch (err) {
        last = err;
        // A refused token is the same answer from every manager: no use asking the others.
        if (typedErrorOf(err, 'join').code === 'Unauthenticated') break;
      }
    }
    throw typedOrAsIs(last, 'join');
  }

  /**
   * Restart: resumes as the node the data root says (certificates and swarm.json), or returns
   * undefined if this host is in no swarm. A half-written or damaged data root is refused.
   */
  static async resume(ctx: NodeContext, opts: { forceNewCluster?: boolean } = {}): Promise<SwarmNode | undefined> {
    const certs = new CertStore(path.join(ctx.dataRoot, 'certificates'));
    const file = await readSwarmFile(ctx.dataRoot);
    let material: NodeTlsMaterial | undefined;
    try {
      material = await certs.loadNode();
    } catch (err) {
      throw damaged(ctx.dataRoot, (err as Error).message, err);
    }
    if (file === undefined && material === undefined) return undefined;
    if (file === undefined) throw damaged(ctx.dataRoot, `${certs.dir} holds a certificate but ${path.join(ctx.dataRoot, 'swarm.json')} is missing (an init or join did not finish)`);
    if (material === undefined) throw damaged(ctx.dataRoot, `${path.join(ctx.dataRoot, 'swarm.json')} exists but ${certs.path('node.crt')} is missing`);
    const identity = new NodeIdentity(material);
    if (identity.info.nodeId !== file.nodeId) throw damaged(ctx.dataRoot, `the certificate names node ${identity.info.nodeId} but swarm.json node ${file.nodeId}`);
    const role = identity.info.role;
    let rootCa: RootCA | undefined;
    if (role === 'manager') {
      const ca = await certs.loadRootCa().catch((err: unknown) => { throw damaged(ctx.dataRoot, (err as Error).message, err); });
      if (ca === undefined) throw damaged(ctx.dataRoot, `this node is a manager but ${certs.path('ca.key')} is missing`);
      if (!fs.existsSync(path.join(ctx.dataRoot, 'raft')) || file.raftId <= 0) throw damaged(ctx.dataRoot, `this node is a manager but ${path.join(ctx.dataRoot, 'raft')} is missing`);
      rootCa = RootCA.load(ca.certPem, ca.keyPem);
    }
    const ref: { node?: SwarmNode } = {};
    const { server, listen } = await SwarmNode.listenWith(ctx, identity, file.listenAddr, ref);
    const node = new SwarmNode(ctx, identity, server, listen, file);
    ref.node = node;
    try {
      if (rootCa !== undefined) node.manager = await ManagerParts.open({ ...node.managerOptions(rootCa, file.raftId), forceNewCluster: opts.forceNewCluster });
      else if (opts.forceNewCluster === true) throw new FailedPreconditionError('--force-new-cluster: this node is a worker; only a manager can start a new cluster from its state', { hint: 'run it on a manager' });
      await node.startWorker();
      ctx.logger.info({ nodeId: file.nodeId, clusterId: file.clusterId, role }, 'resumed swarm membership from the data root');
      return node;
    } catch (err) {
      await node.stop().catch(() => undefined);
      throw err;
    }
  }

  private async startWorker(): Promise<void> {
    const c = this.ctx;
    const managers = this.manager?.managerAddrs() ?? this.file.managers;
    this.worker = await WorkerParts.open({
      dataRoot: c.dataRoot, identity: this.identity, runtime: c.runtime, images: c.images, managers,
      addr: this.file.advertiseAddr, hostname: c.hostname, labels: c.labels, network: c.taskNetwork,
      clock: SwarmNode.clock(c), random: c.random ?? systemRandom, logger: c.logger,
    });
    if (this.manager !== undefined) this.control = new GrpcControlOps(localDialAddress(this.listen, this.server.port), this.identity);
    this.refreshTimer = setInterval(() => {
      if (this.probe !== undefined) return;
      const m = this.manager;
      let p: Promise<void> | undefined;
      if (m === undefined) {
        if (++this.ticks % workerRoleCheckTicks === 0) p = this.checkRole();
      } else {
        // A manager's agent follows the Raft membership: the leader's dispatcher may be on any manager.
        this.worker?.agent.setManagers(m.managerAddrs());
        p = this.checkSeat(m);
      }
      // stop() waits for a role change under way, so nothing opens after it.
      this.probe = p?.finally(() => { this.probe = undefined; });
    }, managerRefreshMs);
    this.refreshTimer.unref();
    this.renewer = new CertRenewer({
      identity: this.identity, renew: (id) => this.renewOnce(id), store: new CertStore(path.join(c.dataRoot, 'certificates')),
      clock: longTimerClock, random: c.random ?? systemRandom,
      onRenewed: (info) => {
        c.logger.info({ notAfter: new Date(info.notAfterMs).toISOString(), role: info.role }, 'node certificate renewed');
        if (info.role !== (this.manager !== undefined ? 'manager' : 'worker')) {
          c.logger.warn({ role: info.role }, 'this node\'s role changed; restart shoald to take it up');
        }
      },
      onError: (err) => c.logger.warn({ err: String(err) }, 'node certificate renewal failed; will retry'),
    });
    this.renewer.start();
  }

  /** Addresses of the managers to ask, this node's own first when it is one. */
  managerAddrs(): string[] {
    if (this.manager !== undefined) return [localDialAddress(this.listen, this.server.port), ...this.manager.managerAddrs().slice(1)];
    const learned = this.worker?.agent.managerList() ?? [];
    return learned.length > 0 ? [...learned] : [...this.file.managers];
  }

  /** One renewal: the CA of each manager in turn, until one answers. */
  private async renewOnce(identity: NodeIdentity): Promise<IssuedCredentials> {
    let last: unknown = new FailedPreconditionError('no manager address known to renew the certificate with');
    for (const addr of this.managerAddrs()) {
      try {
        return await renewCertificate(addr, identity);
      } catch (err) {
        last = err;
      }
    }
    throw last;
  }

  /**
   * The Raft seat of a manager that joined or was promoted: a learner first (catching up without
   * counting for the quorum), a voter once its store holds the cluster, with the root CA key every
   * manager keeps.
   */
  private async takeSeat(addrs: readonly string[], raftId: number): Promise<void> {
    const creds = managerChannelCredentials(this.identity);
    const seatReq = { nodeId: this.file.nodeId, raftId, addr: this.file.advertiseAddr };
    const seat = await askManagers<MembershipJoinReply>('Join', addrs, creds, clusterChannelOptions, seatReq);
    const rootCa = RootCA.load(this.identity.material.caCertPem, seat.caKeyPem);
    await new CertStore(path.join(this.ctx.dataRoot, 'certificates')).saveRootCa({ certPem: rootCa.certPem, keyPem: rootCa.keyPem });
    const knownPeers = Object.fromEntries(Object.entries(seat.members).map(([k, v]) => [Number(k), v]));
    // A Raft log of an earlier seat (a demotion that did not finish cleaning up) belongs to another member id.
    await fs.promises.rm(path.join(this.ctx.dataRoot, 'raft'), { recursive: true, force: true });
    const m = await ManagerParts.open({ ...this.managerOptions(rootCa, raftId), knownPeers });
    this.manager = m;
    await m.waitCaughtUp();
    await askManagers('Promote', m.managerAddrs().slice(1), creds, clusterChannelOptions, seatReq);
    this.file = { ...this.file, raftId, managers: m.managerAddrs() };
  }

  /**
   * Promotion: a worker asks a manager now and then which role the cluster gives it; once it is
   * manager, it takes a manager certificate and a Raft seat, and serves as a manager.
   */
  private async checkRole(): Promise<void> {
    if (this.probing || this.manager !== undefined) return;
    this.probing = true;
    try {
      const addrs = this.managerAddrs();
      this.roleAsker ??= new RoleAsker(this.identity);
      const role = await this.roleAsker.ask(addrs).catch(() => undefined);
      if (role !== 'manager') return;
      this.ctx.logger.info('this node was promoted: becoming a manager');
      const certs = new CertStore(path.join(this.ctx.dataRoot, 'certificates'));
      const issued = await this.renewOnce(this.identity);
      if (issued.info.role !== 'manager') return; // the CA's store is behind the one that answered; next time
      await certs.saveNode(issued.material);
      this.identity.update(issued.material);
      try {
        await this.takeSeat(addrs, newRaftId());
      } catch (err) {
        // takeSeat may have opened the manager half before it failed.
        const m = this.manager as ManagerParts | undefined;
        this.manager = undefined;
        await m?.close();
        await certs.removeRootCaKey();
        throw err;
      }
      await writeSwarmFile(this.ctx.dataRoot, this.file);
      this.control = new GrpcControlOps(localDialAddress(this.listen, this.server.port), this.identity);
      this.worker?.agent.setManagers((this.manager as ManagerParts | undefined)?.managerAddrs() ?? []);
      this.roleAsker?.close();
      this.roleAsker = undefined;
      this.ctx.logger.info({ raftId: this.file.raftId }, 'this node is a manager now');
    } catch (err) {
      this.ctx.logger.warn({ err: String(err) }, 'taking up the manager role failed; will try again');
    } finally {
      this.probing = false;
    }
  }

  /**
   * Demotion: a manager removed from the Raft group (node demote or rm) often never learns it
   * from Raft (the commit that removes it is not sent to it); it only finds itself without a
   * leader. So a manager that has had no leader for a while, or has applied its own removal,
   * asks the other managers' CA for a renewal: the CA issues the role its store holds.
   */
  private async checkSeat(m: ManagerParts): Promise<void> {
    if (this.probing) return;
    const seated = m.hasSeat();
    if (seated && m.raft.leaderId() !== 0) {
      this.leaderlessTicks = 0;
      this.probeAfterTicks = leaderlessTicksBeforeProbe;
      return;
    }
    if (seated && ++this.leaderlessTicks < this.probeAfterTicks) return;
    this.leaderlessTicks = 0;
    this.probing = true;
    try {
      for (const addr of m.otherManagerAddrs(this.file.nodeId)) {
        const got = await renewCertificate(addr, this.identity).catch(() => undefined);
        if (got === undefined) continue;
        const certs = new CertStore(path.join(this.ctx.dataRoot, 'certificates'));
        await certs.saveNode(got.material);
        this.identity.update(got.material);
        if (got.info.role === 'worker') await this.becomeWorker(m, certs);
        // Still a manager: the group has no leader for another reason; ask less and less often.
        else this.probeAfterTicks = Math.min(leaderlessTicksBeforeProbeMax, this.probeAfterTicks * 2);
        return;
      }
    } catch (err) {
      this.ctx.logger.error({ err: String(err) }, 'checking this manager\'s membership failed');
    } finally {
      this.probing = false;
    }
  }

  /** With a worker certificate in place: stops the manager half and forgets the Raft log and the CA key; the agent and tasks go on. */
  private async becomeWorker(m: ManagerParts, certs: CertStore): Promise<void> {
    const others = m.otherManagerAddrs(this.file.nodeId);
    this.ctx.logger.info({ managers: others }, 'this node was demoted: it is a worker now');
    this.manager = undefined;
    this.control?.close();
    this.control = undefined;
    await m.close();
    await certs.removeRootCaKey();
    this.file = { ...this.file, raftId: 0, managers: others };
    await writeSwarmFile(this.ctx.dataRoot, this.file);
    await fs.promises.rm(path.join(this.ctx.dataRoot, 'raft'), { recursive: true, force: true });
    this.worker?.agent.setManagers(others);
  }

  /** A manager leaving gives up its Raft seat first, so the others keep their quorum without it. */
  private async leaveRaft(): Promise<void> {
    const m = this.manager;
    if (m === undefined || m.raft.peers().size <= 1) return;
    const req = { nodeId: this.file.nodeId, raftId: this.file.raftId, addr: this.file.advertiseAddr };
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await askManagers('Leave', this.managerAddrs(), managerChannelCredentials(this.identity), clusterChannelOptions, req);
        return;
      } catch (err) {
        if (!ShoalError.is(err, 'Unavailable')) {
          this.ctx.logger.warn({ err: String(err) }, 'could not leave the raft group; the other managers still count this one');
          return;
        }
        await new Promise((r) => setTimeout(r, 300));
      }
    }
    this.ctx.logger.warn('could not leave the raft group in time; the other managers still count this one');
  }

  /** The manager half, if this node is a manager. */
  get managerParts(): ManagerParts | undefined {
    return this.manager;
  }

  /** Control operations through this node's manager, if it is one. */
  get controlOps(): GrpcControlOps | undefined {
    return this.control;
  }

  /** Stops everything this node runs; containers keep running, the data root keeps the membership. */
  async stop(): Promise<void> {
    const log = this.ctx.logger;
    if (this.refreshTimer !== undefined) clearInterval(this.refreshTimer);
    await this.probe;
    this.renewer?.stop();
    this.roleAsker?.close();
    this.roleAsker = undefined;
    log.debug('stopping the worker parts');
    await this.worker?.close();
    this.worker = undefined;
    this.control?.close();
    this.control = undefined;
    log.debug('stopping the manager parts');
    await this.manager?.close();
    this.manager = undefined;
    log.debug('closing the cluster port');
    await this.server.close();
    log.debug('swarm node stopped');
  }

  /** `swarm leave`: tasks' containers stopped and removed, everything of the swarm wiped from the data root. */
  async leave(): Promise<void> {
    if (this.refreshTimer !== undefined) clearInterval(this.refreshTimer);
    await this.probe;
    this.renewer?.stop();
    await this.leaveRaft();
    await this.worker?.removeAllTasks();
    this.worker = undefined;
    await this.stop();
    await wipeSwarmState(this.ctx.dataRoot);
    this.ctx.logger.info({ nodeId: this.file.nodeId }, 'left the swarm');
  }
}

/** The address the server is bound to, as swarm.json keeps it for a restart. */
function localBind(listen: HostPort, port: number): string {
  return listen.host.includes(':') ? `[${listen.host}]:${port}` : `${listen.host}:${port}`;
}

function damaged(dataRoot: string, what: string, cause?: unknown): FailedPreconditionError {
  return new FailedPreconditionError(`the swarm state in data root ${dataRoot} is damaged: ${what}`, { cause, hint: recoveryHintFor(dataRoot) });
}
