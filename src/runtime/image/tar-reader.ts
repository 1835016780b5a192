import { ByteReader } from './byte-reader';
import { UnsafeEntryError } from './errors';
import { blockBytes, entryType, isZeroBlock, parseHeader, parsePax, type TarEntryType } from './tar-header';

/** One entry of an archive, with pax and GNU long-name extensions already applied. */
export interface TarEntry {
  path: string;
  type: TarEntryType;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  mtimeMs: number;
  linkname: string;
  devmajor: number;
  devminor: number;
}

/** Bounds on what one archive may hold; entries beyond them are refused by name. */
export interface TarLimits {
  entryBytesMax: number;
  /** Extension headers (pax, GNU long names) are read into memory: keep this small. */
  metaBytesMax: number;
}

export const defaultTarLimits: TarLimits = { entryBytesMax: 16 * 2 ** 30, metaBytesMax: 1 << 20 };

const pad = (n: number): number => (blockBytes - (n % blockBytes)) % blockBytes;

/** An entry and its content; `body` must be consumed before asking for the next entry, or is skipped. */
export interface TarItem {
  entry: TarEntry;
  body: AsyncIterable<Buffer>;
}

/**
 * Streams the entries of a tar archive (ustar, GNU long names, pax). Unknown entry types are
 * refused rather than silently skipped, so no file an image expects goes missing unnoticed.
 * After the end-of-archive marker the rest of the input is drained (it may be hashed).
 */
export async function* readTar(src: AsyncIterable<Buffer>, limits: TarLimits = defaultTarLimits): AsyncGenerator<TarItem> {
  const r = new ByteReader(src);
  let longName: string | undefined;
  let longLink: string | undefined;
  let pax = new Map<string, string>();
  let globalPax = new Map<string, string>();
  for (;;) {
    const block = await r.read(blockBytes, '(header)');
    if (block === null) return;
    if (isZeroBlock(block)) {
      await r.drain();
      return;
    }
    const h = parseHeader(block);
    const name = pax.get('path') ?? longName ?? globalPax.get('path') ?? h.name;
    const size = parsePaxNum(pax.get('size'), name) ?? h.size;
    const meta = async (): Promise<Buffer> => {
      if (size > limits.metaBytesMax) throw new UnsafeEntryError(name, 'entry-too-large', `extension header of ${size} bytes (limit ${limits.metaBytesMax})`);
      const body = size === 0 ? Buffer.alloc(0) : await r.read(size, name);
      if (body === null) throw new UnsafeEntryError(name, 'malformed', 'archive truncated');
      await r.skip(pad(size), name);
      return body;
    };
    if (h.typeflag === 'L') { longName = cstrOf(await meta()); continue; }
    if (h.typeflag === 'K') { longLink = cstrOf(await meta()); continue; }
    if (h.typeflag === 'x') { pax = parsePax(await meta(), name); continue; }
    if (h.typeflag === 'g') { globalPax = parsePax(await meta(), name); continue; }
    const type = entryType(h.typeflag);
    if (type === undefined) throw new UnsafeEntryError(name, 'unsupported-type', `tar entry type ${JSON.stringify(h.typeflag)} is not supported`);
    const entry: TarEntry = {
      path: name,
      type,
      size: type === 'file' ? size : 0,
      mode: h.mode & 0o7777,
      uid: parsePaxNum(pax.get('uid'), name) ?? h.uid,
      gid: parsePaxNum(pax.get('gid'), name) ?? h.gid,
      mtimeMs: pax.has('mtime') ? Number(pax.get('mtime')) * 1000 : h.mtimeS * 1000,
      linkname: pax.get('linkpath') ?? longLink ?? h.linkname,
      devmajor: h.devmajor,
      devminor: h.devminor,
    };
    if (!Number.isFinite(entry.mtimeMs)) throw new UnsafeEntryError(name, 'malformed', 'pax mtime is not a number');
    if (entry.size > limits.entryBytesMax) {
      throw new UnsafeEntryError(name, 'entry-too-large', `${entry.size} bytes (limit ${limits.entryBytesMax})`);
    }
    longName = longLink = undefined;
    pax = new Map();
    // Hard links and others may carry a size field with no data following; only regular files have content.
    const dataBytes = type === 'file' ? size : 0;
    let consumed = false;
    const body: AsyncIterable<Buffer> = {
      [Symbol.asyncIterator]: () => {
        if (consumed) throw new Error(`body of ${name} read twice`);
        consumed = true;
        return r.chunks(dataBytes, name);
      },
    };
    const before = r.offset;
    yield { entry, body };
    const read = r.offset - before;
    await r.skip(dataBytes - read + pad(dataBytes), name);
  }
}

function cstrOf(b: Buffer): string {
  const nul = b.indexOf(0);
  return (nul < 0 ? b : b.subarray(0, nul)).toString('utf8');
}

function parsePaxNum(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new UnsafeEntryError(name, 'malformed', `pax number ${JSON.stringify(v)}`);
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new UnsafeEntryError(name, 'malformed', `pax number ${v} too large`);
  return n;
}
