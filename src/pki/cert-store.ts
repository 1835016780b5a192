import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { FailedPreconditionError } from '../types/errors';

/** Mode of the certificates directory: only the daemon's user may list it. */
export const certDirMode = 0o700;
/** Mode of every private key file: never group- or world-readable. */
export const keyFileMode = 0o600;
/** Mode of certificate files: public data. */
export const certFileMode = 0o644;

/** A node's TLS material as PEM strings. */
export interface NodeTlsMaterial {
  certPem: string;
  keyPem: string;
  caCertPem: string;
}

/** The root CA's certificate and key (managers only). */
export interface RootCaMaterial {
  certPem: string;
  keyPem: string;
}

const files = { nodeKey: 'node.key', nodeCert: 'node.crt', caCert: 'ca.crt', caKey: 'ca.key' };

/** Certificates and keys in one directory (e.g. <data-root>/certificates), written atomically with tight modes. */
export class CertStore {
  constructor(readonly dir: string) {}

  /** Saves the node's key, certificate and the root CA certificate. */
  async saveNode(m: NodeTlsMaterial): Promise<void> {
    await this.ensureDir();
    // Key first: a crash between the writes leaves a mismatched pair, which loadNode detects and names.
    await this.write(files.nodeKey, m.keyPem, keyFileMode);
    await this.write(files.caCert, m.caCertPem, certFileMode);
    await this.write(files.nodeCert, m.certPem, certFileMode);
  }

  /** Loads what saveNode wrote, or undefined if nothing is there yet. */
  async loadNode(): Promise<NodeTlsMaterial | undefined> {
    const certPem = await this.readOptional(files.nodeCert);
    if (certPem === undefined) return undefined;
    const keyPem = await this.readKey(files.nodeKey);
    const caCertPem = await this.readRequired(files.caCert);
    this.checkPair(files.nodeCert, certPem, keyPem);
    return { certPem, keyPem, caCertPem };
  }

  /** Saves the root CA key and certificate (managers only). */
  async saveRootCa(m: RootCaMaterial): Promise<void> {
    await this.ensureDir();
    await this.write(files.caKey, m.keyPem, keyFileMode);
    await this.write(files.caCert, m.certPem, certFileMode);
  }

  /** Loads the root CA key and certificate, or undefined if this node holds no CA key. */
  async loadRootCa(): Promise<RootCaMaterial | undefined> {
    const keyPem = await this.readOptional(files.caKey, true);
    if (keyPem === undefined) return undefined;
    const certPem = await this.readRequired(files.caCert);
    this.checkPair(files.caCert, certPem, keyPem);
    return { certPem, keyPem };
  }

  /** Deletes the root CA key (on demotion: only managers hold it). */
  async removeRootCaKey(): Promise<void> {
    await fs.rm(this.path(files.caKey), { force: true });
  }

  /** Absolute path of one of the store's files. */
  path(name: string): string {
    return path.join(this.dir, name);
  }

  private async ensureDir(): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true, mode: certDirMode });
    await fs.chmod(this.dir, certDirMode); // mkdir's mode is filtered by umask and ignored if the dir exists
  }

  private async write(name: string, data: string, mode: number): Promise<void> {
    const final = this.path(name);
    const tmp = `${final}.tmp`;
    await fs.rm(tmp, { force: true });
    // The file is created with the final mode, so the secret is never readable by others, not even briefly.
    const fh = await fs.open(tmp, 'wx', mode);
    try {
      await fh.chmod(mode);
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, final);
    const dh = await fs.open(this.dir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  }

  private async readKey(name: string): Promise<string> {
    const key = await this.readOptional(name, true);
    if (key === undefined) throw this.broken(name, 'is missing');
    return key;
  }

  private async readRequired(name: string): Promise<string> {
    const s = await this.readOptional(name);
    if (s === undefined) throw this.broken(name, 'is missing');
    return s;
  }

  private async readOptional(name: string, secret = false): Promise<string | undefined> {
    try {
      if (secret) {
        const st = await fs.stat(this.path(name));
        if ((st.mode & 0o077) !== 0) {
          throw new FailedPreconditionError(`${this.path(name)} is readable by group or others (mode ${(st.mode & 0o777).toString(8)})`, {
            hint: `chmod 600 ${this.path(name)}, and consider the key compromised if others could read it`,
          });
        }
      }
      return await fs.readFile(this.path(name), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  private checkPair(certName: string, certPem: string, keyPem: string): void {
    try {
      const certKey = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
      const ownKey = createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'der' });
      if (certKey.equals(ownKey)) return;
    } catch (cause) {
      throw this.broken(certName, 'or its key cannot be parsed', cause);
    }
    throw this.broken(certName, 'does not match its private key');
  }

  private broken(name: string, what: string, cause?: unknown): FailedPreconditionError {
    return new FailedPreconditionError(`${this.path(name)} ${what}`, {
      cause,
      hint: `remove ${this.dir} and join the swarm again`,
    });
  }
}
