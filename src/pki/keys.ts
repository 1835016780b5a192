import { constants, createPrivateKey, generateKeyPair as generateKeyPairCb, privateEncrypt } from 'node:crypto';
import { promisify } from 'node:util';

const generateKeyPairAsync = promisify(generateKeyPairCb);

/** RSA modulus size; node-forge has no ECDSA, so every key is RSA 2048 from Node's native crypto. */
export const rsaModulusBits = 2048;

/** A PEM key pair (PKCS#1 private key, SPKI public key). */
export interface KeyPair {
  privateKeyPem: string;
  publicKeyPem: string;
}

/** Generates an RSA key pair on libuv's thread pool (pure-JS generation would block for seconds). */
export async function generateKeyPair(): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPairAsync('rsa', {
    modulusLength: rsaModulusBits,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  return { privateKeyPem: privateKey, publicKeyPem: publicKey };
}

/** What node-forge's cert.sign / csr.sign call on a key: sign an updated SHA-256 digest, return a binary string. */
export interface ForgeSigner {
  sign(md: { digest(): { getBytes(): string }; algorithm: string }): string;
}

// DER prefix of a PKCS#1 v1.5 DigestInfo for SHA-256 (RFC 8017 §9.2, note 1).
const sha256DigestInfoPrefix = Buffer.from('3031300d060960864801650304020105000420', 'hex');

/**
 * A signer for node-forge backed by Node's native RSA: forge's pure-JS private-key operation
 * costs ~40 ms, the native one well under 1 ms, and the CA signs on every join and renewal.
 */
export function nativeSigner(privateKeyPem: string): ForgeSigner {
  const key = createPrivateKey(privateKeyPem);
  return {
    sign(md) {
      if (md.algorithm !== 'sha256') throw new Error(`nativeSigner supports sha256 only, got ${md.algorithm}`);
      const digest = Buffer.from(md.digest().getBytes(), 'binary');
      // privateEncrypt with PKCS#1 padding is the v1.5 signature primitive over DigestInfo.
      const sig = privateEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, Buffer.concat([sha256DigestInfoPrefix, digest]));
      return sig.toString('binary');
    },
  };
}
