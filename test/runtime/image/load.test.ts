import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { DigestMismatchError } from '../../../src/runtime/image/errors';
import type { ImageStore } from '../../../src/runtime/image/image-store';
import { busyboxApplets, busyboxPath, busyboxRootfsTar, buildBusyboxImage, imageArchive, type ArchiveForm } from '../fixtures/busybox-image';
import { makeTar } from '../fixtures/tar-writer';
import { assertStoreEmpty, openStore, requireRoot, tempDir } from './helpers';

/** Runs a command inside an unpacked busybox layer with chroot: the image really works. */
function inLayer(layer: string, ...cmd: string[]): string {
  return execFileSync('chroot', [layer, ...cmd], { encoding: 'utf8' });
}

describe('image load and import', function () {
  let dir: string;
  let store: ImageStore;
  const fixtureDirs: string[] = [];

  before(requireRoot);

  beforeEach(async function () {
    dir = await tempDir();
    store = await openStore(dir);
  });

  afterEach(async function () {
    await fs.rm(dir, { recursive: true, force: true });
  });

  after(async function () {
    for (const d of fixtureDirs) await fs.rm(d, { recursive: true, force: true });
  });

  const forms: [ArchiveForm, boolean][] = [['docker-legacy', false], ['docker-oci', false], ['docker-oci', true], ['oci-layout', true]];
  for (const [form, gz] of forms) {
    it(`loads a busybox image from a ${form} tarball${gz ? ' with a gzip layer' : ''}, runnable from its layer dir`, async function () {
      const fx = await buildBusyboxImage({ form, gzipLayer: gz });
      fixtureDirs.push(fx.dir);
      const [img] = await store.load(fx.tarball);
      assert.deepEqual(img.references, ['busybox:latest']);
      const r = await store.resolve('docker.io/library/busybox');
      assert.equal(r.id, img.id);
      assert.deepEqual(r.config.Cmd, ['sh']);
      assert.equal(r.config.Labels?.['org.shoal.test'], 'busybox');
      assert.equal(r.layerDirs.length, 1);
      const layer = r.layerDirs[0];
      assert.deepEqual(await fs.readFile(path.join(layer, 'bin/busybox')), await fs.readFile(busyboxPath));
      for (const a of busyboxApplets) assert.equal(await fs.readlink(path.join(layer, 'bin', a)), 'busybox');
      assert.equal((await fs.stat(path.join(layer, 'tmp'))).mode & 0o7777, 0o1777, 'sticky /tmp kept');
      assert.equal(inLayer(layer, '/bin/sh', '-c', 'echo hello from $(cat /etc/hostname)'), 'hello from busybox\n');
      // The store is an OCI layout: the manifest and config are blobs under their digests.
      assert.ok(await store.blobs.has(img.manifest));
      assert.ok(await store.blobs.has(img.id));
    });
  }

  it('unpacks a layer shared by two images once', async function () {
    const a = await buildBusyboxImage({ reference: 'one:1' });
    const b = await buildBusyboxImage({ reference: 'two:2', form: 'docker-oci' });
    fixtureDirs.push(a.dir, b.dir);
    await store.load(a.tarball);
    const layer = (await store.resolve('one:1')).layerDirs[0];
    const before = (await fs.stat(path.join(layer, 'bin/busybox'))).ino;
    await store.load(b.tarball);
    assert.equal((await store.resolve('two:2')).layerDirs[0], layer);
    assert.equal((await fs.stat(path.join(layer, 'bin/busybox'))).ino, before, 'the layer dir was not rewritten');
    assert.equal((await store.layers.list()).length, 1);
  });

  it('preserves owners, modes (setuid), mtimes, symlinks and hard links', async function () {
    const tarball = path.join(dir, 'rootfs.tar');
    await fs.writeFile(tarball, makeTar([
      { path: 'home/', type: 'dir', uid: 1000, gid: 1000, mode: 0o750, mtimeS: 1_500_000_000 },
      { path: 'home/f', content: 'data', uid: 1000, gid: 100, mode: 0o4755, mtimeS: 1_600_000_000 },
      { path: 'home/hl', type: 'hardlink', linkname: 'home/f' },
      { path: 'home/sl', type: 'symlink', linkname: 'f', uid: 1000, gid: 1000, mtimeS: 1_400_000_000 },
      { path: 'home/pipe', type: 'fifo', mode: 0o600 },
    ]));
    const img = await store.importRootfs(tarball, 'owners');
    const [layer] = (await store.resolve('owners:latest')).layerDirs;
    const f = await fs.stat(path.join(layer, 'home/f'));
    assert.deepEqual([f.uid, f.gid, f.mode & 0o7777, f.mtimeMs, f.nlink], [1000, 100, 0o4755, 1_600_000_000_000, 2]);
    assert.equal((await fs.stat(path.join(layer, 'home/hl'))).ino, f.ino);
    const d = await fs.stat(path.join(layer, 'home'));
    assert.deepEqual([d.uid, d.mode & 0o7777, d.mtimeMs], [1000, 0o750, 1_500_000_000_000], 'dir mtime survives its children being created');
    const s = await fs.lstat(path.join(layer, 'home/sl'));
    assert.deepEqual([s.isSymbolicLink(), s.uid, s.mtimeMs], [true, 1000, 1_400_000_000_000]);
    assert.ok((await fs.stat(path.join(layer, 'home/pipe'))).isFIFO());
    assert.equal(img.references[0], 'owners:latest');
  });

  it('imports a gzipped root filesystem as a one-layer image with its run config', async function () {
    const tarball = path.join(dir, 'rootfs.tar.gz');
    await fs.writeFile(tarball, gzipSync(await busyboxRootfsTar()));
    const img = await store.importRootfs(tarball, 'docker.io/me/bb:v1', { Cmd: ['/bin/sh', '-c', 'echo hi'], Env: ['A=1'] });
    assert.deepEqual(img.references, ['me/bb:v1']);
    const r = await store.resolve('me/bb:v1');
    assert.deepEqual(r.config, { Cmd: ['/bin/sh', '-c', 'echo hi'], Env: ['A=1'] });
    assert.equal(inLayer(r.layerDirs[0], '/bin/echo', 'ok'), 'ok\n');
    const [summary] = await store.list();
    assert.equal(summary.id, img.id);
    assert.ok(summary.created !== undefined && !Number.isNaN(Date.parse(summary.created)));
  });

  it('refuses a layer whose content does not hash to its diff id, keeping nothing', async function () {
    const rootfs = await busyboxRootfsTar();
    const tarball = path.join(dir, 'bad.tar');
    await fs.writeFile(tarball, imageArchive({ layers: [rootfs], diffIds: [`sha256:${'0'.repeat(64)}`] }, 'docker-legacy'));
    await assert.rejects(store.load(tarball), (e: unknown) => e instanceof DigestMismatchError && e.expected === `sha256:${'0'.repeat(64)}` && /uncompressed/.test(e.message));
    await assertStoreEmpty(store);
  });

  it('refuses an OCI layout blob altered after it was named by its digest, keeping nothing', async function () {
    const good = makeTar([{ path: 'f', content: 'original' }]);
    const archive = imageArchive({ layers: [good] }, 'oci-layout');
    // Flip the layer's content inside the archive, leaving its name (digest) and size as they were.
    const at = archive.indexOf(Buffer.from('original'));
    archive.write('tampered', at, 'latin1');
    const tarball = path.join(dir, 'tampered.tar');
    await fs.writeFile(tarball, archive);
    await assert.rejects(store.load(tarball), (e: unknown) => e instanceof DigestMismatchError && /blob sha256:/.test(e.message));
    await assertStoreEmpty(store);
  });

  it('refuses a legacy docker-save config whose content does not match its file name', async function () {
    const rootfs = await busyboxRootfsTar();
    const archive = imageArchive({ layers: [rootfs], runConfig: { Cmd: ['sh'] } }, 'docker-legacy');
    const at = archive.indexOf(Buffer.from('"Cmd":["sh"]'));
    archive.write('"Cmd":["rm"]', at, 'latin1');
    const tarball = path.join(dir, 'tampered.tar');
    await fs.writeFile(tarball, archive);
    await assert.rejects(store.load(tarball), (e: unknown) => e instanceof DigestMismatchError && /config/.test(e.message));
    await assertStoreEmpty(store);
  });

  it('refuses an archive that is neither docker-save nor an OCI layout, saying what it expected', async function () {
    const tarball = path.join(dir, 'rootfs.tar');
    await fs.writeFile(tarball, await busyboxRootfsTar());
    await assert.rejects(store.load(tarball), /neither index\.json \(OCI layout\) nor manifest\.json \(docker save\)/);
    await assertStoreEmpty(store);
  });
});
