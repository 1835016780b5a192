import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { readTar, type TarEntry } from '../../../src/runtime/image/tar-reader';
import { UnsafeEntryError } from '../../../src/runtime/image/errors';
import { makeTar } from '../fixtures/tar-writer';

/** Feeds a buffer in small uneven chunks, so every header and body straddles chunk borders. */
function chunked(b: Buffer, size = 37): AsyncIterable<Buffer> {
  const parts: Buffer[] = [];
  for (let i = 0; i < b.length; i += size) parts.push(b.subarray(i, i + size));
  return Readable.from(parts, { objectMode: true }) as AsyncIterable<Buffer>;
}

async function readAll(b: Buffer): Promise<{ entry: TarEntry; data: string }[]> {
  const out: { entry: TarEntry; data: string }[] = [];
  for await (const { entry, body } of readTar(chunked(b))) {
    const parts: Buffer[] = [];
    for await (const c of body) parts.push(c);
    out.push({ entry, data: Buffer.concat(parts).toString() });
  }
  return out;
}

describe('tar reader', function () {
  it('streams ustar entries of every kind with their metadata, across chunk borders', async function () {
    const got = await readAll(makeTar([
      { path: 'd/', type: 'dir', mode: 0o750, uid: 12, gid: 34, mtimeS: 1_600_000_000 },
      { path: 'd/f', content: 'hello', mode: 0o4755 },
      { path: 'd/s', type: 'symlink', linkname: 'f' },
      { path: 'd/h', type: 'hardlink', linkname: 'd/f' },
      { path: 'd/p', type: 'fifo' },
    ]));
    assert.deepEqual(got.map((g) => [g.entry.path, g.entry.type, g.data, g.entry.linkname]), [
      ['d/', 'dir', '', ''], ['d/f', 'file', 'hello', ''], ['d/s', 'symlink', '', 'f'], ['d/h', 'hardlink', '', 'd/f'], ['d/p', 'fifo', '', ''],
    ]);
    assert.deepEqual([got[0].entry.mode, got[0].entry.uid, got[0].entry.gid, got[0].entry.mtimeMs], [0o750, 12, 34, 1_600_000_000_000]);
    assert.equal(got[1].entry.mode, 0o4755, 'setuid bit kept');
  });

  it('applies pax and GNU long names and long link targets', async function () {
    const long = `${'a'.repeat(120)}/${'b'.repeat(120)}`;
    const got = await readAll(makeTar([
      { path: long, content: 'pax' },
      { path: `${long}-gnu`, content: 'gnu', gnuLongName: true },
      { path: 'ln', type: 'symlink', linkname: long },
      { path: 'after', content: 'plain' },
    ]));
    assert.deepEqual(got.map((g) => [g.entry.path, g.data]), [[long, 'pax'], [`${long}-gnu`, 'gnu'], ['ln', ''], ['after', 'plain']]);
    assert.equal(got[2].entry.linkname, long);
  });

  it('skips bodies the consumer does not read', async function () {
    const names: string[] = [];
    for await (const { entry } of readTar(chunked(makeTar([{ path: 'a', content: 'x'.repeat(3000) }, { path: 'b', content: 'y' }])))) names.push(entry.path);
    assert.deepEqual(names, ['a', 'b']);
  });

  it('refuses a corrupt header checksum, a truncated archive and an unknown entry type, naming the entry', async function () {
    const good = makeTar([{ path: 'victim', content: 'abc' }]);
    const corrupt = Buffer.from(good);
    corrupt[10] ^= 0xff;
    await assert.rejects(readAll(corrupt), (e: unknown) => e instanceof UnsafeEntryError && e.reason === 'malformed' && /checksum/.test(e.message));
    const truncated = makeTar([{ path: 'short', content: 'abc', sizeOverride: 5000 }]).subarray(0, 1024);
    await assert.rejects(readAll(truncated), (e: unknown) => e instanceof UnsafeEntryError && e.entry === 'short' && /truncated/.test(e.message));
    const sparse = Buffer.from(good);
    sparse[156] = 'S'.charCodeAt(0);
    let sum = 0;
    sparse.write('        ', 148, 'latin1');
    for (let i = 0; i < 512; i++) sum += sparse[i];
    sparse.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    await assert.rejects(readAll(sparse), (e: unknown) => e instanceof UnsafeEntryError && e.entry === 'victim' && e.reason === 'unsupported-type');
  });
});
