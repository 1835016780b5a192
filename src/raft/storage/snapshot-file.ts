import { crc32 } from 'node:zlib';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';

/** Where a snapshot image lives and what it must contain; stored in LevelDB beside the log. */
export interface SnapshotFileRef {
  readonly file: string;
  readonly bytes: number;
  readonly crc32: number;
}

/** The file name of the snapshot at (term, index): sorts by index, never reused. */
export function snapshotFileName(term: number, index: number): string {
  return `snap-${term.toString(16).padStart(16, '0')}-${index.toString(16).padStart(16, '0')}.snap`;
}

/** fsyncs a directory so that a rename or unlink in it survives a crash. */
export async function syncDir(dir: string): Promise<void> {
  const h = await fs.open(dir, 'r');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

/**
 * Writes `data` as `dir/name`: to a temporary file first, synced, then renamed into place and the
 * directory synced, so a crash leaves either no file or the whole file, never part of one.
 */
export async function writeSnapshotFile(dir: string, name: string, data: Uint8Array): Promise<SnapshotFileRef> {
  const tmp = path.join(dir, `${name}.tmp`);
  const h = await fs.open(tmp, 'w', 0o600);
  try {
    await h.writeFile(data);
    await h.sync();
  } finally {
    await h.close();
  }
  await fs.rename(tmp, path.join(dir, name));
  await syncDir(dir);
  return { file: name, bytes: data.length, crc32: crc32(data) };
}

/** Reads a snapshot file and checks it against its reference; returns why it is unusable or the data. */
export async function readSnapshotFile(dir: string, ref: SnapshotFileRef): Promise<Buffer | string> {
  let data: Buffer;
  try {
    data = await fs.readFile(path.join(dir, ref.file));
  } catch (err) {
    return `snapshot file cannot be read: ${(err as Error).message}`;
  }
  if (data.length !== ref.bytes) return `snapshot file has ${data.length} bytes, expected ${ref.bytes} (truncated?)`;
  if (crc32(data) !== ref.crc32) return 'snapshot file checksum does not match (corrupted)';
  return data;
}

/** Deletes snapshot files (and leftover temporary files) other than `keep`. */
export async function removeOtherSnapshots(dir: string, keep: string): Promise<void> {
  for (const f of await fs.readdir(dir)) {
    if (f !== keep && f.startsWith('snap-')) await fs.rm(path.join(dir, f), { force: true });
  }
}
