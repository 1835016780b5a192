import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { systemClock } from '../../src/types/clock';
import { ShoalError } from '../../src/types/errors';
import { caServiceDefinition, type JoinResponse } from '../../src/pki/ca-proto';
import { fetchPinnedRootCa, joinCluster } from '../../src/pki/ca-client';
import { CertStore } from '../../src/pki/cert-store';
import { initClusterPki, type ClusterPki } from '../../src/pki/cluster-init';
import { createCsr } from '../../src/pki/csr';
import { newJoinToken } from '../../src/pki/join-token';
import { generateKeyPair } from '../../src/pki/keys';
import { MtlsServer } from '../../src/pki/mtls-server';
import { NodeIdentity } from '../../src/pki/node-identity';
import { readNodeCertificate } from '../../src/pki/node-certificate';
import { managerChannelCredentials } from '../../src/pki/tls-credentials';
import { ping, rejectsWithCode, startManager, stubs, tempDir, testClientOptions, TestRegistry, type TestManager } from './helpers';

async function rejectsWithShoal(p: Promise<unknown>, code: ShoalError['code'], re: RegExp): Promise<ShoalError> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  assert.ok(ShoalError.is(caught, code), `expected ShoalError[${code}], got ${String(caught)}`);
  assert.match(caught.message, re);
  return caught;
}

describe('PKI: joining a cluster', function () {
  let pki: ClusterPki;
  let manager: TestManager;
  let dir: string;

  before(async function () {
    pki = await initClusterPki({ clock: systemClock });
    manager = await startManager(pki);
    dir = await tempDir();
  });

  after(async function () {
    await manager?.close();
    if (dir !== undefined) await fs.rm(dir, { recursive: true, force: true });
  });

  it('a worker token yields a worker certificate CN=<new node id>, OU=shoal-worker, O=<cluster id>, stored with its key at 0600', async function () {
    const joined = await joinCluster({ address: manager.address, token: pki.tokens.current('worker') });
    const cert = readNodeCertificate(joined.material.certPem);
    assert.equal(cert.role, 'worker');
    assert.equal(cert.clusterId, pki.rootCa.clusterId);
    assert.match(cert.nodeId, /^[0-9a-z]{25}$/);
    assert.equal(manager.registry.roleOf(cert.nodeId), 'worker', 'the CA records the new member');

    const store = new CertStore(`${dir}/worker-certs`);
    await store.saveNode(joined.material);
    assert.equal((await fs.stat(store.path('node.key'))).mode & 0o777, 0o600);
    assert.equal((await fs.stat(store.dir)).mode & 0o777, 0o700);
    assert.deepEqual(await store.loadNode(), joined.material);

    // The new certificate works for mTLS right away.
    const reply = await ping('dispatcher', manager.address, managerChannelCredentials(new NodeIdentity(joined.material)));
    assert.equal(reply.nodeId, cert.nodeId);
  });

  it('a manager token yields a manager certificate', async function () {
    const joined = await joinCluster({ address: manager.address, token: pki.tokens.current('manager'), requestedRole: 'manager' });
    assert.equal(joined.info.role, 'manager');
    assert.equal(manager.registry.roleOf(joined.info.nodeId), 'manager');
  });

  it('the CA ignores the subject of the CSR: a CSR claiming another node id and the manager role gets neither', async function () {
    const victim = pki.firstManager.info.nodeId;
    const keys = await generateKeyPair();
    const forge = await import('node-forge');
    const csr = forge.pki.createCertificationRequest();
    csr.publicKey = forge.pki.publicKeyFromPem(keys.publicKeyPem);
    csr.setSubject([{ name: 'commonName', value: victim }, { name: 'organizationalUnitName', value: 'shoal-manager' }, { name: 'organizationName', value: pki.rootCa.clusterId }]);
    csr.sign(forge.pki.privateKeyFromPem(keys.privateKeyPem), forge.md.sha256.create());
    const client = new (grpc.makeGenericClientConstructor(caServiceDefinition(), 'CA'))(manager.address, grpc.credentials.createSsl(Buffer.from(pki.rootCa.certPem), null, null, { checkServerIdentity: () => undefined }), testClientOptions);
    const res = await new Promise<JoinResponse>((resolve, reject) =>
      (client as unknown as { Join: (r: object, cb: (e: Error | null, r: JoinResponse) => void) => void }).Join(
        { token: pki.tokens.current('worker'), csrPem: forge.pki.certificationRequestToPem(csr), requestedRole: '' },
        (e, r) => (e ? reject(e) : resolve(r)),
      ),
    );
    client.close();
    const cert = readNodeCertificate(res.certificatePem);
    assert.notEqual(cert.nodeId, victim);
    assert.equal(cert.role, 'worker');
  });

  it('a wrong token is refused with UNAUTHENTICATED and no node is admitted', async function () {
    const members = manager.registry.roles.size;
    const wrong = newJoinToken(pki.rootCa.certPem); // right CA digest, unknown secret
    await rejectsWithShoal(joinCluster({ address: manager.address, token: wrong }), 'Unauthenticated', /join token is not valid/);
    assert.equal(manager.registry.roles.size, members);
  });

  it('a malformed token is refused before any connection', async function () {
    await rejectsWithShoal(joinCluster({ address: manager.address, token: 'SWMTKN-1-nope' }), 'InvalidArgument', /join token is malformed/);
  });

  it('a worker token cannot obtain a manager certificate', async function () {
    await rejectsWithShoal(
      joinCluster({ address: manager.address, token: pki.tokens.current('worker'), requestedRole: 'manager' }),
      'PermissionDenied',
      /a worker join token cannot obtain a manager certificate/,
    );
  });

  it('rotating a token refuses the old one for new joins and leaves joined nodes alone', async function () {
    const old = pki.tokens.current('worker');
    const before = await joinCluster({ address: manager.address, token: old });
    const fresh = pki.tokens.rotate('worker');
    assert.notEqual(fresh, old);
    await rejectsWithShoal(joinCluster({ address: manager.address, token: old }), 'Unauthenticated', /wrong or rotated/);
    const after = await joinCluster({ address: manager.address, token: fresh });
    assert.equal(after.info.role, 'worker');
    // The node that joined with the old token still works.
    const reply = await ping('dispatcher', manager.address, managerChannelCredentials(new NodeIdentity(before.material)));
    assert.equal(reply.nodeId, before.info.nodeId);
  });

  describe('a man in the middle', function () {
    let otherPki: ClusterPki;
    let impostor: TestManager;
    let liar: MtlsServer;
    let liarJoins = 0;

    before(async function () {
      // A server of another cluster (its own CA) answering at the address the node dials.
      otherPki = await initClusterPki({ clock: systemClock });
      impostor = await startManager(otherPki);
      // A server that answers GetRootCACertificate with the real (public) CA certificate but can
      // only present a certificate of its own CA in the TLS handshake.
      liar = new MtlsServer({ identity: new NodeIdentity(otherPki.firstManager.material), host: '127.0.0.1', port: 0, clusterId: otherPki.rootCa.clusterId, membership: new TestRegistry(), clock: systemClock });
      liar.grpc.addService(caServiceDefinition(), {
        GetRootCACertificate: (_c: unknown, cb: grpc.sendUnaryData<object>) => cb(null, { certificatePem: pki.rootCa.certPem }),
        Join: (_c: unknown, cb: grpc.sendUnaryData<object>) => {
          liarJoins++;
          cb({ code: grpc.status.INTERNAL, details: 'stolen' });
        },
      });
      await liar.listen();
    });

    after(async function () {
      await impostor?.close();
      await liar?.close();
    });

    it('whose CA digest does not match the token: the node refuses before sending its CSR', async function () {
      const admitted = impostor.registry.roles.size;
      await rejectsWithShoal(joinCluster({ address: impostor.address, token: pki.tokens.current('worker') }), 'Unauthenticated', /join token pins .*refusing to join/);
      // The impostor CA accepts any token for its own cluster? It never saw one: no Join reached it.
      assert.equal(impostor.registry.roles.size, admitted);
      await assert.rejects(fetchPinnedRootCa(impostor.address, pki.tokens.current('worker')), /man in the middle/);
    });

    it('that relays the real CA certificate but cannot prove it holds a certificate from it: the TLS handshake of the join call fails', async function () {
      const err = await rejectsWithShoal(joinCluster({ address: `127.0.0.1:${liar.port}`, token: pki.tokens.current('worker') }), 'Unavailable', /CA Join/);
      assert.equal(liarJoins, 0, 'the CSR and the token never reached the impostor');
      // The impostor's chain ends in its own root, which the pinned trust store does not hold.
      assert.match(err.message, /self-signed certificate in certificate chain/);
    });
  });

  it('nothing listens in plaintext: an h2c client gets no HTTP/2 answer and a plaintext gRPC call fails', async function () {
    const insecure = new (stubs().dispatcher)(manager.address, grpc.credentials.createInsecure(), testClientOptions);
    await rejectsWithCode(
      new Promise((resolve, reject) =>
        (insecure as unknown as { Ping: (r: object, o: object, cb: (e: Error | null, r: unknown) => void) => void }).Ping({}, { deadline: Date.now() + 3000 }, (e, r) => (e ? reject(e) : resolve(r))),
      ),
      grpc.status.UNAVAILABLE,
    );
    insecure.close();

    // Raw bytes: the HTTP/2 client preface and an empty SETTINGS frame. A plaintext HTTP/2 server
    // would answer with its own SETTINGS frame (type 0x04 at byte 3); a TLS server answers with a
    // TLS alert record (content type 0x15) or nothing, and closes.
    const answer = await new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      const sock = net.connect(manager.server.port, '127.0.0.1', () => {
        sock.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]));
      });
      sock.on('data', (d: Buffer) => chunks.push(d));
      sock.on('close', () => resolve(Buffer.concat(chunks)));
      sock.on('error', reject);
      sock.setTimeout(3000, () => {
        sock.destroy();
        reject(new Error('server kept a plaintext connection open'));
      });
    });
    assert.ok(answer.length === 0 || answer[0] === 0x15, `expected no answer or a TLS alert, got ${answer.subarray(0, 16).toString('hex')}`);
    assert.ok(!(answer.length >= 4 && answer[3] === 0x04), 'server answered with an HTTP/2 SETTINGS frame');
  });

  it('the CSR the client sends holds only the public key', async function () {
    const keys = await generateKeyPair();
    const csr = createCsr(keys);
    assert.doesNotMatch(csr, /PRIVATE KEY/);
    assert.ok(!csr.includes(keys.privateKeyPem.split('\n')[1]));
  });
});
