import { crc32 } from 'node:zlib';

/** Key prefixes in the LevelDB keyspace; one byte, then the key's own bytes. */
export const KeyKind = { Entry: 1, HardState: 2, SnapshotMeta: 3, Meta: 4 } as const;

/** The key of the entry at `index`: big-endian so LevelDB orders entries by index. */
export function entryKey(index: number): Buffer {
  const k = Buffer.allocUnsafe(9);
  k[0] = KeyKind.Entry;
  k.writeUInt32BE(Math.floor(index / 2 ** 32), 1);
  k.writeUInt32BE(index >>> 0, 5);
  return k;
}

/** The index in an entry key. */
export function indexOfEntryKey(k: Buffer): number {
  return k.readUInt32BE(1) * 2 ** 32 + k.readUInt32BE(5);
}

export const hardStateKey = Buffer.from([KeyKind.HardState]);
export const snapshotMetaKey = Buffer.from([KeyKind.SnapshotMeta]);

/** The key of a meta setting. */
export function metaKey(name: string): Buffer {
  return Buffer.concat([Buffer.from([KeyKind.Meta]), Buffer.from(name, 'utf8')]);
}

/** Frames a value with its CRC-32, so a damaged value is found on read instead of decoded. */
export function frame(payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(4 + payload.length);
  out.writeUInt32BE(crc32(payload), 0);
  out.set(payload, 4);
  return out;
}

/** The payload of a framed value, or null if its checksum does not match. */
export function unframe(v: Buffer): Buffer | null {
  if (v.length < 4) return null;
  const payload = v.subarray(4);
  return crc32(payload) === v.readUInt32BE(0) ? payload : null;
}

/** Encodes the entries of one write as one LevelDB value: [u32 count]([u32 length][entry])*. */
export function encodeRun(encoded: readonly Uint8Array[]): Buffer {
  let size = 4;
  for (const e of encoded) size += 4 + e.length;
  const out = Buffer.allocUnsafe(size);
  out.writeUInt32BE(encoded.length, 0);
  let at = 4;
  for (const e of encoded) {
    out.writeUInt32BE(e.length, at);
    out.set(e, at + 4);
    at += 4 + e.length;
  }
  return out;
}

/** Splits a run made by encodeRun into its encoded entries; null if the framing does not add up. */
export function decodeRun(b: Buffer): Buffer[] | null {
  if (b.length < 4) return null;
  const n = b.readUInt32BE(0);
  const out: Buffer[] = [];
  let at = 4;
  for (let i = 0; i < n; i++) {
    if (at + 4 > b.length) return null;
    const len = b.readUInt32BE(at);
    if (at + 4 + len > b.length) return null;
    out.push(b.subarray(at + 4, at + 4 + len));
    at += 4 + len;
  }
  return at === b.length ? out : null;
}
