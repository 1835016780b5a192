import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { ShoalError } from '../../../src/types/errors';
import { UnsafeEntryError, type UnsafeReason } from '../../../src/runtime/image/errors';
import type { ImageStore } from '../../../src/runtime/image/image-store';
import { imageArchive } from '../fixtures/busybox-image';
import { makeTar, type TarSpec } from '../fixtures/tar-writer';
import { assertStoreEmpty, openStore, requireRoot, tempDir, tree } from './helpers';

interface HostileCase {
  title: string;
  entries: (outside: string) => TarSpec[];
  entry: string;
  reason: UnsafeReason;
}

const cases: HostileCase[] = [
  { title: 'a ".." path', entries: () => [{ path: '../escaped', content: 'x' }], entry: '../escaped', reason: 'dot-dot' },
  { title: 'a ".." in the middle of a path', entries: () => [{ path: 'a/../../escaped', content: 'x' }], entry: 'a/../../escaped', reason: 'dot-dot' },
  { title: 'an absolute path', entries: (o) => [{ path: `${o}/escaped`, content: 'x' }], entry: '<outside>/escaped', reason: 'absolute-path' },
  { title: 'a relative symlink that climbs out of the root', entries: () => [{ path: 'd/', type: 'dir' }, { path: 'd/up', type: 'symlink', linkname: '../../../../tmp' }], entry: 'd/up', reason: 'symlink-escape' },
  {
    title: 'a file written through a symlink placed earlier in the archive',
    entries: (o) => [{ path: 'link', type: 'symlink', linkname: o }, { path: 'link/escaped', content: 'pwned' }],
    entry: 'link/escaped', reason: 'through-symlink',
  },
  {
    title: 'a directory replaced by a symlink, then written through',
    entries: (o) => [{ path: 'd/', type: 'dir' }, { path: 'd/ok', content: 'ok' }, { path: 'd', type: 'symlink', linkname: o }, { path: 'd/escaped', content: 'pwned' }],
    entry: 'd/escaped', reason: 'through-symlink',
  },
  { title: 'a hard link to a path outside (..)', entries: () => [{ path: 'hl', type: 'hardlink', linkname: '../../etc/passwd' }], entry: 'hl', reason: 'hardlink-escape' },
  { title: 'a hard link to an absolute host path', entries: () => [{ path: 'hl', type: 'hardlink', linkname: '/etc/passwd' }], entry: 'hl', reason: 'hardlink-escape' },
  {
    title: 'a hard link through a symlink to a host file',
    entries: () => [{ path: 'etcdir', type: 'symlink', linkname: '/etc' }, { path: 'hl', type: 'hardlink', linkname: 'etcdir/passwd' }],
    entry: 'hl', reason: 'through-symlink',
  },
  { title: 'a character device node', entries: () => [{ path: 'dev/', type: 'dir' }, { path: 'dev/mem', type: 'char', devmajor: 1, devminor: 1 }], entry: 'dev/mem', reason: 'device-node' },
  { title: 'a block device node', entries: () => [{ path: 'sda', type: 'block', devmajor: 8, devminor: 0 }], entry: 'sda', reason: 'device-node' },
  { title: 'an entry larger than the per-entry limit', entries: () => [{ path: 'ok', content: 'x' }, { path: 'big', content: Buffer.alloc(5000) }], entry: 'big', reason: 'entry-too-large' },
  {
    title: 'entries whose total passes the archive limit',
    entries: () => [0, 1, 2, 3, 4].map((i): TarSpec => ({ path: `f${i}`, content: Buffer.alloc(3000) })),
    entry: 'f3', reason: 'total-too-large',
  },
  { title: 'a path component longer than NAME_MAX', entries: () => [{ path: `d/${'n'.repeat(256)}`, content: 'x' }], entry: `d/${'n'.repeat(256)}`, reason: 'name-too-long' },
  {
    title: 'an extension (pax) header larger than the metadata limit',
    entries: () => [{ path: Array.from({ length: 12 }, () => 'p'.repeat(250)).join('/'), content: 'x' }], entry: 'PaxHeaders/x', reason: 'entry-too-large',
  },
  { title: 'more entries than the limit', entries: () => Array.from({ length: 30 }, (_, i): TarSpec => ({ path: `e${i}`, type: 'dir' })), entry: 'e25', reason: 'too-many-entries' },
];

const limits = { entryBytesMax: 4096, totalBytesMax: 10_000, entriesMax: 25, metaBytesMax: 2048 };

describe('image extraction refuses hostile tarballs and leaves nothing behind', function () {
  let dir: string;
  let outside: string;
  let store: ImageStore;

  before(requireRoot);

  beforeEach(async function () {
    dir = await tempDir();
    outside = path.join(dir, 'outside');
    await fs.mkdir(outside);
    store = await openStore(dir, limits);
  });

  afterEach(async function () {
    await fs.rm(dir, { recursive: true, force: true });
  });

  const refused = (c: HostileCase, o: string) => (e: unknown): boolean => {
    assert.ok(e instanceof UnsafeEntryError, `expected UnsafeEntryError, got ${String(e)}`);
    assert.equal(e.reason, c.reason);
    assert.equal(e.entry, c.entry.replace('<outside>', o));
    assert.ok(e.message.includes(JSON.stringify(e.entry)), 'the message names the entry');
    return true;
  };

  const assertNothingOutside = async (): Promise<void> => {
    assert.deepEqual(await tree(outside), [], 'nothing written in the directory the archive aimed at');
    assert.deepEqual((await fs.readdir(dir)).sort(), ['layer.tar', 'outside', 'store'], 'nothing beside the store');
    await assertStoreEmpty(store);
  };

  for (const c of cases) {
    it(`import refuses ${c.title}`, async function () {
      const tarball = path.join(dir, 'layer.tar');
      await fs.writeFile(tarball, makeTar(c.entries(outside)));
      await assert.rejects(store.importRootfs(tarball, 'hostile:1'), refused(c, outside));
      await assertNothingOutside();
    });
  }

  it('load of a docker-save archive whose (gzipped) layer is hostile refuses it and rolls back every blob', async function () {
    const c = cases.find((x) => x.reason === 'through-symlink')!;
    const tarball = path.join(dir, 'layer.tar');
    const good = makeTar([{ path: 'fine', content: 'fine' }]);
    const bad = makeTar(c.entries(outside));
    await fs.writeFile(tarball, imageArchive({ layers: [good, gzipSync(bad)], layerTars: [good, bad], reference: 'hostile:2' }, 'docker-legacy'));
    await assert.rejects(store.load(tarball), refused(c, outside));
    await assertNothingOutside();
  });

  it('load refuses an image archive that itself holds a ".." entry', async function () {
    const tarball = path.join(dir, 'layer.tar');
    await fs.writeFile(tarball, makeTar([{ path: 'manifest.json', content: '[]' }, { path: '../../escaped', content: 'x' }]));
    await assert.rejects(store.load(tarball), (e: unknown) => e instanceof UnsafeEntryError && e.entry === '../../escaped' && e.reason === 'dot-dot');
    await assertNothingOutside();
    assert.deepEqual(await fs.readdir(path.dirname(dir)).then((n) => n.includes('escaped')), false);
  });

  it('refuses a truncated gzip root filesystem as InvalidArgument, keeping nothing', async function () {
    const tarball = path.join(dir, 'layer.tar');
    const gz = gzipSync(makeTar([{ path: 'f', content: Buffer.alloc(3000, 7) }]));
    await fs.writeFile(tarball, gz.subarray(0, gz.length - 12));
    await assert.rejects(store.importRootfs(tarball, 'trunc:1'), (e: unknown) => ShoalError.is(e, 'InvalidArgument') && /is not a valid gzip stream/.test(e.message));
    await assertNothingOutside();
  });

  it('keeps absolute symlinks verbatim: they resolve inside the container, and extraction never follows them', async function () {
    const tarball = path.join(dir, 'layer.tar');
    await fs.writeFile(tarball, makeTar([{ path: 'etc/', type: 'dir' }, { path: 'etc/localtime', type: 'symlink', linkname: '/usr/share/zoneinfo/UTC' }]));
    const img = await store.importRootfs(tarball, 'abs:1');
    const [layer] = (await store.resolve(img.id)).layerDirs;
    assert.equal(await fs.readlink(path.join(layer, 'etc/localtime')), '/usr/share/zoneinfo/UTC');
  });
});
