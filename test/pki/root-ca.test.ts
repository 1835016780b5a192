import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { ShoalError } from '../../src/types/errors';
import { createCsr, verifyCsr } from '../../src/pki/csr';
import { newId } from '../../src/pki/ids';
import { generateKeyPair, type KeyPair } from '../../src/pki/keys';
import { readNodeCertificate } from '../../src/pki/node-certificate';
import { nodeCertValidity, nodeCertValidityMsDefault, RootCA, rootCaValidityMs } from '../../src/pki/root-ca';

describe('PKI: root CA and node certificates', function () {
  let ca: RootCA;
  let keys: KeyPair;
  const now = Date.now();

  before(async function () {
    [ca, keys] = await Promise.all([RootCA.create(newId(), now), generateKeyPair()]);
  });

  it('the root CA is a self-signed RSA 2048 CA certificate valid for 20 years, naming the cluster', function () {
    const x = new X509Certificate(ca.certPem);
    assert.ok(x.ca);
    assert.ok(x.verify(x.publicKey));
    assert.equal(x.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
    assert.match(x.subject, new RegExp(`O=${ca.clusterId}`));
    assert.ok(Math.abs(Date.parse(x.validTo) - (now + rootCaValidityMs)) < 2000);
    assert.equal(RootCA.load(ca.certPem, ca.keyPem).digest().toString('hex'), ca.digest().toString('hex'));
  });

  it('RootCA.load refuses a key that is not the CA key', function () {
    assert.throws(() => RootCA.load(ca.certPem, keys.privateKeyPem), (err: unknown) => ShoalError.is(err, 'InvalidArgument'));
  });

  it('node certificates carry CN/OU/O, serve as TLS server and client, default to 90 days and are backdated a little', function () {
    const nodeId = newId();
    const pem = ca.issue(keys.publicKeyPem, { nodeId, role: 'manager', clusterId: ca.clusterId }, nodeCertValidity(now));
    const info = readNodeCertificate(pem);
    assert.deepEqual([info.nodeId, info.role, info.clusterId], [nodeId, 'manager', ca.clusterId]);
    const x = new X509Certificate(pem);
    assert.ok(x.checkIssued(new X509Certificate(ca.certPem)) && x.verify(new X509Certificate(ca.certPem).publicKey));
    assert.deepEqual([...(x.keyUsage ?? [])].sort(), ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    assert.ok(!x.ca);
    assert.ok(Math.abs(info.notAfterMs - (now + nodeCertValidityMsDefault)) < 2000);
    assert.ok(info.notBeforeMs < now - 60_000 && info.notBeforeMs >= now - 5 * 60_000 - 1000);
  });

  it('validity may be configured down to one hour and no lower', function () {
    const v = nodeCertValidity(now, 3600_000);
    assert.equal(v.notAfterMs - now, 3600_000);
    assert.throws(() => nodeCertValidity(now, 3599_999), (err: unknown) => ShoalError.is(err, 'InvalidArgument'));
  });

  it('the CA issues only for its own cluster', function () {
    assert.throws(() => ca.issue(keys.publicKeyPem, { nodeId: newId(), role: 'worker', clusterId: newId() }, nodeCertValidity(now)), (err: unknown) => ShoalError.is(err, 'InvalidArgument'));
  });

  it('a CSR verifies; a tampered or oversized CSR does not', function () {
    const csr = createCsr(keys);
    assert.equal(verifyCsr(csr).replace(/\s/g, ''), keys.publicKeyPem.replace(/\s/g, ''));
    const body = csr.split('\n');
    // Line 3 of the PEM lies in the signed part (the public key), whatever the key.
    body[3] = body[3].slice(0, 10) + (body[3][10] === 'A' ? 'B' : 'A') + body[3].slice(11);
    assert.throws(() => verifyCsr(body.join('\n')), (err: unknown) => ShoalError.is(err, 'InvalidArgument'));
    assert.throws(() => verifyCsr('x'.repeat(20_000)), (err: unknown) => ShoalError.is(err, 'InvalidArgument') && /bytes of PEM/.test(err.message));
  });
});
