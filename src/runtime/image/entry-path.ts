import { UnsafeEntryError } from './errors';

/** Longest path and path component an entry may have (Linux PATH_MAX and NAME_MAX). */
export const pathBytesMax = 4096;
export const componentBytesMax = 255;

/**
 * The components of an entry's path relative to the extraction root. Absolute paths and any
 * `..` component are refused outright rather than cleaned up, as a hostile archive is
 * better rejected whole than half-trusted. `.` components and a leading `./` are dropped.
 */
export function entryComponents(raw: string, entry: string = raw): string[] {
  if (raw.includes('\0')) throw new UnsafeEntryError(entry, 'malformed', 'path contains a NUL byte');
  if (Buffer.byteLength(raw) > pathBytesMax) throw new UnsafeEntryError(entry, 'name-too-long', `path longer than ${pathBytesMax} bytes`);
  if (raw.startsWith('/')) throw new UnsafeEntryError(entry, 'absolute-path', 'absolute paths are not allowed');
  const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
  for (const p of parts) {
    if (p === '..') throw new UnsafeEntryError(entry, 'dot-dot', '".." components are not allowed');
    if (Buffer.byteLength(p) > componentBytesMax) throw new UnsafeEntryError(entry, 'name-too-long', `component longer than ${componentBytesMax} bytes`);
  }
  return parts;
}

/**
 * True if a relative symlink target, resolved lexically from the link's directory, climbs
 * above the root. Absolute targets are not escapes: inside a container they resolve against
 * the container's own root (Docker keeps them, and images such as Debian ship many), and
 * extraction itself never follows a link (see extract.ts).
 */
export function symlinkEscapes(linkDir: readonly string[], target: string): boolean {
  if (target.startsWith('/')) return false;
  let depth = linkDir.length;
  for (const p of target.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') {
      depth -= 1;
      if (depth < 0) return true;
    } else {
      depth += 1;
    }
  }
  return false;
}
