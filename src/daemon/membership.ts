import * as grpc from '@grpc/grpc-js';
import { verifiedPeer } from '../pki/authz';
import type { NodeIdentity } from '../pki/node-identity';
import type { NodeRole } from '../pki/node-role';
import { clusterChannelOptions, managerChannelCredentials } from '../pki/tls-credentials';
import { FailedPreconditionError, InvalidArgumentError, PermissionDeniedError, UnauthenticatedError, UnavailableError } from '../types/errors';
import { callJson, jsonHandler, jsonServiceDefinition } from './json-service';
import { typedErrorOf } from './typed-errors';

/**
 * shoal.raft.Membership: the small manager-to-manager service through which a node that got a
 * manager certificate becomes a Raft voter, and through which a follower's CA records a joined
 * node on the leader. A follower forwards each call to the leader once.
 */
export const membershipServiceName = 'shoal.raft.Membership';
export const membershipService = jsonServiceDefinition(membershipServiceName, ['Join', 'Promote', 'Leave', 'Admit', 'Role']);

/**
 * A manager asks for a Raft seat (Join: added as a learner, which catches up without counting
 * for the quorum), then, once caught up, to vote (Promote). Adding a voter that is not yet
 * running would leave a two-member group without a quorum until it starts.
 */
export interface MembershipJoinRequest {
  readonly nodeId: string;
  readonly raftId: number;
  /** host:port other managers reach it at. */
  readonly addr: string;
}

/** What a new voter needs: every member's address, and the root CA key every manager holds. */
export interface MembershipJoinReply {
  readonly members: Record<string, string>;
  readonly caKeyPem: string;
}

/** A follower's CA asks the leader to record a node that joined through it. */
export interface MembershipAdmitRequest {
  readonly nodeId: string;
  readonly role: NodeRole;
}

/** The leader's side of the service; a follower's calls are forwarded to the leader. */
export interface MembershipHandlers {
  /** True once this manager leads and has applied every earlier entry. */
  isLeader(): boolean;
  /** host:port of the leader, if known and not this manager. */
  leaderAddr(): string | undefined;
  /** Credentials of this manager for calls to other managers. */
  credentials(): grpc.ChannelCredentials;
  channelOptions: grpc.ChannelOptions;
  join(req: MembershipJoinRequest): Promise<MembershipJoinReply>;
  promote(req: MembershipJoinRequest): Promise<void>;
  /** A manager leaving the swarm gives up its Raft seat (the leader first hands leadership over). */
  leave(req: MembershipJoinRequest): Promise<void>;
  admit(req: MembershipAdmitRequest): Promise<void>;
  /** The role this manager's store gives a node (Role: workers ask it to find out they were promoted). */
  roleOf(nodeId: string): NodeRole | undefined;
}

/** How long a forwarded or client call may take (adding a voter waits for a commit). */
export const membershipCallTimeoutMs = 15_000;
const FORWARDED = 'shoal-forwarded';
const roleCallTimeoutMs = 5_000;

function checkJoin(r: Partial<MembershipJoinRequest>): MembershipJoinRequest {
  if (typeof r.nodeId !== 'string' || r.nodeId === '') throw new InvalidArgumentError(`node_id must be a node id, got ${JSON.stringify(r.nodeId)}`);
  if (typeof r.raftId !== 'number' || !Number.isSafeInteger(r.raftId) || r.raftId <= 0) throw new InvalidArgumentError(`raft_id must be a positive integer, got ${JSON.stringify(r.raftId)}`);
  if (typeof r.addr !== 'string' || !/^[^\s:]+:\d+$/.test(r.addr)) throw new InvalidArgumentError(`addr must be host:port, got ${JSON.stringify(r.addr)}`);
  return { nodeId: r.nodeId, raftId: r.raftId, addr: r.addr };
}

function checkAdmit(r: Partial<MembershipAdmitRequest>): MembershipAdmitRequest {
  if (typeof r.nodeId !== 'string' || r.nodeId === '') throw new InvalidArgumentError(`node_id must be a node id, got ${JSON.stringify(r.nodeId)}`);
  if (r.role !== 'manager' && r.role !== 'worker') throw new InvalidArgumentError(`role must be manager or worker, got ${JSON.stringify(r.role)}`);
  return { nodeId: r.nodeId, role: r.role };
}

/** Sends a call to the leader, or serves it here when this manager leads. */
export async function onLeader<Res>(h: MembershipHandlers, method: 'Join' | 'Promote' | 'Leave' | 'Admit', req: unknown, local: () => Promise<Res>, forwarded = false): Promise<Res> {
  if (h.isLeader()) return local();
  if (forwarded) throw new UnavailableError('this manager was asked as the leader, but it does not lead (leadership is changing)', { hint: 'retry' });
  const addr = h.leaderAddr();
  if (addr === undefined) throw new UnavailableError('no raft leader is known right now', { hint: 'retry once the managers have elected a leader' });
  return callJson<Res>(membershipService, addr, h.credentials(), h.channelOptions, method, { ...(req as object), [FORWARDED]: true }, membershipCallTimeoutMs);
}

/** Registers the service on the manager's server (the authorization policy admits managers only). */
export function addMembershipService(server: grpc.Server, h: MembershipHandlers): void {
  const callerIsManager = (call: grpc.ServerUnaryCall<unknown, unknown>): void => {
    const peer = verifiedPeer(call.getAuthContext());
    if (peer === undefined) throw new UnauthenticatedError('membership calls need a manager certificate');
    if (peer.role !== 'manager') throw new PermissionDeniedError(`node ${peer.nodeId} is not a manager`);
  };
  server.addService(membershipService, {
    Join: jsonHandler<Partial<MembershipJoinRequest> & Record<string, unknown>, MembershipJoinReply>((r, call) => {
      callerIsManager(call);
      const req = checkJoin(r);
      return onLeader(h, 'Join', req, () => h.join(req), r[FORWARDED] === true);
    }),
    Promote: jsonHandler<Partial<MembershipJoinRequest> & Record<string, unknown>, object>(async (r, call) => {
      callerIsManager(call);
      const req = checkJoin(r);
      await onLeader(h, 'Promote', req, () => h.promote(req), r[FORWARDED] === true);
      return {};
    }),
    Leave: jsonHandler<Partial<MembershipJoinRequest> & Record<string, unknown>, object>(async (r, call) => {
      callerIsManager(call);
      const req = checkJoin(r);
      await onLeader(h, 'Leave', req, () => h.leave(req), r[FORWARDED] === true);
      return {};
    }),
    // Answered from this manager's store, leader or not: a worker polls it, so it must stay cheap.
    Role: jsonHandler<object, { role: string }>((_r, call) => {
      const peer = verifiedPeer(call.getAuthContext());
      if (peer === undefined) throw new UnauthenticatedError('Role needs a node certificate');
      return Promise.resolve({ role: h.roleOf(peer.nodeId) ?? '' });
    }),
    Admit: jsonHandler<Partial<MembershipAdmitRequest> & Record<string, unknown>, object>(async (r, call) => {
      callerIsManager(call);
      const req = checkAdmit(r);
      await onLeader(h, 'Admit', req, () => h.admit(req), r[FORWARDED] === true);
      return {};
    }),
  });
}

/**
 * Asks the managers which role the cluster gives this node now. A worker asks every few seconds,
 * so it keeps one channel per manager (a unary call on an open HTTP/2 connection) instead of a
 * TLS handshake per question.
 */
export class RoleAsker {
  private readonly clients = new Map<string, grpc.Client>();
  private readonly Client = grpc.makeGenericClientConstructor(membershipService, 'json');

  constructor(private readonly identity: NodeIdentity) {}

  /** The role from the first manager that answers ('' if it does not know this node). */
  async ask(addrs: readonly string[]): Promise<string> {
    let last: unknown = new FailedPreconditionError('no manager address to ask');
    for (const addr of addrs) {
      try {
        return await this.askOne(addr);
      } catch (err) {
        last = err;
      }
    }
    throw last;
  }

  private askOne(addr: string): Promise<string> {
    let c = this.clients.get(addr);
    if (c === undefined) {
      c = new this.Client(addr, managerChannelCredentials(this.identity), clusterChannelOptions);
      this.clients.set(addr, c);
    }
    const client = c;
    return new Promise((resolve, reject) => {
      const fn = (client as unknown as Record<string, (r: unknown, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, v: { role?: string }) => void) => void>).Role;
      fn.call(client, {}, { deadline: Date.now() + roleCallTimeoutMs }, (err, v) => (err === null ? resolve(v.role ?? '') : reject(typedErrorOf(err, `Role at ${addr}`))));
    });
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}

/** A manager asks the managers at `addrs`, one after the other, for a Raft seat (Join), its vote (Promote), or to leave (Leave). */
export async function askManagers<Res>(method: 'Join' | 'Promote' | 'Leave', addrs: readonly string[], creds: grpc.ChannelCredentials, options: grpc.ChannelOptions, req: MembershipJoinRequest): Promise<Res> {
  let last: unknown = new FailedPreconditionError('no manager address to join through');
  for (const addr of addrs) {
    try {
      return await callJson<Res>(membershipService, addr, creds, options, method, req, membershipCallTimeoutMs);
    } catch (err) {
      last = err;
    }
  }
  throw last;
}
