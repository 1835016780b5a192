import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { ShoalError } from '../../types/errors';
import { writeFileAtomic } from './atomic-file';
import { isDigest, type Digest } from './digest';

/** One image the store keeps: its config digest (the image id) and when it was added. */
export interface ImageRecord {
  id: Digest;
  addedAt: string;
}

/** The store's mutable state: images by manifest digest, and `name:tag` references to them. */
export interface StoreState {
  version: 1;
  images: Record<string, ImageRecord>;
  refs: Record<string, Digest>;
}

export const stateFileName = 'images.json';

/** Reads the state; a missing file is an empty store, a corrupt one stops with its name. */
export async function readState(root: string): Promise<StoreState> {
  const file = path.join(root, stateFileName);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, images: {}, refs: {} };
    throw err;
  }
  const corrupt = (why: string): ShoalError => new ShoalError('Internal', `image store state ${file} is corrupt: ${why}`, {
    hint: 'restore it from a backup, or remove it and load the images again',
  });
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw corrupt((err as Error).message);
  }
  const s = v as StoreState;
  if (typeof s !== 'object' || s === null || s.version !== 1 || typeof s.images !== 'object' || typeof s.refs !== 'object') throw corrupt('unexpected shape');
  for (const [m, rec] of Object.entries(s.images)) if (!isDigest(m) || !isDigest(rec?.id)) throw corrupt(`bad image record ${m}`);
  for (const [r, m] of Object.entries(s.refs)) if (!isDigest(m) || s.images[m] === undefined) throw corrupt(`reference ${r} points to an unknown image`);
  return s;
}

/** Writes the state atomically (temp file, fsync, rename, fsync of the directory). */
export async function writeState(root: string, s: StoreState): Promise<void> {
  await writeFileAtomic(path.join(root, stateFileName), `${JSON.stringify(s, null, 1)}\n`);
}
