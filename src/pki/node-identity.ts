import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import type { experimental } from '@grpc/grpc-js';
import { InvalidArgumentError } from '../types/errors';
import type { NodeTlsMaterial } from './cert-store';
import { readNodeCertificate, type NodeCertificateInfo } from './node-certificate';

type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

/** Checks that material is a node certificate issued by its CA for its key, and parses it. */
export function checkNodeMaterial(m: NodeTlsMaterial): NodeCertificateInfo {
  const info = readNodeCertificate(m.certPem);
  const cert = new X509Certificate(m.certPem);
  const ca = new X509Certificate(m.caCertPem);
  if (!ca.ca || !cert.checkIssued(ca) || !cert.verify(ca.publicKey)) {
    throw new InvalidArgumentError(`certificate of node ${info.nodeId} is not signed by the given root CA`);
  }
  const ownKey = createPublicKey(createPrivateKey(m.keyPem)).export({ type: 'spki', format: 'der' });
  if (!ownKey.equals(cert.publicKey.export({ type: 'spki', format: 'der' }))) {
    throw new InvalidArgumentError(`certificate of node ${info.nodeId} does not match the node's private key`);
  }
  return info;
}

/**
 * This node's current certificate, key and root CA. Renewal swaps them in place; gRPC channels
 * (as a certificate provider) and servers (through onChange) pick up the new ones for new connections,
 * while connections already open keep going.
 */
export class NodeIdentity implements experimental.CertificateProvider {
  private current: NodeTlsMaterial;
  private parsed: NodeCertificateInfo;
  private readonly caListeners = new Set<CaListener>();
  private readonly identityListeners = new Set<IdentityListener>();
  private readonly changeListeners = new Set<(m: NodeTlsMaterial) => void>();

  constructor(material: NodeTlsMaterial) {
    this.parsed = checkNodeMaterial(material);
    this.current = { ...material };
  }

  /** The current certificate's subject and validity. */
  get info(): NodeCertificateInfo {
    return this.parsed;
  }

  /** The current PEM material. */
  get material(): NodeTlsMaterial {
    return { ...this.current };
  }

  /** The certificate chain to present: the node certificate, then the root, so a joining peer can pin it. */
  get chainPem(): string {
    return `${this.current.certPem.trimEnd()}\n${this.current.caCertPem.trimEnd()}\n`;
  }

  /** Replaces the material (renewal, promotion, demotion); the node and cluster must stay the same. */
  update(material: NodeTlsMaterial): void {
    const info = checkNodeMaterial(material);
    if (info.nodeId !== this.parsed.nodeId || info.clusterId !== this.parsed.clusterId) {
      throw new InvalidArgumentError(`new certificate names node ${info.nodeId} of ${info.clusterId}, expected ${this.parsed.nodeId} of ${this.parsed.clusterId}`);
    }
    this.current = { ...material };
    this.parsed = info;
    for (const l of this.caListeners) l(this.caUpdate());
    for (const l of this.identityListeners) l(this.identityUpdate());
    for (const l of this.changeListeners) l(this.material);
  }

  /** Calls fn after every update; returns a function that stops the calls. */
  onChange(fn: (m: NodeTlsMaterial) => void): () => void {
    this.changeListeners.add(fn);
    return () => this.changeListeners.delete(fn);
  }

  /** @internal grpc-js CertificateProvider: the CA certificate, now and after each update. */
  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    listener(this.caUpdate());
  }

  /** @internal grpc-js CertificateProvider. */
  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
  }

  /** @internal grpc-js CertificateProvider: the client certificate and key, now and after each update. */
  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    listener(this.identityUpdate());
  }

  /** @internal grpc-js CertificateProvider. */
  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
  }

  private caUpdate(): experimental.CaCertificateUpdate {
    return { caCertificate: Buffer.from(this.current.caCertPem) };
  }

  private identityUpdate(): experimental.IdentityCertificateUpdate {
    return { certificate: Buffer.from(this.chainPem), privateKey: Buffer.from(this.current.keyPem) };
  }
}
