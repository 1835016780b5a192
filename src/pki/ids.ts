import { randomBytes } from 'node:crypto';

/** Length of node and cluster ids: 128 random bits in base36 (DESIGN.md §3). */
export const idLength = 25;

const idPattern = /^[0-9a-z]{25}$/;

/** A new random id (node, cluster); from the OS CSPRNG because ids end up in certificates. */
export function newId(): string {
  return toBase36(randomBytes(16), idLength);
}

/** True if s has the shape of an id made by newId. */
export function isId(s: string): boolean {
  return idPattern.test(s);
}

/** bytes as a big-endian number in base36, left-padded with zeros to width. */
export function toBase36(bytes: Uint8Array, width: number): string {
  const n = BigInt(`0x${Buffer.from(bytes).toString('hex') || '0'}`);
  return n.toString(36).padStart(width, '0');
}
