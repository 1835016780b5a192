import type { NodeId } from '../core/types';

/** The node's own state kept inside every snapshot beside the state machine's image. */
export interface MembershipBook {
  /** Addresses of current members. */
  readonly addresses: Record<string, string>;
  /** Ids ever removed: never admitted again. */
  readonly removed: readonly NodeId[];
}

/** Frames [u32 header length][header JSON][state machine image]. */
export function encodeEnvelope(book: MembershipBook, app: Uint8Array): Uint8Array {
  const header = Buffer.from(JSON.stringify(book));
  const out = Buffer.allocUnsafe(4 + header.length + app.length);
  out.writeUInt32BE(header.length, 0);
  header.copy(out, 4);
  out.set(app, 4 + header.length);
  return out;
}

/** Splits an envelope made by encodeEnvelope. */
export function decodeEnvelope(data: Uint8Array): { book: MembershipBook; app: Uint8Array } {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (buf.length < 4) throw new Error(`snapshot envelope too short (${buf.length} bytes)`);
  const n = buf.readUInt32BE(0);
  if (4 + n > buf.length) throw new Error(`snapshot envelope header of ${n} bytes overruns ${buf.length} bytes`);
  const book = JSON.parse(buf.subarray(4, 4 + n).toString('utf8')) as MembershipBook;
  return { book, app: buf.subarray(4 + n) };
}
