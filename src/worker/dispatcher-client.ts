import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import type { NodeIdentity } from '../pki/node-identity';
import { clusterChannelOptions, managerChannelCredentials } from '../pki/tls-credentials';

function protoDir(): string {
  const up = __dirname.includes(`${path.sep}dist${path.sep}`) ? '../../..' : '../..';
  return path.resolve(__dirname, up, 'proto');
}

const Ctor = (grpc.loadPackageDefinition(loadSync(path.join(protoDir(), 'dispatcher.proto'), {
  longs: Number, defaults: true, keepCase: false,
})) as unknown as { shoal: { dispatcher: { Dispatcher: grpc.ServiceClientConstructor } } }).shoal.dispatcher.Dispatcher;

/** ManagerPeer as proto-loader decodes it. */
export interface WireManagerPeer {
  addr: string;
  leader: boolean;
  weight: number;
}

/** AssignmentsMessage as proto-loader decodes it. */
export interface WireAssignments {
  sessionId: string;
  sequence: number;
  type: string;
  changes: { action: string; taskJson: string; taskId: string }[];
  heartbeatPeriodMs: number;
  /** Set on complete sets; empty otherwise. */
  managers: WireManagerPeer[];
}

/** The managers a refusing manager named in its trailers (see MANAGERS_TRAILER on the manager side); empty if none. */
export function managersOfRefusal(err: unknown): WireManagerPeer[] {
  const md = (err as { metadata?: grpc.Metadata }).metadata;
  const v = md instanceof grpc.Metadata ? md.get('shoal-managers')[0] : undefined;
  if (typeof v !== 'string') return [];
  try {
    const list = JSON.parse(v) as unknown;
    return Array.isArray(list) ? list.filter((p): p is WireManagerPeer => typeof (p as WireManagerPeer)?.addr === 'string') : [];
  } catch {
    return [];
  }
}

/** A typed view of the generated shoal.dispatcher.Dispatcher client, over mTLS with this node's certificate. */
export class DispatcherClient {
  private readonly c: grpc.Client;

  constructor(readonly addr: string, identity: NodeIdentity) {
    this.c = new Ctor(addr, managerChannelCredentials(identity), clusterChannelOptions);
  }

  session(descriptionJson: string, addr: string): grpc.ClientReadableStream<WireAssignments> {
    return (this.c as unknown as { session(r: unknown): grpc.ClientReadableStream<WireAssignments> }).session({ descriptionJson, addr });
  }

  heartbeat(sessionId: string, deadlineMs: number): Promise<{ periodMs: number; managers: WireManagerPeer[] }> {
    return this.unary('heartbeat', { sessionId }, deadlineMs) as Promise<{ periodMs: number; managers: WireManagerPeer[] }>;
  }

  async updateDescription(sessionId: string, descriptionJson: string, addr: string, deadlineMs: number): Promise<void> {
    await this.unary('updateDescription', { sessionId, descriptionJson, addr }, deadlineMs);
  }

  async updateTaskStatus(sessionId: string, updates: { taskId: string; statusJson: string }[], deadlineMs: number): Promise<void> {
    await this.unary('updateTaskStatus', { sessionId, updates }, deadlineMs);
  }

  close(): void {
    this.c.close();
  }

  private unary(method: string, req: unknown, deadlineMs: number): Promise<unknown> {
    const fn = (this.c as unknown as Record<string, (r: unknown, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, v: unknown) => void) => void>)[method];
    return new Promise((resolve, reject) => {
      fn.call(this.c, req, { deadline: Date.now() + deadlineMs }, (e, v) => (e === null ? resolve(v) : reject(e)));
    });
  }
}
