import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { busyboxRootfsTar, busyboxRunConfig } from '../runtime/fixtures/busybox-image';
import { pushToRegistry, startRegistry, type TestRegistry } from '../runtime/fixtures/registry';
import { requireRoot } from '../runtime/helpers';
import { CliEnv } from './cli-harness';

const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('shoal CLI: pull from a loopback registry (docker-registry)', function () {
  this.timeout(60_000);
  let env: CliEnv;
  let reg: TestRegistry | undefined;
  let configDigest: string;

  before(async () => {
    requireRoot();
    env = new CliEnv(1);
    reg = await startRegistry('none');
    const tar = await busyboxRootfsTar();
    const layer = gzipSync(tar);
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { ...busyboxRunConfig, Cmd: ['echo', 'pulled-default'] }, rootfs: { type: 'layers', diff_ids: [sha(tar)] } }));
    const manifest = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(layer), size: layer.length }],
    }));
    configDigest = sha(config);
    await pushToRegistry(reg, 'team/clibox', [layer, config], [{ body: manifest, mediaType: 'application/vnd.oci.image.manifest.v1+json', ref: 'v1' }]);
  });

  after(async () => {
    await env?.cleanup();
    await reg?.stop();
  });

  it('pulls an image that images then lists and run starts with its own Cmd', async () => {
    const ref = `${reg!.host}/team/clibox:v1`;
    const r = await env.run('pull', ref);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `Image ID: ${configDigest}\nStatus: Downloaded image for ${ref}\n${ref}\n`);
    assert.match((await env.run('images')).stdout, new RegExp(`\\n${reg!.host.replace(/\./g, '\\.')}/team/clibox\\s+v1\\s+${configDigest.slice(7, 19)}\\s`));
    const run = await env.run('run', '--rm', '--network', 'none', ref);
    assert.equal(run.stdout, 'pulled-default\n', run.stderr);
  });

  it('names the reference when the registry has no such image, exit 1', async () => {
    const r = await env.run('pull', `${reg!.host}/team/nothing:v1`);
    assert.equal(r.code, 1);
    assert.match(r.stderr.split('\n')[0], /team\/nothing/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });
});
