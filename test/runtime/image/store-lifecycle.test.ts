import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { ShoalError } from '../../../src/types/errors';
import { sha256Of, type Digest } from '../../../src/runtime/image/digest';
import { ImageInUseError } from '../../../src/runtime/image/errors';
import { ImageStore } from '../../../src/runtime/image/image-store';
import { busyboxRootfsTar, imageArchive } from '../fixtures/busybox-image';
import { makeTar } from '../fixtures/tar-writer';
import { assertStoreEmpty, openStore, requireRoot, tempDir } from './helpers';

describe('image store: images ls, rmi, garbage collection, persistence', function () {
  let dir: string;
  let store: ImageStore;
  let busybox: Buffer;

  before(async function () {
    requireRoot();
    busybox = await busyboxRootfsTar();
  });

  beforeEach(async function () {
    dir = await tempDir();
    store = await openStore(dir);
  });

  afterEach(async function () {
    await fs.rm(dir, { recursive: true, force: true });
  });

  const loadAs = async (reference: string, layers = [busybox]): Promise<Digest> => {
    const tarball = path.join(dir, `${reference.replace(/[:/]/g, '_')}.tar`);
    await fs.writeFile(tarball, imageArchive({ layers, reference }, 'docker-legacy'));
    return (await store.load(tarball))[0].id;
  };

  it('lists each image once with all its references, its id, size and creation time', async function () {
    const id = await loadAs('busybox:latest');
    assert.equal(await loadAs('busybox:v2'), id, 'the same image under a second tag');
    const other = await loadAs('small:1', [makeTar([{ path: 'f', content: 'x' }])]);
    const ls = await store.list();
    assert.deepEqual(ls.map((i) => [i.references, i.id]), [[['busybox:latest', 'busybox:v2'], id], [['small:1'], other]]);
    assert.equal(ls[0].created, '2026-01-02T03:04:05Z');
    assert.ok(ls[0].size > busybox.length && ls[0].size < busybox.length + 4096);
  });

  it('rmi of one of two tags only untags; rmi of the last removes the image, its blobs and its layer', async function () {
    const id = await loadAs('busybox:latest');
    await loadAs('busybox:v2');
    assert.deepEqual(await store.remove('busybox:v2', () => false), { untagged: ['busybox:v2'], deleted: undefined });
    assert.equal((await store.list()).length, 1);
    assert.deepEqual(await store.remove('busybox', () => false), { untagged: ['busybox:latest'], deleted: id });
    await assertStoreEmpty(store);
  });

  it('rmi is refused while a container uses the image, and the image stays whole', async function () {
    const id = await loadAs('busybox:latest');
    const used = new Set<string>([id]);
    const inUse = (i: Digest): boolean => used.has(i);
    await assert.rejects(store.remove('busybox', inUse), (e: unknown) => e instanceof ImageInUseError && ShoalError.is(e, 'Conflict') && e.message.includes(id));
    await assert.rejects(store.remove(id.slice('sha256:'.length, 'sha256:'.length + 12), inUse), ImageInUseError);
    const r = await store.resolve('busybox');
    await fs.access(path.join(r.layerDirs[0], 'bin/busybox'));
    used.clear();
    await store.remove(id, inUse);
    await assertStoreEmpty(store);
  });

  it('gc removes blobs and layer dirs no image refers to and keeps every one that is referenced', async function () {
    await loadAs('busybox:latest');
    const keptBlobs = (await store.blobs.list()).sort();
    const keptLayers = await store.layers.list();
    const stray = await store.blobs.putBuffer(Buffer.from('stray'), 'stray');
    await fs.mkdir(store.layers.pathOf(sha256Of('no such layer')));
    assert.deepEqual(await store.gc(), { blobsRemoved: 1, layersRemoved: 1 });
    assert.ok(!(await store.blobs.has(stray.digest)));
    assert.deepEqual((await store.blobs.list()).sort(), keptBlobs);
    assert.deepEqual(await store.layers.list(), keptLayers);
    assert.deepEqual(await store.gc(), { blobsRemoved: 0, layersRemoved: 0 }, 'gc is idempotent');
  });

  it('a newer image taking a tag leaves the old one dangling; prune removes it unless a container uses it', async function () {
    const old = await loadAs('app:1', [makeTar([{ path: 'v', content: '1' }])]);
    const used = new Set<string>([old]);
    const newer = await loadAs('app:1', [makeTar([{ path: 'v', content: '2' }])]);
    assert.deepEqual((await store.list()).map((i) => [i.references, i.id]), [[['app:1'], newer], [[], old]]);
    assert.deepEqual(await store.prune((i) => used.has(i)), { deleted: [] }, 'kept while in use');
    used.clear();
    assert.deepEqual(await store.prune((i) => used.has(i)), { deleted: [old] });
    assert.deepEqual((await store.list()).map((i) => i.id), [newer]);
    assert.equal((await store.layers.list()).length, 1, "the old image's layer is gone");
  });

  it('references survive reopening the store, and a missing layer dir is unpacked again on resolve', async function () {
    const id = await loadAs('busybox:latest');
    const reopened = await ImageStore.open(store.root);
    const r = await reopened.resolve('busybox');
    assert.equal(r.id, id);
    await fs.rm(r.layerDirs[0], { recursive: true });
    const again = await reopened.resolve('busybox');
    await fs.access(path.join(again.layerDirs[0], 'bin/busybox'));
  });

  it('reopening after a crash mid-import clears temp dirs, ingest files and blobs no image records', async function () {
    await loadAs('busybox:latest');
    const blobs = (await store.blobs.list()).sort();
    const layers = await store.layers.list();
    // What an import killed at various points leaves: a half-extracted layer, a half-written
    // blob, a stored blob whose image was never recorded, and a load's scratch dir.
    await fs.mkdir(path.join(store.layers.dir, '.tmp-crashed/bin'), { recursive: true });
    await fs.writeFile(path.join(store.blobs.ingestDir, 'partial'), 'half');
    const orphan = await store.blobs.putBuffer(Buffer.from('{"orphan":true}'), 'orphan');
    await fs.mkdir(path.join(store.root, 'tmp/in-crashed'), { recursive: true });
    const reopened = await ImageStore.open(store.root);
    assert.ok(!(await reopened.blobs.has(orphan.digest)));
    assert.deepEqual((await reopened.blobs.list()).sort(), blobs);
    assert.deepEqual(await fs.readdir(reopened.layers.dir), layers.map((d) => d.slice('sha256:'.length)));
    assert.deepEqual(await fs.readdir(reopened.blobs.ingestDir), []);
    assert.deepEqual(await fs.readdir(path.join(store.root, 'tmp')), []);
  });

  it('a corrupt state file stops the store with a message naming the file', async function () {
    await loadAs('busybox:latest');
    await fs.writeFile(path.join(store.root, 'images.json'), '{"version":1,');
    await assert.rejects(ImageStore.open(store.root), (e: unknown) => ShoalError.is(e, 'Internal') && e.message.includes(path.join(store.root, 'images.json')));
  });

  it('an unknown reference is refused with NotFound, naming it', async function () {
    await assert.rejects(store.resolve('nothere:1'), (e: unknown) => ShoalError.is(e, 'NotFound') && e.message.includes('nothere:1'));
    await assert.rejects(store.remove('nothere', () => false), (e: unknown) => ShoalError.is(e, 'NotFound'));
  });
});
