import { createHash, createPrivateKey, createPublicKey, randomBytes, X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { InvalidArgumentError } from '../types/errors';
import { isId } from './ids';
import { generateKeyPair, nativeSigner } from './keys';
import { roleToOu } from './node-role';
import type { NodeSubject } from './node-certificate';

/** Root CA lifetime: 20 years, as long-lived as the cluster. */
export const rootCaValidityMs = 20 * 365 * 24 * 3600 * 1000;
/** Node certificate lifetime unless configured. */
export const nodeCertValidityMsDefault = 90 * 24 * 3600 * 1000;
/** The shortest node certificate lifetime we allow. */
export const nodeCertValidityMsMin = 3600 * 1000;
/** How far notBefore is set in the past, so a peer whose clock is a little behind accepts a fresh certificate. */
export const clockSkewMsMax = 5 * 60 * 1000;

const rootCommonName = 'shoal-root-ca';

/** A validity window in epoch milliseconds. */
export interface Validity {
  notBeforeMs: number;
  notAfterMs: number;
}

/** SHA-256 of the DER encoding of a CA certificate: what a join token pins. */
export function certificateDigest(certPem: string): Buffer {
  return createHash('sha256').update(new X509Certificate(certPem).raw).digest();
}

/** The validity a node certificate issued at nowMs gets, backdated for clock skew. */
export function nodeCertValidity(nowMs: number, validityMs = nodeCertValidityMsDefault): Validity {
  if (!(validityMs >= nodeCertValidityMsMin)) {
    throw new InvalidArgumentError(`certificate validity must be at least ${nodeCertValidityMsMin} ms, got ${validityMs}`);
  }
  return { notBeforeMs: nowMs - Math.min(clockSkewMsMax, validityMs / 10), notAfterMs: nowMs + validityMs };
}

function randomSerial(): string {
  const b = randomBytes(16);
  b[0] = (b[0] & 0x7f) | 0x01; // positive and without a leading zero byte (RFC 5280 §4.1.2.2)
  return b.toString('hex');
}

/** The cluster's root certificate authority: holds the CA key, so it lives only on managers. */
export class RootCA {
  private readonly signer: ReturnType<typeof nativeSigner>;
  private readonly forgeCert: forge.pki.Certificate;

  private constructor(
    readonly certPem: string,
    readonly keyPem: string,
    readonly clusterId: string,
  ) {
    this.signer = nativeSigner(keyPem);
    this.forgeCert = forge.pki.certificateFromPem(certPem);
  }

  /** Creates a new self-signed root CA for a new cluster (at `swarm init`). */
  static async create(clusterId: string, nowMs: number, validityMs = rootCaValidityMs): Promise<RootCA> {
    if (!isId(clusterId)) throw new InvalidArgumentError(`cluster id ${JSON.stringify(clusterId)} is not an id`);
    const keys = await generateKeyPair();
    const cert = forge.pki.createCertificate();
    cert.publicKey = forge.pki.publicKeyFromPem(keys.publicKeyPem);
    cert.serialNumber = randomSerial();
    cert.validity.notBefore = new Date(nowMs - clockSkewMsMax);
    cert.validity.notAfter = new Date(nowMs + validityMs);
    const subject = [{ name: 'commonName', value: rootCommonName }, { name: 'organizationName', value: clusterId }];
    cert.setSubject(subject);
    cert.setIssuer(subject);
    cert.setExtensions([
      { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
      { name: 'subjectKeyIdentifier' },
    ]);
    cert.sign(nativeSigner(keys.privateKeyPem) as unknown as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
    return new RootCA(forge.pki.certificateToPem(cert), keys.privateKeyPem, clusterId);
  }

  /** Loads a root CA from PEM, checking that the key belongs to the certificate and that it is a shoal CA. */
  static load(certPem: string, keyPem: string): RootCA {
    let x509: X509Certificate;
    try {
      x509 = new X509Certificate(certPem);
    } catch (cause) {
      throw new InvalidArgumentError('root CA certificate is not a PEM X.509 certificate', { cause });
    }
    if (!x509.ca) throw new InvalidArgumentError('root CA certificate is not a CA certificate');
    const pub = createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'der' });
    if (!pub.equals(x509.publicKey.export({ type: 'spki', format: 'der' }))) {
      throw new InvalidArgumentError('root CA key does not match the root CA certificate');
    }
    const clusterId = /^O=(.*)$/m.exec(x509.subject)?.[1] ?? '';
    if (!isId(clusterId)) throw new InvalidArgumentError('root CA certificate has no cluster id in its O');
    return new RootCA(certPem, keyPem, clusterId);
  }

  /** SHA-256 of this CA's certificate (DER). */
  digest(): Buffer {
    return certificateDigest(this.certPem);
  }

  /** Issues a certificate for publicKeyPem naming subject, valid for both TLS server and client use. */
  issue(publicKeyPem: string, subject: NodeSubject, validity: Validity): string {
    if (subject.clusterId !== this.clusterId) {
      throw new InvalidArgumentError(`cannot issue for cluster ${subject.clusterId}: this CA is cluster ${this.clusterId}`);
    }
    const cert = forge.pki.createCertificate();
    cert.publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
    cert.serialNumber = randomSerial();
    cert.validity.notBefore = new Date(validity.notBeforeMs);
    cert.validity.notAfter = new Date(validity.notAfterMs);
    const ou = roleToOu(subject.role);
    cert.setSubject([
      { name: 'commonName', value: subject.nodeId },
      { name: 'organizationalUnitName', value: ou },
      { name: 'organizationName', value: subject.clusterId },
    ]);
    cert.setIssuer(this.forgeCert.subject.attributes);
    cert.setExtensions([
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
      // DNS names so ordinary TLS tools can check the peer by node id or by role (SwarmKit does the same).
      { name: 'subjectAltName', altNames: [{ type: 2, value: subject.nodeId }, { type: 2, value: ou }] },
      { name: 'subjectKeyIdentifier' },
      { name: 'authorityKeyIdentifier', keyIdentifier: this.forgeCert.generateSubjectKeyIdentifier().getBytes() },
    ]);
    cert.sign(this.signer as unknown as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
    return forge.pki.certificateToPem(cert);
  }
}
