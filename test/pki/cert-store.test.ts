import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { systemClock } from '../../src/types/clock';
import { ShoalError } from '../../src/types/errors';
import { CertStore } from '../../src/pki/cert-store';
import { initClusterPki, issueLocal, type ClusterPki } from '../../src/pki/cluster-init';
import { nodeCertValidity } from '../../src/pki/root-ca';
import { tempDir } from './helpers';

const modeOf = async (p: string): Promise<number> => (await fs.stat(p)).mode & 0o777;

describe('PKI: certificates on disk', function () {
  let pki: ClusterPki;
  let dir: string;

  before(async function () {
    pki = await initClusterPki({ clock: systemClock });
  });

  beforeEach(async function () {
    dir = await tempDir();
  });

  afterEach(async function () {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('keeps private keys at 0600 and the directory at 0700, whatever the umask', async function () {
    const old = process.umask(0o000);
    try {
      const store = new CertStore(`${dir}/certificates`);
      await store.saveNode(pki.firstManager.material);
      await store.saveRootCa({ certPem: pki.rootCa.certPem, keyPem: pki.rootCa.keyPem });
      assert.equal(await modeOf(store.dir), 0o700);
      assert.equal(await modeOf(store.path('node.key')), 0o600);
      assert.equal(await modeOf(store.path('ca.key')), 0o600, 'the CA key is never world-readable');
      assert.equal(await modeOf(store.path('node.crt')), 0o644);
    } finally {
      process.umask(old);
    }
  });

  it('loads what it saved, and nothing from an empty directory', async function () {
    const store = new CertStore(dir);
    assert.equal(await store.loadNode(), undefined);
    assert.equal(await store.loadRootCa(), undefined);
    await store.saveNode(pki.firstManager.material);
    await store.saveRootCa({ certPem: pki.rootCa.certPem, keyPem: pki.rootCa.keyPem });
    assert.deepEqual(await store.loadNode(), pki.firstManager.material);
    assert.deepEqual(await store.loadRootCa(), { certPem: pki.rootCa.certPem, keyPem: pki.rootCa.keyPem });
    await store.removeRootCaKey();
    assert.equal(await store.loadRootCa(), undefined);
  });

  it('refuses a private key that others can read, naming the file and the fix', async function () {
    const store = new CertStore(dir);
    await store.saveNode(pki.firstManager.material);
    await fs.chmod(store.path('node.key'), 0o644);
    await assert.rejects(store.loadNode(), (err: unknown) => ShoalError.is(err, 'FailedPrecondition') && err.message.includes(store.path('node.key')) && /chmod 600/.test(err.hint ?? ''));
  });

  it('refuses a certificate that does not match the key beside it', async function () {
    const store = new CertStore(dir);
    await store.saveNode(pki.firstManager.material);
    const other = await issueLocal(pki.rootCa, { role: 'worker' }, nodeCertValidity(Date.now()));
    await fs.writeFile(store.path('node.crt'), other.material.certPem);
    await assert.rejects(store.loadNode(), (err: unknown) => ShoalError.is(err, 'FailedPrecondition') && /does not match its private key/.test(err.message));
  });
});
