import type { PeerCertificate } from 'node:tls';
import { credentials, experimental, type ChannelCredentials, type ChannelOptions } from '@grpc/grpc-js';
import { nodeSubjectOf } from './node-certificate';
import type { NodeIdentity } from './node-identity';
import type { NodeRole } from './node-role';

/** The TLS server name clients send (SNI): managers are dialled by IP, and SNI may not carry an IP (RFC 6066). */
export const managerServerName = 'shoal-manager';

/** Options for every channel to a manager: keepalive (off by default in grpc-js; STYLE.md "Versions") and the server name. */
export const clusterChannelOptions: ChannelOptions = {
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.keepalive_permit_without_calls': 1,
  // Our checkServerIdentity ignores the name and checks cluster and role instead.
  'grpc.ssl_target_name_override': managerServerName,
};

/** Former name of clusterChannelOptions, kept because other modules import it. */
export const channelKeepaliveOptions: ChannelOptions = clusterChannelOptions;

/** gRPC keepalive for every server. */
export const serverKeepaliveOptions: ChannelOptions = {
  'grpc.keepalive_time_ms': 60_000,
  'grpc.keepalive_timeout_ms': 20_000,
};

/**
 * The server check a client runs after the TLS chain verified: node certificates carry node ids,
 * not host names, so instead of matching the dialled address we require the peer to be a node of
 * this cluster with one of the expected roles.
 */
export function checkPeerNode(clusterId: string, roles: readonly NodeRole[]): (host: string, cert: PeerCertificate) => Error | undefined {
  return (_host, cert) => {
    try {
      const peer = nodeSubjectOf(cert.subject);
      if (peer.clusterId !== clusterId) return new Error(`server certificate is for cluster ${peer.clusterId}, not ${clusterId}`);
      if (!roles.includes(peer.role)) return new Error(`server certificate role ${peer.role} is not one of ${roles.join(', ')}`);
      return undefined;
    } catch (err) {
      return err instanceof Error ? err : new Error(String(err));
    }
  };
}

/** mTLS channel credentials for calls to managers: presents this node's certificate, trusts only its root CA. */
export function managerChannelCredentials(identity: NodeIdentity): ChannelCredentials {
  return experimental.createCertificateProviderChannelCredentials(identity, identity, {
    checkServerIdentity: checkPeerNode(identity.info.clusterId, ['manager']),
  });
}

/** TLS channel credentials with no client certificate, trusting only caCertPem: the join call. */
export function pinnedChannelCredentials(caCertPem: string, clusterId: string): ChannelCredentials {
  return credentials.createSsl(Buffer.from(caCertPem), null, null, {
    checkServerIdentity: checkPeerNode(clusterId, ['manager']),
  });
}

/**
 * TLS that accepts any server certificate: only for fetching the root CA certificate before
 * joining, whose digest the caller must then compare with the join token before trusting it.
 */
export function unverifiedChannelCredentials(): ChannelCredentials {
  return credentials.createSsl(null, null, null, { rejectUnauthorized: false, checkServerIdentity: () => undefined });
}
