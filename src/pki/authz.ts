import {
  ResponderBuilder,
  ServerInterceptingCall,
  ServerListenerBuilder,
  type ServerInterceptingCallInterface,
  type ServerInterceptor,
  type ServerMethodDefinition,
} from '@grpc/grpc-js';
import type { Clock } from '../types/clock';
import { PermissionDeniedError, ShoalError, UnauthenticatedError } from '../types/errors';
import { grpcStatusOf } from '../types/grpc-status';
import { nodeSubjectOf, type NodeSubject } from './node-certificate';
import type { NodeRole } from './node-role';

/** What grpc-js tells a server about a call's TLS peer (not exported by name from grpc-js). */
export type AuthContext = ReturnType<ServerInterceptingCallInterface['getAuthContext']>;

/** Who may call a method: the roles whose certificates are accepted, or anyone (no certificate needed). */
export type MethodAccess = readonly NodeRole[] | 'anyone';

/** Keys are a fully-qualified service name ("shoal.raft.Raft") or a method path ("/shoal.ca.CA/Join"). */
export type AuthzPolicy = Readonly<Record<string, MethodAccess>>;

/**
 * The cluster's one policy table (DESIGN.md §1, §8). A method path entry overrides its service's entry;
 * a method found in neither is refused, so a new service is closed until someone lists it here.
 */
export const clusterPolicy: AuthzPolicy = {
  'shoal.raft.Raft': ['manager'],
  'shoal.control.Control': ['manager'],
  // The store's change stream carries every object (join tokens too): managers only, like the rest.
  '/shoal.control.Control/Watch': ['manager'],
  'shoal.dispatcher.Dispatcher': ['worker', 'manager'],
  'shoal.ca.CA': ['worker', 'manager'],
  // A joining node has no certificate yet: the join token, checked by the handler, authenticates it.
  '/shoal.ca.CA/Join': 'anyone',
  // Public data; the joining node checks its digest against the token before trusting it.
  '/shoal.ca.CA/GetRootCACertificate': 'anyone',
};

/** The access a policy gives a method path, or undefined if it lists neither the method nor its service. */
export function accessFor(policy: AuthzPolicy, methodPath: string): MethodAccess | undefined {
  const slash = methodPath.lastIndexOf('/');
  const service = methodPath.slice(1, slash > 0 ? slash : undefined);
  return Object.hasOwn(policy, methodPath) ? policy[methodPath] : Object.hasOwn(policy, service) ? policy[service] : undefined;
}

/** Who is in the cluster now: the role of a member in good standing, undefined for a removed or unknown node. */
export interface Membership {
  roleOf(nodeId: string): NodeRole | undefined;
}

/** The node on the other end of a call, from a certificate the TLS layer verified against the cluster CA. */
export interface PeerNode extends NodeSubject {
  notAfterMs: number;
}

/**
 * The verified peer of a call, or undefined if it presented no certificate that chains to the
 * cluster CA (grpc-js reports a peer certificate only when the TLS socket is authorized).
 */
export function verifiedPeer(auth: AuthContext): PeerNode | undefined {
  const cert = auth.sslPeerCertificate;
  if (auth.transportSecurityType !== 'ssl' || cert === undefined) return undefined;
  return { ...nodeSubjectOf(cert.subject), notAfterMs: Date.parse(cert.valid_to) };
}

/** Settings of an Authorizer. */
export interface AuthorizerOptions {
  clusterId: string;
  membership: Membership;
  /** Wall-clock time (epoch ms), to refuse a certificate that expired while its connection stayed open. */
  clock: Clock;
  policy?: AuthzPolicy;
}

/** Applies the policy table, the cluster check and the membership check to one call. */
export class Authorizer {
  private readonly policy: AuthzPolicy;

  constructor(private readonly opts: AuthorizerOptions) {
    this.policy = opts.policy ?? clusterPolicy;
  }

  /** Returns the verified caller (undefined for an open method called without certificate), or throws a typed error. */
  authorize(methodPath: string, auth: AuthContext): PeerNode | undefined {
    const access = accessFor(this.policy, methodPath);
    if (access === undefined) throw new PermissionDeniedError(`${methodPath} is not in the authorization policy`);
    let peer: PeerNode | undefined;
    try {
      peer = verifiedPeer(auth);
    } catch (cause) {
      throw new PermissionDeniedError(`peer certificate is not a shoal node certificate: ${(cause as Error).message}`, { cause });
    }
    if (access === 'anyone') return peer;
    if (peer === undefined) throw new UnauthenticatedError(`${methodPath} needs a client certificate from this cluster's CA`);
    if (peer.clusterId !== this.opts.clusterId) {
      throw new PermissionDeniedError(`node ${peer.nodeId} belongs to cluster ${peer.clusterId}, not ${this.opts.clusterId}`);
    }
    if (peer.notAfterMs <= this.opts.clock.now()) throw new UnauthenticatedError(`certificate of node ${peer.nodeId} has expired`);
    const current = this.opts.membership.roleOf(peer.nodeId);
    if (current === undefined) throw new PermissionDeniedError(`node ${peer.nodeId} is not a member of the cluster`);
    // Both the certificate's role and the current one must be allowed: a demoted manager loses its
    // manager rights at once, and a promoted worker gains them only with its re-issued certificate.
    if (!access.includes(peer.role) || !access.includes(current)) {
      const role = access.includes(peer.role) ? current : peer.role;
      throw new PermissionDeniedError(`role ${role} of node ${peer.nodeId} may not call ${methodPath}`);
    }
    return peer;
  }
}

/**
 * A server interceptor that runs the Authorizer before any handler of any service sees a call:
 * installed once on the server, so no handler can forget it.
 */
export function authzInterceptor(authorizer: Authorizer): ServerInterceptor {
  return (method: ServerMethodDefinition<unknown, unknown>, call: ServerInterceptingCallInterface) => {
    let refusal: ShoalError | undefined;
    try {
      authorizer.authorize(method.path, call.getAuthContext());
    } catch (err) {
      refusal = ShoalError.is(err) ? err : new PermissionDeniedError('authorization failed', { cause: err });
    }
    const listener = new ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        if (refusal === undefined) next(metadata);
        else call.sendStatus(grpcStatusOf(refusal));
      })
      .build();
    const responder = new ResponderBuilder().withStart((next) => next(listener)).build();
    return new ServerInterceptingCall(call, responder);
  };
}
