import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { BlobStore } from './blob-store';
import { openArchive, hashing } from './archive-stream';
import { digestHex, Hasher, isDigest, type Digest } from './digest';
import { DigestMismatchError } from './errors';
import { archiveBytesMax, extractTar, type ExtractLimits } from './extract';
import { fsyncDir } from './atomic-file';

const tmpPrefix = '.tmp-';

/**
 * Unpacked layers, one directory per diff id (`layers/<hex>`), ready to be overlayfs lower
 * dirs. A layer is extracted into a temp directory and renamed into place only once its
 * content hashed to its diff id, so a directory under a diff id is always complete.
 */
export class LayerCache {
  readonly dir: string;

  constructor(root: string) {
    this.dir = path.join(root, 'layers');
  }

  async init(): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    for (const name of await fs.readdir(this.dir)) {
      if (name.startsWith(tmpPrefix)) await fs.rm(path.join(this.dir, name), { recursive: true, force: true });
    }
  }

  pathOf(diffId: Digest): string {
    return path.join(this.dir, digestHex(diffId));
  }

  async has(diffId: Digest): Promise<boolean> {
    try {
      return (await fs.lstat(this.pathOf(diffId))).isDirectory();
    } catch {
      return false;
    }
  }

  /**
   * Unpacks a stored layer blob unless already there; `added` says whether this call made it.
   * Without an expected diff id (an imported root filesystem) the layer is keyed by what it hashes to.
   */
  async unpack(blobs: BlobStore, blob: Digest, diffId: Digest | undefined, limits: ExtractLimits): Promise<{ diffId: Digest; dir: string; added: boolean }> {
    if (diffId !== undefined && (await this.has(diffId))) return { diffId, dir: this.pathOf(diffId), added: false };
    const tmp = await fs.mkdtemp(path.join(this.dir, tmpPrefix));
    try {
      // The layer's own "./" entry, if any, sets the root's mode; most layers do not carry one.
      await fs.chmod(tmp, 0o755);
      const what = `layer ${blob}`;
      const h = new Hasher();
      const src = hashing(await openArchive(blobs.path(blob), what), h, archiveBytesMax(limits), what);
      await extractTar(src, tmp, { limits, overlayWhiteouts: true, preserveOwners: true });
      const actual = h.digest();
      if (diffId !== undefined && actual !== diffId) throw new DigestMismatchError(`${what} (uncompressed)`, diffId, actual);
      const final = this.pathOf(actual);
      if (await this.has(actual)) {
        await fs.rm(tmp, { recursive: true, force: true });
        return { diffId: actual, dir: final, added: false };
      }
      await fs.rename(tmp, final);
      await fsyncDir(this.dir);
      return { diffId: actual, dir: final, added: true };
    } catch (err) {
      await fs.rm(tmp, { recursive: true, force: true });
      throw err;
    }
  }

  /** Diff ids of every unpacked layer. */
  async list(): Promise<Digest[]> {
    const names = await fs.readdir(this.dir);
    return names.filter((n) => !n.startsWith(tmpPrefix)).map((n) => `sha256:${n}`).filter(isDigest);
  }

  async remove(diffId: Digest): Promise<void> {
    await fs.rm(this.pathOf(diffId), { recursive: true, force: true });
  }
}
