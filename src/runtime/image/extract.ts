import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { entryComponents, symlinkEscapes } from './entry-path';
import { UnsafeEntryError } from './errors';
import { makeFifo, makeWhiteout, markOpaque } from './special-files';
import { defaultTarLimits, readTar, type TarEntry, type TarLimits } from './tar-reader';

/** Bounds on one archive as a whole, on top of the per-entry ones. */
export interface ExtractLimits extends TarLimits {
  /** Sum of regular file sizes. */
  totalBytesMax: number;
  entriesMax: number;
}

export const defaultExtractLimits: ExtractLimits = {
  ...defaultTarLimits,
  totalBytesMax: 64 * 2 ** 30,
  entriesMax: 1_000_000,
};

/**
 * Upper bound on the uncompressed bytes of an archive within the limits: content plus a
 * header and padding per entry, plus a few extension headers. Also bounds a gzip bomb.
 */
export function archiveBytesMax(l: ExtractLimits): number {
  return l.totalBytesMax + l.entriesMax * 2048 + l.metaBytesMax * 4;
}

/** How to extract: layers convert whiteouts and keep owners; plain archives do neither. */
export interface ExtractOptions {
  limits: ExtractLimits;
  /** Convert AUFS-style `.wh.` entries to overlayfs whiteouts and opaque markers. */
  overlayWhiteouts: boolean;
  /** Keep the entries' uid/gid (needs root); otherwise files belong to the caller. */
  preserveOwners: boolean;
}

/** What an extraction wrote. */
export interface ExtractStats {
  entries: number;
  fileBytes: number;
}

const whiteoutPrefix = '.wh.';
const opaqueMarker = '.wh..wh..opq';

/**
 * Extracts a tar stream into `dest`, an existing empty directory that nothing else writes.
 * Safety rests on one rule: nothing is ever opened through a symlink. Every parent of an
 * entry is checked with lstat to be a real directory inside `dest` (or created as one),
 * files are created with O_EXCL (which does not follow a final symlink), and symlinks are
 * only ever created, never resolved. Refusals throw UnsafeEntryError naming the entry; the
 * caller removes `dest` on any error.
 */
export async function extractTar(src: AsyncIterable<Buffer>, dest: string, opts: ExtractOptions): Promise<ExtractStats> {
  const x = new Extractor(dest, opts);
  for await (const { entry, body } of readTar(src, opts.limits)) {
    await x.add(entry, body);
  }
  await x.finish();
  return x.stats;
}

class Extractor {
  readonly stats: ExtractStats = { entries: 0, fileBytes: 0 };
  /** Relative paths known to be real directories we made or checked (never symlinks). */
  private readonly dirs = new Set<string>(['']);
  /** Directory times, applied last since creating children changes them. */
  private readonly dirTimes = new Map<string, number>();

  constructor(private readonly dest: string, private readonly opts: ExtractOptions) {}

  async add(e: TarEntry, body: AsyncIterable<Buffer>): Promise<void> {
    this.stats.entries += 1;
    if (this.stats.entries > this.opts.limits.entriesMax) {
      throw new UnsafeEntryError(e.path, 'too-many-entries', `more than ${this.opts.limits.entriesMax} entries`);
    }
    this.stats.fileBytes += e.size;
    if (this.stats.fileBytes > this.opts.limits.totalBytesMax) {
      throw new UnsafeEntryError(e.path, 'total-too-large', `archive content exceeds ${this.opts.limits.totalBytesMax} bytes`);
    }
    const parts = entryComponents(e.path);
    if (parts.length === 0) {
      if (e.type === 'dir') await this.setMeta('', e);
      return;
    }
    const parent = parts.slice(0, -1);
    const base = parts[parts.length - 1];
    if (e.type === 'char' || e.type === 'block') {
      throw new UnsafeEntryError(e.path, 'device-node', `${e.type} device ${e.devmajor}:${e.devminor} is not allowed in an image`);
    }
    if (e.type === 'symlink' && symlinkEscapes(parent, e.linkname)) {
      throw new UnsafeEntryError(e.path, 'symlink-escape', `symlink target ${JSON.stringify(e.linkname)} points outside the root`);
    }
    const linkParts = e.type === 'hardlink' ? this.hardlinkTarget(e) : undefined;
    await this.ensureDir(parent, e.path);
    if (this.opts.overlayWhiteouts && base.startsWith(whiteoutPrefix)) {
      await this.whiteout(parent, base, e.path);
      return;
    }
    const rel = parts.join('/');
    const full = this.abs(rel);
    const existing = await lstatOrNull(full);
    if (existing !== null) {
      if (e.type === 'dir' && existing.isDirectory()) {
        this.dirs.add(rel);
        await this.setMeta(rel, e);
        return;
      }
      await this.removePath(rel);
    }
    switch (e.type) {
      case 'dir':
        await fs.mkdir(full, { mode: 0o700 });
        this.dirs.add(rel);
        await this.setMeta(rel, e);
        return;
      case 'file':
        await this.writeFile(full, e, body);
        return;
      case 'symlink':
        await fs.symlink(e.linkname, full);
        if (this.opts.preserveOwners) await fs.lchown(full, e.uid, e.gid);
        await fs.lutimes(full, e.mtimeMs / 1000, e.mtimeMs / 1000);
        return;
      case 'hardlink':
        await this.link(linkParts!, full, e.path);
        return;
      case 'fifo':
        await makeFifo(full, e.mode);
        await this.setMeta(rel, e);
        return;
    }
  }

  /** Applies directory times deepest first, once no more children will be created. */
  async finish(): Promise<void> {
    const order = [...this.dirTimes.entries()].sort((a, b) => b[0].split('/').length - a[0].split('/').length);
    for (const [rel, mtimeMs] of order) {
      await fs.utimes(this.abs(rel), mtimeMs / 1000, mtimeMs / 1000);
    }
  }

  private abs(rel: string): string {
    return rel === '' ? this.dest : path.join(this.dest, rel);
  }

  private hardlinkTarget(e: TarEntry): string[] {
    try {
      const parts = entryComponents(e.linkname, e.path);
      if (parts.length === 0) throw new UnsafeEntryError(e.path, 'hardlink-escape', 'hard link to the root');
      return parts;
    } catch (err) {
      if (err instanceof UnsafeEntryError && err.reason !== 'hardlink-escape') {
        throw new UnsafeEntryError(e.path, 'hardlink-escape', `hard link target ${JSON.stringify(e.linkname)} is outside the root (${err.reason})`);
      }
      throw err;
    }
  }

  /** Makes sure every component of dir is a real directory, creating missing ones; never follows a symlink. */
  private async ensureDir(dir: readonly string[], entry: string): Promise<void> {
    for (let i = 1; i <= dir.length; i++) {
      const rel = dir.slice(0, i).join('/');
      if (this.dirs.has(rel)) continue;
      const st = await lstatOrNull(this.abs(rel));
      if (st === null) {
        await fs.mkdir(this.abs(rel), { mode: 0o755 });
      } else if (st.isSymbolicLink()) {
        throw new UnsafeEntryError(entry, 'through-symlink', `its parent ${JSON.stringify(rel)} is a symlink placed earlier in the archive`);
      } else if (!st.isDirectory()) {
        throw new UnsafeEntryError(entry, 'malformed', `its parent ${JSON.stringify(rel)} is not a directory`);
      }
      this.dirs.add(rel);
    }
  }

  private async removePath(rel: string): Promise<void> {
    await fs.rm(this.abs(rel), { recursive: true, force: true });
    for (const d of [...this.dirs]) if (d === rel || d.startsWith(`${rel}/`)) this.dirs.delete(d);
    for (const d of [...this.dirTimes.keys()]) if (d === rel || d.startsWith(`${rel}/`)) this.dirTimes.delete(d);
  }

  private async whiteout(parent: string[], base: string, entry: string): Promise<void> {
    const parentRel = parent.join('/');
    if (base === opaqueMarker) {
      await markOpaque(this.abs(parentRel));
      return;
    }
    // Other `.wh..wh.` names are AUFS bookkeeping (hard link dirs), meaningless to overlayfs.
    if (base.startsWith(`${whiteoutPrefix}${whiteoutPrefix}`)) return;
    const name = base.slice(whiteoutPrefix.length);
    if (name === '' || name === '.' || name === '..') throw new UnsafeEntryError(entry, 'malformed', 'whiteout without a name');
    const rel = [...parent, name].join('/');
    if ((await lstatOrNull(this.abs(rel))) !== null) await this.removePath(rel);
    await makeWhiteout(this.abs(rel));
  }

  private async writeFile(full: string, e: TarEntry, body: AsyncIterable<Buffer>): Promise<void> {
    const fh = await fs.open(full, 'wx', 0o600);
    try {
      for await (const chunk of body) {
        let off = 0;
        while (off < chunk.length) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
      }
    } finally {
      await fh.close();
    }
    const rel = path.relative(this.dest, full);
    await this.setMeta(rel, e);
  }

  private async link(target: string[], full: string, entry: string): Promise<void> {
    await this.ensureDir(target.slice(0, -1), entry);
    const targetFull = this.abs(target.join('/'));
    const st = await lstatOrNull(targetFull);
    if (st === null || st.isDirectory()) {
      throw new UnsafeEntryError(entry, 'hardlink-escape', `hard link target ${JSON.stringify(target.join('/'))} is not a file extracted earlier`);
    }
    await fs.link(targetFull, full);
  }

  /** Owner first: chown clears setuid/setgid bits, so the mode goes on after it. */
  private async setMeta(rel: string, e: TarEntry): Promise<void> {
    const full = this.abs(rel);
    if (this.opts.preserveOwners) await fs.chown(full, e.uid, e.gid);
    await fs.chmod(full, e.mode);
    if (e.type === 'dir') this.dirTimes.set(rel, e.mtimeMs);
    else await fs.utimes(full, e.mtimeMs / 1000, e.mtimeMs / 1000);
  }
}

async function lstatOrNull(p: string): Promise<import('node:fs').Stats | null> {
  try {
    return await fs.lstat(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}
