import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { ImageStore } from '../../../src/runtime/image/image-store';
import { imageArchive } from '../fixtures/busybox-image';
import { makeTar } from '../fixtures/tar-writer';
import { openStore, requireRoot, tempDir, tree } from './helpers';

describe('image layers: whiteouts and opaque directories under a real overlay mount', function () {
  let dir: string;
  let store: ImageStore;
  let mounted: string | undefined;

  before(requireRoot);

  beforeEach(async function () {
    dir = await tempDir();
    store = await openStore(dir);
  });

  afterEach(async function () {
    if (mounted !== undefined) execFileSync('umount', [mounted]);
    mounted = undefined;
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('a file deleted, a directory made opaque and a top-level file removed in layer 2 are gone in the merged view', async function () {
    const lower = makeTar([
      { path: 'a/', type: 'dir' }, { path: 'a/keep', content: 'keep' }, { path: 'a/gone', content: 'gone' },
      { path: 'o/', type: 'dir' }, { path: 'o/old', content: 'old' }, { path: 'o/sub/', type: 'dir' }, { path: 'o/sub/deep', content: 'deep' },
      { path: 'top', content: 'top' }, { path: 'stay', content: 'stay' },
    ]);
    const upper = makeTar([
      { path: 'a/', type: 'dir' }, { path: 'a/.wh.gone', content: '' },
      { path: 'o/', type: 'dir' }, { path: 'o/.wh..wh..opq', content: '' }, { path: 'o/new', content: 'new' },
      { path: '.wh.top', content: '' },
      { path: 'new-dir/', type: 'dir' }, { path: 'new-dir/.wh..wh.plnk', type: 'dir' },
    ]);
    const tarball = path.join(dir, 'img.tar');
    await fs.writeFile(tarball, imageArchive({ layers: [lower, upper], reference: 'layered:1' }, 'docker-legacy'));
    await store.load(tarball);
    const { layerDirs } = await store.resolve('layered:1');
    assert.equal(layerDirs.length, 2);

    // The upper layer holds overlayfs' own forms: a 0/0 char device and an opaque xattr.
    const wh = await fs.lstat(path.join(layerDirs[1], 'a/gone'));
    assert.ok(wh.isCharacterDevice() && wh.rdev === 0, 'a/gone is a whiteout device 0/0');
    assert.ok((await fs.lstat(path.join(layerDirs[1], 'top'))).isCharacterDevice());
    const xattr = execFileSync('getfattr', ['--absolute-names', '--only-values', '-n', 'trusted.overlay.opaque', path.join(layerDirs[1], 'o')], { encoding: 'utf8' });
    assert.equal(xattr, 'y');
    assert.ok(!(await tree(layerDirs[1])).some((p) => p.includes('.wh.')), 'no AUFS marker left in the layer dir');

    const merged = path.join(dir, 'merged');
    const work = path.join(dir, 'work');
    const up = path.join(dir, 'upper');
    for (const d of [merged, work, up]) await fs.mkdir(d);
    // overlayfs lists lower dirs highest first; resolve() gives them lowest first.
    const lowerdir = [...layerDirs].reverse().join(':');
    execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lowerdir},upperdir=${up},workdir=${work}`, merged]);
    mounted = merged;
    assert.deepEqual(await tree(merged), ['a', 'a/keep', 'new-dir', 'o', 'o/new', 'stay']);
    assert.equal(await fs.readFile(path.join(merged, 'a/keep'), 'utf8'), 'keep');
  });
});
