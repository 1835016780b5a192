import type * as net from 'node:net';
import * as tls from 'node:tls';
import { Server, ServerCredentials, type ConnectionInjector } from '@grpc/grpc-js';
import { authzInterceptor, Authorizer, type AuthorizerOptions } from './authz';
import type { NodeIdentity } from './node-identity';
import { serverKeepaliveOptions } from './tls-credentials';

/** A peer that has not finished the TLS handshake by then is dropped. */
export const handshakeTimeoutMs = 10_000;

/** Why a connection was closed before any gRPC frame was read. */
export interface RejectedPeer {
  /** The TLS verification error code (e.g. CERT_HAS_EXPIRED) or our own reason. */
  reason: string;
  remoteAddress: string;
}

/** Settings of an MtlsServer. */
export interface MtlsServerOptions extends AuthorizerOptions {
  /** This manager's identity; its certificate chain (leaf + root) is what peers see. */
  identity: NodeIdentity;
  host: string;
  /** 0 lets the OS choose. */
  port: number;
  /** Told about every connection refused after the handshake (logging, tests). */
  onRejectedPeer?: (r: RejectedPeer) => void;
}

/**
 * The manager's one gRPC port: TLS only, client certificates verified when presented.
 *
 * Node's TLS server can either demand a valid client certificate from everyone (then a joining
 * node, which has none yet, cannot connect) or accept any peer. The CA's join call needs the first
 * kind of peer to get through, so we own the TLS listener (like Go's VerifyClientCertIfGiven):
 * a peer with no certificate is handed to gRPC, where the authorization interceptor allows it only
 * the open CA methods; a peer whose certificate does not verify against the cluster CA (another
 * cluster, expired, not yet valid) is disconnected right after the handshake, before gRPC reads a byte.
 */
export class MtlsServer {
  /**
   * Add services here; the authorization interceptor covers all of them. Never call bindAsync on it:
   * that would open a second port that bypasses this TLS listener.
   */
  readonly grpc: Server;
  private readonly injector: ConnectionInjector;
  private readonly tlsServer: tls.Server;
  private readonly sockets = new Set<tls.TLSSocket>();
  private readonly stopWatching: () => void;
  private closing = false;

  constructor(private readonly opts: MtlsServerOptions) {
    this.grpc = new Server({ ...serverKeepaliveOptions, interceptors: [authzInterceptor(new Authorizer(opts))] });
    // TLS is done by tlsServer below; the injector's "insecure" HTTP/2 server only ever sees TLS sockets.
    this.injector = this.grpc.createConnectionInjector(ServerCredentials.createInsecure());
    this.tlsServer = tls.createServer({
      ...this.contextOptions(),
      requestCert: true,
      rejectUnauthorized: false,
      ALPNProtocols: ['h2'],
      minVersion: 'TLSv1.2',
      handshakeTimeout: handshakeTimeoutMs,
    });
    this.tlsServer.on('secureConnection', (socket) => this.admit(socket));
    this.tlsServer.on('tlsClientError', (err, socket) => {
      this.reject(socket, (err as NodeJS.ErrnoException).code ?? 'TLS_HANDSHAKE_FAILED');
    });
    this.stopWatching = opts.identity.onChange(() => this.tlsServer.setSecureContext(this.contextOptions()));
  }

  /** Starts listening; resolves with the bound port. */
  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.tlsServer.once('error', reject);
      this.tlsServer.listen(this.opts.port, this.opts.host, () => {
        this.tlsServer.off('error', reject);
        resolve();
      });
    });
    return this.port;
  }

  /** The bound port (after listen). */
  get port(): number {
    return (this.tlsServer.address() as net.AddressInfo).port;
  }

  /** Stops accepting, ends every connection and call. */
  async close(): Promise<void> {
    this.closing = true;
    this.stopWatching();
    const closed = new Promise<void>((resolve) => this.tlsServer.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    this.injector.destroy();
    this.grpc.forceShutdown();
    await closed;
  }

  private contextOptions(): tls.SecureContextOptions {
    const m = this.opts.identity.material;
    return { key: m.keyPem, cert: this.opts.identity.chainPem, ca: m.caCertPem };
  }

  private admit(socket: tls.TLSSocket): void {
    // A handshake that was under way when close() began ends here: the server would otherwise never finish closing.
    if (this.closing) {
      socket.destroy();
      return;
    }
    if (socket.alpnProtocol !== 'h2') {
      this.reject(socket, 'NO_ALPN_H2');
      return;
    }
    const presented = Object.keys(socket.getPeerCertificate()).length > 0;
    if (presented && !socket.authorized) {
      this.reject(socket, String(socket.authorizationError));
      return;
    }
    // Raft and dispatcher traffic is many small frames; Nagle would hold them (and HTTP/2 window updates) back.
    socket.setNoDelay(true);
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy()); // a peer resetting its connection is routine
    this.injector.injectConnection(socket);
  }

  private reject(socket: net.Socket, reason: string): void {
    this.opts.onRejectedPeer?.({ reason, remoteAddress: socket.remoteAddress ?? 'unknown' });
    socket.destroy();
  }
}
