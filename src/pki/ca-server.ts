import type { Server, ServerUnaryCall, sendUnaryData, UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Clock } from '../types/clock';
import { InvalidArgumentError, PermissionDeniedError, UnauthenticatedError } from '../types/errors';
import { grpcStatusOf } from '../types/grpc-status';
import { verifiedPeer, type Membership } from './authz';
import { caServiceDefinition, type GetRootCaCertificateResponse, type JoinRequest, type JoinResponse, type RenewRequest, type RenewResponse } from './ca-proto';
import { verifyCsr } from './csr';
import { newId } from './ids';
import { joinTokenCharsMax } from './join-token';
import { nodeRoles, type NodeRole } from './node-role';
import { nodeCertValidity, type RootCA } from './root-ca';

/** Where the CA records who joined; the manager backs it with the replicated store. */
export interface NodeRegistry extends Membership {
  /** Records a new node with its role; resolves once the record is durable. */
  admit(nodeId: string, role: NodeRole): Promise<void>;
}

/** Settings of the CA service. */
export interface CaServiceOptions {
  rootCa: RootCA;
  /** Which role a join token grants (JoinTokens), or undefined for an unknown or rotated token. */
  tokens: { roleOf(token: string): NodeRole | undefined };
  registry: NodeRegistry;
  /** Wall-clock time (epoch ms): certificates are checked by TLS against real time. */
  clock: Clock;
  /**
   * Lifetime of issued node certificates; default 90 days, at least 1 hour. A function is asked at
   * every issue, so a changed cluster setting applies to the next certificate.
   */
  certValidityMs?: number | (() => number);
}

type Handler<Req, Res> = (req: Req, call: ServerUnaryCall<Req, Res>) => Res | Promise<Res>;

// Every handler's failure goes through the one error-to-status mapping.
function unary<Req, Res>(fn: Handler<Req, Res>) {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
    Promise.resolve()
      .then(() => fn(call.request, call))
      .then(
        (res) => callback(null, res),
        (err: unknown) => callback(grpcStatusOf(err)),
      );
  };
}

/** The handlers of shoal.ca.CA: root certificate, join by token, renew by certificate. */
export function caServiceImplementation(opts: CaServiceOptions): UntypedServiceImplementation {
  const { rootCa } = opts;
  const validity = (): ReturnType<typeof nodeCertValidity> => nodeCertValidity(opts.clock.now(), typeof opts.certValidityMs === 'function' ? opts.certValidityMs() : opts.certValidityMs);

  const getRootCaCertificate: Handler<object, GetRootCaCertificateResponse> = () => ({ certificatePem: rootCa.certPem });

  const join: Handler<JoinRequest, JoinResponse> = async (req) => {
    if (typeof req.token !== 'string' || req.token.length === 0 || req.token.length > joinTokenCharsMax) {
      throw new UnauthenticatedError('join needs a join token');
    }
    const role = opts.tokens.roleOf(req.token);
    // One message for wrong, stale and rotated tokens: a caller learns nothing about which it was.
    if (role === undefined) throw new UnauthenticatedError('join token is not valid for this cluster (wrong or rotated)');
    if (req.requestedRole !== '') {
      if (!nodeRoles.includes(req.requestedRole as NodeRole)) {
        throw new InvalidArgumentError(`requested role ${JSON.stringify(req.requestedRole)} is not manager or worker`);
      }
      if (req.requestedRole !== role) throw new PermissionDeniedError(`a ${role} join token cannot obtain a ${req.requestedRole} certificate`);
    }
    const publicKeyPem = verifyCsr(req.csrPem);
    const nodeId = newId();
    await opts.registry.admit(nodeId, role);
    const certificatePem = rootCa.issue(publicKeyPem, { nodeId, role, clusterId: rootCa.clusterId }, validity());
    return { nodeId, certificatePem, rootCaCertificatePem: rootCa.certPem };
  };

  const renew: Handler<RenewRequest, RenewResponse> = (req, call) => {
    // The authorization interceptor has already checked cluster, expiry and membership.
    const peer = verifiedPeer(call.getAuthContext());
    if (peer === undefined) throw new UnauthenticatedError('renew needs the current certificate');
    const role = opts.registry.roleOf(peer.nodeId);
    if (role === undefined) throw new PermissionDeniedError(`node ${peer.nodeId} is not a member of the cluster`);
    const publicKeyPem = verifyCsr(req.csrPem);
    // The role comes from the registry, not the old certificate: this is how promotion and demotion take effect.
    const certificatePem = rootCa.issue(publicKeyPem, { nodeId: peer.nodeId, role, clusterId: rootCa.clusterId }, validity());
    return { certificatePem, rootCaCertificatePem: rootCa.certPem };
  };

  return {
    GetRootCACertificate: unary(getRootCaCertificate),
    Join: unary(join),
    Renew: unary(renew),
  };
}

/** Adds shoal.ca.CA to a server (normally MtlsServer.grpc, whose interceptor enforces the policy). */
export function addCaService(server: Server, opts: CaServiceOptions): void {
  server.addService(caServiceDefinition(), caServiceImplementation(opts));
}
