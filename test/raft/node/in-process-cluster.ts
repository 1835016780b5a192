// Test harness: Raft members in this process, each with its own mTLS gRPC server and LevelDB.
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { newId } from '../../../src/pki/ids';
import { generateKeyPair } from '../../../src/pki/keys';
import { MtlsServer } from '../../../src/pki/mtls-server';
import { NodeIdentity } from '../../../src/pki/node-identity';
import type { NodeRole } from '../../../src/pki/node-role';
import { RootCA, nodeCertValidity } from '../../../src/pki/root-ca';
import { channelKeepaliveOptions, managerChannelCredentials } from '../../../src/pki/tls-credentials';
import { RaftNode, type RaftNodeOptions } from '../../../src/raft/node/raft-node';
import { LevelRaftStorage } from '../../../src/raft/storage/level-storage';
import { GrpcTransport } from '../../../src/raft/transport/grpc-transport';
import { raftServiceDefinition } from '../../../src/raft/transport/raft-service';
import { systemClock } from '../../../src/types/clock';
import { ListStateMachine } from './fixtures/list-state-machine';

/** A member's server before its node starts. */
export interface Listening {
  server: MtlsServer;
  identity: NodeIdentity;
}

/** One running member. */
export interface Member {
  id: number;
  address: string;
  node: RaftNode<number>;
  sm: ListStateMachine;
  storage: LevelRaftStorage;
  server: MtlsServer;
}

type Tuning = Partial<Pick<RaftNodeOptions<number>, 'heartbeatMs' | 'electionTimeoutMs' | 'proposalTimeoutMs' | 'snapshotEveryEntries' | 'keepTailEntries'>>;

/** Members in one process; always call destroy() (it stops servers and removes temp dirs). */
export class InProcessCluster {
  readonly members = new Map<number, Member>();
  private readonly roles = new Map<string, NodeRole>();

  private constructor(readonly root: string, private readonly ca: RootCA, private readonly tuning: Tuning) {}

  static async create(tuning: Tuning = {}): Promise<InProcessCluster> {
    const clusterId = newId();
    const ca = await RootCA.create(clusterId, Date.now());
    return new InProcessCluster(mkdtempSync(path.join(os.tmpdir(), 'shoal-raft-inproc-')), ca, tuning);
  }

  /** Starts member `id`'s server and node. `bootstrap` founds a cluster; `knownPeers` joins one. */
  async start(id: number, how: { bootstrap?: Record<number, string>; knownPeers?: Record<number, string>; listening?: Listening; forceNewCluster?: boolean }): Promise<Member> {
    const { server, identity } = how.listening ?? await this.listen();
    const transport = new GrpcTransport({ selfId: id, credentials: managerChannelCredentials(identity), channelOptions: channelKeepaliveOptions });
    server.grpc.addService(raftServiceDefinition, transport.service);
    const storage = await LevelRaftStorage.open(path.join(this.root, `node${id}`));
    const sm = new ListStateMachine();
    let node: RaftNode<number>;
    try {
      node = await RaftNode.open<number>({ id, storage, transport, stateMachine: sm, bootstrap: how.bootstrap, knownPeers: how.knownPeers, forceNewCluster: how.forceNewCluster, ...this.tuning });
    } catch (err) {
      await storage.close();
      await server.close();
      throw err;
    }
    const m: Member = { id, address: `127.0.0.1:${server.port}`, node, sm, storage, server };
    this.members.set(id, m);
    return m;
  }

  /** A listening mTLS server with a fresh manager certificate (its port is the member's address). */
  async listen(): Promise<Listening> {
    const identity = await this.identity('manager');
    const server = new MtlsServer({
      identity, host: '127.0.0.1', port: 0, clusterId: this.ca.clusterId, clock: systemClock,
      membership: { roleOf: (n) => this.roles.get(n) },
    });
    await server.listen();
    return { server, identity };
  }

  /** A fresh certificate of this cluster for a member in good standing with `role`. */
  async identity(role: NodeRole): Promise<NodeIdentity> {
    const keys = await generateKeyPair();
    const nodeId = newId();
    this.roles.set(nodeId, role);
    const certPem = this.ca.issue(keys.publicKeyPem, { nodeId, role, clusterId: this.ca.clusterId }, nodeCertValidity(Date.now()));
    return new NodeIdentity({ certPem, keyPem: keys.privateKeyPem, caCertPem: this.ca.certPem });
  }

  /** Founds a cluster of `size` members with ids 1..size. */
  async found(size: number): Promise<void> {
    const servers = await Promise.all(Array.from({ length: size }, () => this.listen()));
    const bootstrap = Object.fromEntries(servers.map((s, i) => [i + 1, `127.0.0.1:${s.server.port}`]));
    await Promise.all(servers.map((listening, i) => this.start(i + 1, { bootstrap, listening })));
  }

  get(id: number): Member {
    const m = this.members.get(id);
    if (m === undefined) throw new Error(`no member ${id}`);
    return m;
  }

  /** The member that leads, waiting up to timeoutMs for one. */
  async leader(timeoutMs = 10_000): Promise<Member> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      for (const m of this.members.values()) if (m.node.isLeader()) return m;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`no leader within ${timeoutMs} ms`);
  }

  /** Stops one member (node, storage, server). */
  async stop(id: number): Promise<void> {
    const m = this.members.get(id);
    if (m === undefined) return;
    this.members.delete(id);
    await m.node.stop();
    await m.storage.close();
    await m.server.close();
  }

  async destroy(): Promise<void> {
    for (const id of [...this.members.keys()]) await this.stop(id).catch(() => undefined);
    rmSync(this.root, { recursive: true, force: true });
  }
}
