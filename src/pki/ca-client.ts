import { X509Certificate } from 'node:crypto';
import type { ChannelCredentials, Client, ServiceError } from '@grpc/grpc-js';
import { InvalidArgumentError, UnauthenticatedError } from '../types/errors';
import { shoalErrorOf } from '../types/grpc-status';
import type { NodeTlsMaterial } from './cert-store';
import { caClientConstructor, type GetRootCaCertificateResponse, type JoinRequest, type JoinResponse, type RenewResponse } from './ca-proto';
import { createCsr } from './csr';
import { isId } from './ids';
import { caDigestOf, parseJoinToken } from './join-token';
import { generateKeyPair } from './keys';
import { checkNodeMaterial, type NodeIdentity } from './node-identity';
import type { NodeCertificateInfo } from './node-certificate';
import type { NodeRole } from './node-role';
import { clusterChannelOptions, managerChannelCredentials, pinnedChannelCredentials, unverifiedChannelCredentials } from './tls-credentials';

/** Default deadline of one CA call. */
export const caCallTimeoutMsDefault = 10_000;

/** Settings of joinCluster. */
export interface JoinOptions {
  /** host:port of a manager. */
  address: string;
  token: string;
  /** If set, the CA refuses unless the token grants exactly this role. */
  requestedRole?: NodeRole;
  callTimeoutMs?: number;
}

/** What a successful join or renewal yields: PEM material (the key made here) and the parsed certificate. */
export interface IssuedCredentials {
  material: NodeTlsMaterial;
  info: NodeCertificateInfo;
}

// One unary call on a short-lived client, with a deadline, failures mapped to typed errors.
async function call<Res>(address: string, creds: ChannelCredentials, method: string, req: object, timeoutMs: number): Promise<Res> {
  const Ctor = caClientConstructor();
  const client = new Ctor(address, creds, clusterChannelOptions) as Client & Record<string, unknown>;
  try {
    return await new Promise<Res>((resolve, reject) => {
      const fn = client[method] as (r: object, o: { deadline: number }, cb: (e: ServiceError | null, r: Res) => void) => void;
      fn.call(client, req, { deadline: Date.now() + timeoutMs }, (err, res) => (err ? reject(shoalErrorOf(err, `CA ${method} at ${address}`)) : resolve(res)));
    });
  } finally {
    client.close();
  }
}

/**
 * Fetches the manager's root CA certificate over TLS and accepts it only if its digest is the one
 * the token pins. Nothing secret is sent on this unauthenticated connection.
 */
export async function fetchPinnedRootCa(address: string, token: string, timeoutMs = caCallTimeoutMsDefault): Promise<{ caCertPem: string; clusterId: string }> {
  const pinned = parseJoinToken(token).caDigest;
  const res = await call<GetRootCaCertificateResponse>(address, unverifiedChannelCredentials(), 'GetRootCACertificate', {}, timeoutMs);
  let ca: X509Certificate;
  try {
    ca = new X509Certificate(res.certificatePem);
  } catch (cause) {
    throw new UnauthenticatedError(`manager at ${address} sent a root CA certificate that does not parse`, { cause });
  }
  const digest = caDigestOf(res.certificatePem);
  if (digest !== pinned) {
    throw new UnauthenticatedError(`manager at ${address} presented a root CA with digest ${digest}, but the join token pins ${pinned}: refusing to join (wrong cluster or a man in the middle)`, {
      hint: 'check the manager address and the token (`shoal swarm join-token worker` on a manager)',
    });
  }
  const clusterId = /^O=(.*)$/m.exec(ca.subject)?.[1] ?? '';
  if (!ca.ca || !ca.checkIssued(ca) || !ca.verify(ca.publicKey) || !isId(clusterId)) {
    throw new UnauthenticatedError(`manager at ${address} presented a pinned certificate that is not a shoal root CA`);
  }
  return { caCertPem: res.certificatePem, clusterId };
}

// Checks what the CA returned: signed by the pinned CA, for our key, for the expected cluster and node.
function accept(material: NodeTlsMaterial, pinnedCaPem: string, expect: { clusterId: string; nodeId?: string; role?: NodeRole }): IssuedCredentials {
  if (material.caCertPem.trim() !== pinnedCaPem.trim()) throw new UnauthenticatedError('CA answered with a different root CA than the pinned one');
  const info = checkNodeMaterial(material);
  if (info.clusterId !== expect.clusterId) throw new UnauthenticatedError(`issued certificate is for cluster ${info.clusterId}, expected ${expect.clusterId}`);
  if (expect.nodeId !== undefined && info.nodeId !== expect.nodeId) throw new UnauthenticatedError(`renewed certificate names node ${info.nodeId}, expected ${expect.nodeId}`);
  if (expect.role !== undefined && info.role !== expect.role) throw new InvalidArgumentError(`issued certificate has role ${info.role}, expected ${expect.role}`);
  return { material, info };
}

/**
 * The join flow: pin the root CA by the token's digest, then make a key here (it never leaves this
 * node), send a CSR with the token over TLS that trusts only the pinned CA, and check the result.
 */
export async function joinCluster(opts: JoinOptions): Promise<IssuedCredentials> {
  const timeoutMs = opts.callTimeoutMs ?? caCallTimeoutMsDefault;
  const { caCertPem, clusterId } = await fetchPinnedRootCa(opts.address, opts.token, timeoutMs);
  const keys = await generateKeyPair();
  const req: JoinRequest = { token: opts.token, csrPem: createCsr(keys), requestedRole: opts.requestedRole ?? '' };
  const res = await call<JoinResponse>(opts.address, pinnedChannelCredentials(caCertPem, clusterId), 'Join', req, timeoutMs);
  const material = { certPem: res.certificatePem, keyPem: keys.privateKeyPem, caCertPem: res.rootCaCertificatePem };
  return accept(material, caCertPem, { clusterId, nodeId: res.nodeId, role: opts.requestedRole });
}

/** Gets a new certificate (with a new key) for this node's id and current role, authenticated by its current certificate. */
export async function renewCertificate(address: string, identity: NodeIdentity, timeoutMs = caCallTimeoutMsDefault): Promise<IssuedCredentials> {
  const keys = await generateKeyPair();
  const res = await call<RenewResponse>(address, managerChannelCredentials(identity), 'Renew', { csrPem: createCsr(keys) }, timeoutMs);
  const { caCertPem, nodeId, clusterId } = { ...identity.material, ...identity.info };
  const material = { certPem: res.certificatePem, keyPem: keys.privateKeyPem, caCertPem: res.rootCaCertificatePem };
  return accept(material, caCertPem, { clusterId, nodeId });
}
