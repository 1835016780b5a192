import { UnsafeEntryError } from './errors';

/** The kinds of tar entry shoal knows; everything else is refused by name. */
export type TarEntryType = 'file' | 'hardlink' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

/** One raw 512-byte header, decoded (ustar, GNU and v7). */
export interface RawHeader {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtimeS: number;
  typeflag: string;
  linkname: string;
  devmajor: number;
  devminor: number;
}

export const blockBytes = 512;

const cstr = (b: Buffer, off: number, len: number): string => {
  const s = b.subarray(off, off + len);
  const nul = s.indexOf(0);
  return (nul < 0 ? s : s.subarray(0, nul)).toString('utf8');
};

/** A numeric field: octal text, or GNU base-256 when the high bit of the first byte is set. */
function num(b: Buffer, off: number, len: number, field: string, name: string): number {
  const f = b.subarray(off, off + len);
  if ((f[0] & 0x80) !== 0) {
    if ((f[0] & 0x40) !== 0) throw new UnsafeEntryError(name, 'malformed', `negative ${field}`);
    let v = f[0] & 0x3f;
    for (let i = 1; i < f.length; i++) {
      v = v * 256 + f[i];
      if (!Number.isSafeInteger(v)) throw new UnsafeEntryError(name, 'malformed', `${field} too large`);
    }
    return v;
  }
  const text = cstr(b, off, len).trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new UnsafeEntryError(name, 'malformed', `${field} ${JSON.stringify(text)} is not octal`);
  const v = parseInt(text, 8);
  if (!Number.isSafeInteger(v)) throw new UnsafeEntryError(name, 'malformed', `${field} too large`);
  return v;
}

/** True for an all-zero block (end-of-archive marker). */
export function isZeroBlock(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

/** Decodes one header block, checking its checksum. */
export function parseHeader(b: Buffer): RawHeader {
  const rawName = cstr(b, 0, 100);
  let sum = 0;
  let signed = 0;
  for (let i = 0; i < blockBytes; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : b[i];
    sum += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  const stored = num(b, 148, 8, 'checksum', rawName);
  if (stored !== sum && stored !== signed) {
    throw new UnsafeEntryError(rawName, 'malformed', `header checksum ${stored} does not match ${sum}: not a tar archive, or a corrupt one`);
  }
  const magic = b.subarray(257, 263).toString('latin1');
  const isUstar = magic === 'ustar\0';
  const prefix = isUstar ? cstr(b, 345, 155) : '';
  const name = prefix === '' ? rawName : `${prefix}/${rawName}`;
  return {
    name,
    mode: num(b, 100, 8, 'mode', name),
    uid: num(b, 108, 8, 'uid', name),
    gid: num(b, 116, 8, 'gid', name),
    size: num(b, 124, 12, 'size', name),
    mtimeS: num(b, 136, 12, 'mtime', name),
    typeflag: String.fromCharCode(b[156]),
    linkname: cstr(b, 157, 100),
    devmajor: isUstar || magic === 'ustar ' ? num(b, 329, 8, 'devmajor', name) : 0,
    devminor: isUstar || magic === 'ustar ' ? num(b, 337, 8, 'devminor', name) : 0,
  };
}

/** Parses a pax extended header body: records of `<len> <key>=<value>\n`. */
export function parsePax(body: Buffer, name: string): Map<string, string> {
  const out = new Map<string, string>();
  let pos = 0;
  while (pos < body.length) {
    if (body[pos] === 0) break;
    const sp = body.indexOf(0x20, pos);
    if (sp < 0) throw new UnsafeEntryError(name, 'malformed', 'pax record without a length');
    const len = Number(body.subarray(pos, sp).toString('latin1'));
    if (!Number.isSafeInteger(len) || len <= sp - pos || pos + len > body.length) {
      throw new UnsafeEntryError(name, 'malformed', 'pax record length out of range');
    }
    const rec = body.subarray(sp + 1, pos + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    if (eq <= 0 || body[pos + len - 1] !== 0x0a) throw new UnsafeEntryError(name, 'malformed', 'pax record malformed');
    out.set(rec.slice(0, eq), rec.slice(eq + 1));
    pos += len;
  }
  return out;
}

/** Maps a typeflag to an entry type, or undefined for the ones we do not handle. */
export function entryType(typeflag: string): TarEntryType | undefined {
  switch (typeflag) {
    case '0': case '\0': case '7': return 'file';
    case '1': return 'hardlink';
    case '2': return 'symlink';
    case '3': return 'char';
    case '4': return 'block';
    case '5': return 'dir';
    case '6': return 'fifo';
    default: return undefined;
  }
}
