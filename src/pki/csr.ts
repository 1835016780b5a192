import forge from 'node-forge';
import { InvalidArgumentError } from '../types/errors';
import { nativeSigner, rsaModulusBits, type KeyPair } from './keys';

/** Largest CSR accepted from a peer, in bytes; a 2048-bit RSA CSR is about 1 KiB of PEM. */
export const csrBytesMax = 16 * 1024;

/** A PEM certificate signing request for the key pair. The subject is a placeholder: the CA sets it. */
export function createCsr(keys: KeyPair): string {
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.publicKeyFromPem(keys.publicKeyPem);
  csr.setSubject([{ name: 'commonName', value: 'shoal-node' }]);
  csr.sign(nativeSigner(keys.privateKeyPem) as unknown as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
  return forge.pki.certificationRequestToPem(csr);
}

/**
 * Checks a CSR from a peer (size, parse, RSA >= 2048 bits, self-signature) and returns its public key
 * as PEM. Its subject is ignored: who the node is comes from the token or the current certificate.
 */
export function verifyCsr(pem: string): string {
  if (pem.length === 0 || Buffer.byteLength(pem) > csrBytesMax) {
    throw new InvalidArgumentError(`CSR must be 1..${csrBytesMax} bytes of PEM, got ${Buffer.byteLength(pem)}`);
  }
  let csr: forge.pki.CertificateSigningRequest;
  try {
    csr = forge.pki.certificationRequestFromPem(pem);
  } catch (cause) {
    throw new InvalidArgumentError('CSR is not a PEM PKCS#10 request with an RSA key', { cause });
  }
  const key = csr.publicKey as forge.pki.rsa.PublicKey | null;
  if (key === null || key.n.bitLength() < rsaModulusBits) {
    throw new InvalidArgumentError(`CSR key must be RSA of at least ${rsaModulusBits} bits`);
  }
  let signed = false;
  try {
    signed = csr.verify();
  } catch (cause) {
    throw new InvalidArgumentError('CSR signature could not be checked', { cause });
  }
  if (!signed) throw new InvalidArgumentError('CSR signature does not match its public key');
  return forge.pki.publicKeyToPem(key);
}
