import assert from 'node:assert/strict';
import { ShoalError } from '../../../src/types/errors';
import { normalizeReference, parseReference } from '../../../src/runtime/image/reference';

describe('image references', function () {
  it('a bare name means the latest tag, and Docker Hub spellings name the same image', function () {
    for (const r of ['busybox', 'busybox:latest', 'library/busybox', 'docker.io/library/busybox', 'docker.io/busybox:latest', 'index.docker.io/library/busybox:latest']) {
      assert.equal(normalizeReference(r), 'busybox:latest', r);
    }
  });

  it('keeps user repositories and other registries (with ports) apart from Hub official images', function () {
    assert.equal(normalizeReference('me/app:1.2'), 'me/app:1.2');
    assert.equal(normalizeReference('docker.io/me/app'), 'me/app:latest');
    const r = parseReference('127.0.0.1:5000/team/app:v1');
    assert.deepEqual([r.registry, r.repository, r.tag, r.name], ['127.0.0.1:5000', 'team/app', 'v1', '127.0.0.1:5000/team/app:v1']);
    assert.equal(parseReference('localhost/app').registry, 'localhost');
    assert.equal(parseReference('busybox').repository, 'library/busybox');
  });

  it('parses a digest reference', function () {
    const d = `sha256:${'a'.repeat(64)}`;
    const r = parseReference(`busybox@${d}`);
    assert.equal(r.digest, d);
    assert.equal(r.repository, 'library/busybox');
  });

  it('refuses malformed references with InvalidArgument naming the input', function () {
    for (const bad of ['', 'UPPER', 'a:b:c', 'busybox:', 'busybox@sha256:xyz', 'a//b', '-lead', 'x:' + 't'.repeat(129)]) {
      assert.throws(() => parseReference(bad), (e: unknown) => ShoalError.is(e, 'InvalidArgument') && e.message.includes(JSON.stringify(bad)), bad);
    }
  });
});
