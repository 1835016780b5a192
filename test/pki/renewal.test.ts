import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as tls from 'node:tls';
import type * as grpc from '@grpc/grpc-js';
import { ManualClock, systemClock } from '../../src/types/clock';
import { SeededRandom } from '../../src/types/random';
import { joinCluster, renewCertificate, type IssuedCredentials } from '../../src/pki/ca-client';
import { CertRenewer, renewalDelayMs } from '../../src/pki/cert-renewer';
import { CertStore } from '../../src/pki/cert-store';
import { initClusterPki, issueLocal, type ClusterPki } from '../../src/pki/cluster-init';
import { NodeIdentity } from '../../src/pki/node-identity';
import { nodeCertValidity } from '../../src/pki/root-ca';
import { managerChannelCredentials } from '../../src/pki/tls-credentials';
import { ping, rejectsWithCode, startManager, stubs, tempDir, testClientOptions, type PingReply, type TestManager } from './helpers';
import { status } from '@grpc/grpc-js';

const hourMs = 3600_000;

// Resolves with the next message of a server stream, or rejects if the stream fails or ends first.
function nextMessage(stream: grpc.ClientReadableStream<PingReply>): Promise<PingReply> {
  return new Promise((resolve, reject) => {
    const onData = (m: PingReply): void => {
      cleanup();
      resolve(m);
    };
    const onEnd = (err?: Error): void => {
      cleanup();
      reject(err ?? new Error('session ended'));
    };
    const cleanup = (): void => {
      stream.off('data', onData);
      stream.off('error', onEnd);
      stream.off('end', onEnd);
    };
    stream.on('data', onData);
    stream.on('error', onEnd);
    stream.on('end', onEnd);
  });
}

describe('PKI: certificate renewal', function () {
  let pki: ClusterPki;
  let manager: TestManager;
  let dir: string;
  let joined: IssuedCredentials;
  let identity: NodeIdentity;
  let store: CertStore;
  let clock: ManualClock;
  let renewer: CertRenewer | undefined;
  let sessionClient: grpc.Client | undefined;
  let sessionStream: grpc.ClientReadableStream<PingReply> | undefined;
  let attempts = 0;
  const renewed: string[] = [];

  before(async function () {
    pki = await initClusterPki({ clock: systemClock, certValidityMs: hourMs });
    manager = await startManager(pki, { certValidityMs: hourMs });
    dir = await tempDir();
    joined = await joinCluster({ address: manager.address, token: pki.tokens.current('worker') });
    identity = new NodeIdentity(joined.material);
    store = new CertStore(`${dir}/certificates`);
    await store.saveNode(joined.material);
    // The test clock starts at the real time: the TLS stack checks certificates against real time.
    clock = new ManualClock(Date.now());
    renewer = new CertRenewer({
      identity,
      renew: (id) => {
        attempts++;
        return renewCertificate(manager.address, id);
      },
      store,
      clock,
      random: new SeededRandom(7),
      onRenewed: (info) => renewed.push(info.serialNumber),
    });
  });

  after(async function () {
    renewer?.stop();
    sessionStream?.cancel();
    sessionClient?.close();
    await manager?.close();
    if (dir !== undefined) await fs.rm(dir, { recursive: true, force: true });
  });

  it('a node with a 1-hour certificate renews between 50% and 80% of its life, before expiry, without losing its session', async function () {
    const old = identity.info;
    assert.ok(old.notAfterMs - old.notBeforeMs <= hourMs + 10 * 60_000, 'issued with the 1-hour validity');
    const life = old.notAfterMs - old.notBeforeMs;

    // A long-lived worker session, opened with the old certificate.
    sessionClient = new (stubs().dispatcher)(manager.address, managerChannelCredentials(identity), testClientOptions);
    const session = (sessionClient as unknown as { Session: (r: object) => grpc.ClientReadableStream<PingReply> }).Session({ text: 'hello' });
    sessionStream = session;
    session.on('error', () => undefined); // cancelled in after(); failures show up in nextMessage
    assert.equal((await nextMessage(session)).text, 'session open');
    assert.equal(manager.sessions.size, 1);

    renewer!.start();
    clock.advance(old.notBeforeMs + 0.5 * life - clock.now() - 1000);
    assert.equal(attempts, 0, 'no renewal before 50% of the life');
    const done = new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        if (renewed.length > 0) {
          clearInterval(timer);
          resolve();
        }
      }, 10);
    });
    clock.advance(old.notBeforeMs + 0.8 * life - clock.now() + 1000);
    assert.equal(attempts, 1, 'renewal started by 80% of the life');
    await done;
    assert.ok(clock.now() < old.notAfterMs, 'renewed before expiry');

    const fresh = identity.info;
    assert.notEqual(fresh.serialNumber, old.serialNumber);
    assert.equal(fresh.nodeId, old.nodeId);
    assert.equal(fresh.role, 'worker');
    assert.ok(fresh.notAfterMs >= old.notAfterMs, 'a fresh 1-hour validity from the real time of renewal');
    assert.notEqual(identity.material.keyPem, joined.material.keyPem, 'renewal rotates the key too');
    const saved = await store.loadNode();
    assert.equal(saved?.certPem, identity.material.certPem, 'the new certificate is on disk');
    assert.equal((await fs.stat(store.path('node.key'))).mode & 0o777, 0o600);

    // The session opened before renewal is still there and still delivers.
    assert.equal(manager.sessions.size, 1);
    for (const s of manager.sessions) s.write({ nodeId: '', serial: '', text: 'after renewal' });
    assert.equal((await nextMessage(session)).text, 'after renewal');

    // New connections present the new certificate.
    const reply = await ping('dispatcher', manager.address, managerChannelCredentials(identity));
    assert.equal(reply.serial.toUpperCase(), fresh.serialNumber.toUpperCase());
  });

  it('promotion re-issues the certificate as a manager; demotion re-issues it as a worker', async function () {
    const nodeId = identity.info.nodeId;
    manager.registry.setRole(nodeId, 'manager');
    // Until re-issued, the worker certificate still cannot reach Raft.
    await rejectsWithCode(ping('raft', manager.address, managerChannelCredentials(identity)), status.PERMISSION_DENIED);
    await renewer!.renewNow();
    assert.equal(identity.info.role, 'manager');
    assert.equal((await ping('raft', manager.address, managerChannelCredentials(identity))).nodeId, nodeId);

    manager.registry.setRole(nodeId, 'worker');
    await renewer!.renewNow();
    assert.equal(identity.info.role, 'worker');
    await rejectsWithCode(ping('raft', manager.address, managerChannelCredentials(identity)), status.PERMISSION_DENIED);
  });

  it("a manager's server presents its renewed certificate to new connections", async function () {
    const next = await issueLocal(pki.rootCa, { nodeId: manager.identity.info.nodeId, role: 'manager' }, nodeCertValidity(Date.now(), hourMs));
    manager.identity.update(next.material);
    const serial = await new Promise<string>((resolve, reject) => {
      const sock = tls.connect({ host: '127.0.0.1', port: manager.server.port, ca: pki.rootCa.certPem, ALPNProtocols: ['h2'], checkServerIdentity: () => undefined }, () => {
        resolve(sock.getPeerCertificate().serialNumber);
        sock.destroy();
      });
      sock.on('error', reject);
    });
    assert.equal(serial.toUpperCase(), next.info.serialNumber.toUpperCase());
  });
});

describe('PKI: renewal timing and retries', function () {
  let pki: ClusterPki;
  let first: IssuedCredentials;

  before(async function () {
    pki = await initClusterPki({ clock: systemClock });
    first = await issueLocal(pki.rootCa, { role: 'worker' }, nodeCertValidity(Date.now(), hourMs));
  });

  it('renewalDelayMs picks a point between 50% and 80% of the life, spread over the window', function () {
    const cert = { notBeforeMs: 1_000_000, notAfterMs: 1_000_000 + 100_000 };
    const random = new SeededRandom(1);
    const fractions = Array.from({ length: 1000 }, () => (renewalDelayMs(cert, cert.notBeforeMs, random) / 100_000));
    assert.ok(fractions.every((f) => f >= 0.5 && f <= 0.8));
    assert.ok(Math.min(...fractions) < 0.52 && Math.max(...fractions) > 0.78, 'the whole window is used');
    assert.equal(renewalDelayMs(cert, cert.notAfterMs, random), 0, 'overdue renews at once');
  });

  it('a failed renewal is reported and retried with backoff, and the next success installs the certificate', async function () {
    const identity = new NodeIdentity(first.material);
    const clock = new ManualClock(Date.now());
    const errors: unknown[] = [];
    let calls = 0;
    const next = await issueLocal(pki.rootCa, { nodeId: first.info.nodeId, role: 'worker' }, nodeCertValidity(Date.now(), hourMs));
    const succeeded = new Promise<void>((resolve) => {
      const renewer = new CertRenewer({
        identity,
        clock,
        random: new SeededRandom(3),
        retryDelayMsMin: 1000,
        renew: () => (++calls === 1 ? Promise.reject(new Error('manager unreachable')) : Promise.resolve(next)),
        onError: (e) => errors.push(e),
        onRenewed: () => {
          renewer.stop();
          resolve();
        },
      });
      renewer.start();
      renewer.renewNow().catch(() => undefined);
    });
    await new Promise((r) => setImmediate(r));
    assert.equal(errors.length, 1);
    clock.advance(999);
    assert.equal(calls, 1, 'not retried before retryDelayMsMin');
    clock.advance(60_000);
    await succeeded;
    assert.equal(calls, 2);
    assert.equal(identity.info.serialNumber, next.info.serialNumber);
  });
});
