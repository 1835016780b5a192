import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { ShoalError } from '../../../src/types/errors';
import { DigestMismatchError } from '../../../src/runtime/image/errors';
import type { ImageStore } from '../../../src/runtime/image/image-store';
import { busyboxRootfsTar, busyboxRunConfig } from '../fixtures/busybox-image';
import { pushToRegistry, registryUser, startRegistry, type TestRegistry } from '../fixtures/registry';
import { makeTar } from '../fixtures/tar-writer';
import { assertStoreEmpty, openStore, requireRoot, tempDir } from './helpers';

const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const ociManifest = 'application/vnd.oci.image.manifest.v1+json';
const ociIndex = 'application/vnd.oci.image.index.v1+json';

interface Platform { arch: string; layer: Buffer; tar: Buffer; config: Buffer; manifest: Buffer }

function platformImage(arch: string, tar: Buffer, cmd: string[]): Platform {
  const layer = gzipSync(tar);
  const config = Buffer.from(JSON.stringify({ architecture: arch, os: 'linux', config: { ...busyboxRunConfig, Cmd: cmd }, rootfs: { type: 'layers', diff_ids: [sha(tar)] } }));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: ociManifest,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(layer), size: layer.length }],
  }));
  return { arch, layer, tar, config, manifest };
}

/** Pushes a two-platform busybox (amd64 real, arm64 a decoy) under team/busybox:latest. */
async function pushMultiArch(reg: TestRegistry): Promise<{ amd64: Platform; arm64: Platform }> {
  const amd64 = platformImage('amd64', await busyboxRootfsTar(), ['sh']);
  const arm64 = platformImage('arm64', makeTar([{ path: 'wrong-platform', content: 'arm64' }]), ['arm64']);
  const index = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: ociIndex,
    manifests: [arm64, amd64].map((p) => ({ mediaType: ociManifest, digest: sha(p.manifest), size: p.manifest.length, platform: { os: 'linux', architecture: p.arch } })),
  }));
  await pushToRegistry(reg, 'team/busybox', [amd64.layer, amd64.config, arm64.layer, arm64.config], [
    { body: amd64.manifest, mediaType: ociManifest, ref: sha(amd64.manifest) },
    { body: arm64.manifest, mediaType: ociManifest, ref: sha(arm64.manifest) },
    { body: index, mediaType: ociIndex, ref: 'latest' },
  ]);
  return { amd64, arm64 };
}

describe('image pull from a loopback OCI registry (docker-registry)', function () {
  this.timeout(120_000);
  let dir: string;
  let store: ImageStore;

  before(requireRoot);

  beforeEach(async function () {
    dir = await tempDir();
    store = await openStore(dir);
  });

  afterEach(async function () {
    await fs.rm(dir, { recursive: true, force: true });
  });

  describe('anonymous', function () {
    let reg: TestRegistry;
    let images: { amd64: Platform; arm64: Platform };

    before(async function () {
      reg = await startRegistry('none');
      images = await pushMultiArch(reg);
    });

    after(async function () {
      await reg?.stop();
    });

    it('pulls linux/amd64 out of a manifest list, verified and runnable', async function () {
      const img = await store.pull(`${reg.host}/team/busybox`);
      assert.deepEqual(img.references, [`${reg.host}/team/busybox:latest`]);
      assert.equal(img.id, sha(images.amd64.config), 'the amd64 config, not the arm64 one');
      assert.equal(img.manifest, sha(images.amd64.manifest));
      const r = await store.resolve(`${reg.host}/team/busybox:latest`);
      assert.deepEqual(r.config.Cmd, ['sh']);
      assert.equal(execFileSync('chroot', [r.layerDirs[0], '/bin/echo', 'pulled'], { encoding: 'utf8' }), 'pulled\n');
      assert.ok(!(await store.blobs.has(sha(images.arm64.layer) as `sha256:${string}`)), 'the other platform was not fetched');
    });

    it('pulls by digest, keeping the image untagged', async function () {
      const img = await store.pull(`${reg.host}/team/busybox@${sha(images.amd64.manifest)}`);
      assert.deepEqual(img.references, []);
      assert.equal((await store.resolve(img.id)).id, img.id);
    });

    it('refuses a blob the registry serves altered, keeping nothing', async function () {
      const hex = sha(images.amd64.layer).slice('sha256:'.length);
      const file = path.join(reg.dataDir, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
      const original = await fs.readFile(file);
      const altered = Buffer.from(original);
      altered[altered.length - 10] ^= 0xff;
      await fs.writeFile(file, altered);
      try {
        await assert.rejects(store.pull(`${reg.host}/team/busybox`), (e: unknown) => e instanceof DigestMismatchError && e.expected === sha(images.amd64.layer));
        await assertStoreEmpty(store);
      } finally {
        await fs.writeFile(file, original);
      }
    });

    it('an unknown repository is NotFound', async function () {
      await assert.rejects(store.pull(`${reg.host}/team/nothing:1`), (e: unknown) => ShoalError.is(e, 'NotFound'));
      await assertStoreEmpty(store);
    });
  });

  describe('Basic auth (htpasswd)', function () {
    let reg: TestRegistry;

    before(async function () {
      reg = await startRegistry('basic');
      await pushMultiArch(reg);
    });

    after(async function () {
      await reg?.stop();
    });

    it('is refused without a login, and pulls with one', async function () {
      await assert.rejects(store.pull(`${reg.host}/team/busybox`), (e: unknown) => ShoalError.is(e, 'Unauthenticated') && /needs a login/.test(e.message));
      await assertStoreEmpty(store);
      const img = await store.pull(`${reg.host}/team/busybox`, { credentials: registryUser });
      assert.equal((await store.resolve(img.id)).layerDirs.length, 1);
    });
  });

  describe('bearer tokens from a token server', function () {
    let reg: TestRegistry;

    before(async function () {
      reg = await startRegistry('token');
      await pushMultiArch(reg);
    });

    after(async function () {
      await reg?.stop();
    });

    it('trades the login for a pull-scoped token and pulls', async function () {
      reg.tokenRequests.length = 0;
      const img = await store.pull(`${reg.host}/team/busybox:latest`, { credentials: registryUser });
      assert.deepEqual(img.references, [`${reg.host}/team/busybox:latest`]);
      assert.deepEqual(reg.tokenRequests, [{ scope: 'repository:team/busybox:pull', authorized: true }]);
    });

    it('a wrong password is refused as Unauthenticated, keeping nothing', async function () {
      await assert.rejects(store.pull(`${reg.host}/team/busybox`, { credentials: { ...registryUser, password: 'wrong' } }), (e: unknown) => ShoalError.is(e, 'Unauthenticated'));
      await assertStoreEmpty(store);
    });
  });
});
