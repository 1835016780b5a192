import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ImageStore } from '../../../src/runtime/image/image-store';
import type { ExtractLimits } from '../../../src/runtime/image/extract';

/** A fresh temp directory; the caller removes it. */
export async function tempDir(prefix = 'shoal-image-'): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), prefix));
}

/** Fails the suite with a clear message when not root (ownership, mknod, xattrs, overlay mounts). */
export function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new Error('the image store tests need root (they chown, mknod, set trusted xattrs and mount overlayfs)');
}

/** A store under dir/store. */
export async function openStore(dir: string, limits?: Partial<ExtractLimits>): Promise<ImageStore> {
  return ImageStore.open(path.join(dir, 'store'), { limits });
}

/** Every path under dir, relative, sorted. */
export async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await fs.readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      out.push(path.relative(dir, p));
      if (e.isDirectory()) await walk(p);
    }
  };
  await walk(dir);
  return out.sort();
}

/** Asserts the store holds nothing at all: no blob, layer, temp or ingest leftover, no image. */
export async function assertStoreEmpty(store: ImageStore): Promise<void> {
  assert.deepEqual(await store.blobs.list(), [], 'no blob left behind');
  assert.deepEqual(await fs.readdir(store.layers.dir), [], 'no layer or temp dir left behind');
  assert.deepEqual(await fs.readdir(path.join(store.root, 'tmp')), [], 'no temp dir left behind');
  assert.deepEqual(await fs.readdir(store.blobs.ingestDir), [], 'no ingest leftover');
  assert.deepEqual(await store.list(), []);
}
