import { X509Certificate } from 'node:crypto';
import { InvalidArgumentError } from '../types/errors';
import { isId } from './ids';
import { roleFromOu, type NodeRole } from './node-role';

/** Who a node certificate names: CN=<node id>, OU=shoal-<role>, O=<cluster id>. */
export interface NodeSubject {
  nodeId: string;
  role: NodeRole;
  clusterId: string;
}

/** A parsed node certificate. */
export interface NodeCertificateInfo extends NodeSubject {
  notBeforeMs: number;
  notAfterMs: number;
  serialNumber: string;
  /** SHA-256 of the DER encoding, hex with colons, as Node prints it. */
  fingerprint256: string;
}

/** A distinguished name as Node's TLS layer gives it: one string, or an array when an attribute repeats. */
export type DistinguishedName = Partial<Record<string, string | string[]>>;

/** Reads CN/OU/O from a subject; throws InvalidArgumentError when any is missing, repeated or malformed. */
export function nodeSubjectOf(dn: DistinguishedName): NodeSubject {
  const one = (key: string): string => {
    const v = dn[key];
    if (typeof v !== 'string') {
      throw new InvalidArgumentError(`certificate subject ${key} must appear exactly once, got ${JSON.stringify(v ?? null)}`);
    }
    return v;
  };
  const nodeId = one('CN');
  const ou = one('OU');
  const clusterId = one('O');
  const role = roleFromOu(ou);
  if (!isId(nodeId)) throw new InvalidArgumentError(`certificate CN ${JSON.stringify(nodeId)} is not a node id`);
  if (role === undefined) throw new InvalidArgumentError(`certificate OU ${JSON.stringify(ou)} is not a shoal role`);
  if (!isId(clusterId)) throw new InvalidArgumentError(`certificate O ${JSON.stringify(clusterId)} is not a cluster id`);
  return { nodeId, role, clusterId };
}

/** Parses the "K=v" lines of X509Certificate.subject into a DistinguishedName. */
export function parseDnLines(text: string): DistinguishedName {
  const dn: DistinguishedName = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    const prev = dn[key];
    dn[key] = prev === undefined ? value : [...(Array.isArray(prev) ? prev : [prev]), value];
  }
  return dn;
}

/** Parses a node certificate PEM; throws InvalidArgumentError if it is not one. */
export function readNodeCertificate(pem: string | Buffer): NodeCertificateInfo {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(pem);
  } catch (cause) {
    throw new InvalidArgumentError('node certificate is not a PEM X.509 certificate', { cause });
  }
  return {
    ...nodeSubjectOf(parseDnLines(x509.subject)),
    notBeforeMs: Date.parse(x509.validFrom),
    notAfterMs: Date.parse(x509.validTo),
    serialNumber: x509.serialNumber,
    fingerprint256: x509.fingerprint256,
  };
}
