// Shared fixtures for the PKI tests: a manager on a real mTLS socket on 127.0.0.1 with the CA
// service and stand-ins for the Raft, control and dispatcher services.
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { systemClock } from '../../src/types/clock';
import { verifiedPeer } from '../../src/pki/authz';
import { addCaService, type NodeRegistry } from '../../src/pki/ca-server';
import type { ClusterPki } from '../../src/pki/cluster-init';
import { MtlsServer, type RejectedPeer } from '../../src/pki/mtls-server';
import { NodeIdentity } from '../../src/pki/node-identity';
import type { NodeRole } from '../../src/pki/node-role';
import { clusterChannelOptions } from '../../src/pki/tls-credentials';

/** A stand-in service, named as the real one will be. */
export type StubName = 'raft' | 'control' | 'dispatcher';

/** What the stand-in services answer. */
export interface PingReply {
  nodeId: string;
  serial: string;
  text: string;
}

/** Absolute path of a file under test/pki/fixtures, from src or dist. */
export function fixturePath(file: string): string {
  let dir = __dirname;
  for (let i = 0; i < 5; i++) {
    const candidate = path.join(dir, 'test', 'pki', 'fixtures', file);
    if (existsSync(candidate)) return candidate;
    dir = path.dirname(dir);
  }
  throw new Error(`fixture ${file} not found above ${__dirname}`);
}

let stubCtors: Record<StubName, grpc.ServiceClientConstructor> | undefined;

/** Client constructors (and service definitions) of the stand-in services. */
export function stubs(): Record<StubName, grpc.ServiceClientConstructor> {
  if (stubCtors === undefined) {
    const files = ['raft-stub.proto', 'control-stub.proto', 'dispatcher-stub.proto'].map(fixturePath);
    const pkg = grpc.loadPackageDefinition(loadSync(files, { defaults: true })) as unknown as {
      shoal: { raft: { Raft: grpc.ServiceClientConstructor }; control: { Control: grpc.ServiceClientConstructor }; dispatcher: { Dispatcher: grpc.ServiceClientConstructor } };
    };
    stubCtors = { raft: pkg.shoal.raft.Raft, control: pkg.shoal.control.Control, dispatcher: pkg.shoal.dispatcher.Dispatcher };
  }
  return stubCtors;
}

/** An in-memory membership: what the replicated store will be for the CA and the authorizer. */
export class TestRegistry implements NodeRegistry {
  readonly roles = new Map<string, NodeRole>();

  roleOf(nodeId: string): NodeRole | undefined {
    return this.roles.get(nodeId);
  }

  admit(nodeId: string, role: NodeRole): Promise<void> {
    this.roles.set(nodeId, role);
    return Promise.resolve();
  }

  /** `shoal node rm` */
  remove(nodeId: string): void {
    this.roles.delete(nodeId);
  }

  /** `shoal node promote|demote` */
  setRole(nodeId: string, role: NodeRole): void {
    assert.ok(this.roles.has(nodeId), `no node ${nodeId}`);
    this.roles.set(nodeId, role);
  }
}

/** A manager listening on 127.0.0.1 and what the tests observe of it. */
export interface TestManager {
  address: string;
  identity: NodeIdentity;
  registry: TestRegistry;
  server: MtlsServer;
  /** Connections closed after the TLS handshake, with the reason. */
  rejected: RejectedPeer[];
  /** How many calls reached each stand-in service's handlers. */
  handled: Record<StubName, number>;
  /** Open Session streams of the stand-in dispatcher. */
  sessions: Set<grpc.ServerWritableStream<unknown, PingReply>>;
  close(): Promise<void>;
}

function replyFor(call: grpc.ServerUnaryCall<{ text: string }, PingReply> | grpc.ServerWritableStream<{ text: string }, PingReply>, text: string): PingReply {
  const auth = call.getAuthContext();
  return { nodeId: verifiedPeer(auth)?.nodeId ?? '', serial: auth.sslPeerCertificate?.serialNumber ?? '', text };
}

/** Starts a manager of pki's cluster on an OS-chosen loopback port. */
export async function startManager(pki: ClusterPki, opts: { certValidityMs?: number } = {}): Promise<TestManager> {
  const registry = new TestRegistry();
  await registry.admit(pki.firstManager.info.nodeId, 'manager');
  const identity = new NodeIdentity(pki.firstManager.material);
  const rejected: RejectedPeer[] = [];
  const sessions = new Set<grpc.ServerWritableStream<unknown, PingReply>>();
  const handled: Record<StubName, number> = { raft: 0, control: 0, dispatcher: 0 };
  const server = new MtlsServer({
    identity,
    host: '127.0.0.1',
    port: 0,
    clusterId: pki.rootCa.clusterId,
    membership: registry,
    clock: systemClock,
    onRejectedPeer: (r) => rejected.push(r),
  });
  addCaService(server.grpc, { rootCa: pki.rootCa, tokens: pki.tokens, registry, clock: systemClock, certValidityMs: opts.certValidityMs });
  for (const name of ['raft', 'control', 'dispatcher'] as const) {
    server.grpc.addService(stubs()[name].service, {
      Ping: (call: grpc.ServerUnaryCall<{ text: string }, PingReply>, cb: grpc.sendUnaryData<PingReply>) => {
        handled[name]++;
        cb(null, replyFor(call, `${name} pong`));
      },
      Session: (call: grpc.ServerWritableStream<{ text: string }, PingReply>) => {
        handled[name]++;
        sessions.add(call);
        call.on('cancelled', () => sessions.delete(call));
        call.write(replyFor(call, 'session open'));
      },
    });
  }
  const port = await server.listen();
  return { address: `127.0.0.1:${port}`, identity, registry, server, rejected, handled, sessions, close: () => server.close() };
}

/** Client options for tests: no connection sharing between clients, so each test sees its own handshake. */
export const testClientOptions: grpc.ChannelOptions = { ...clusterChannelOptions, 'grpc.use_local_subchannel_pool': 1 };

/** One Ping call to a stand-in service with the given credentials. */
export async function ping(name: StubName, address: string, creds: grpc.ChannelCredentials): Promise<PingReply> {
  const client = new (stubs()[name])(address, creds, testClientOptions);
  try {
    return await new Promise<PingReply>((resolve, reject) => {
      (client as unknown as { Ping: (r: object, o: object, cb: (e: grpc.ServiceError | null, r: PingReply) => void) => void }).Ping(
        { text: 'ping' },
        { deadline: Date.now() + 5000 },
        (err, res) => (err ? reject(err) : resolve(res)),
      );
    });
  } finally {
    client.close();
  }
}

/** Asserts that p rejects with a gRPC error of the given status code (and details matching re); returns it. */
export async function rejectsWithCode(p: Promise<unknown>, code: grpc.status, re?: RegExp): Promise<grpc.ServiceError> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof Error, 'expected the call to fail');
  const err = caught as grpc.ServiceError;
  assert.equal(err.code, code, `expected status ${grpc.status[code]}, got ${grpc.status[err.code]}: ${err.details}`);
  if (re !== undefined) assert.match(err.details, re);
  return err;
}

/** A fresh temporary directory; the caller removes it. */
export async function tempDir(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'shoal-pki-'));
}
