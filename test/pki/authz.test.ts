import assert from 'node:assert/strict';
import type { PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { ManualClock, systemClock } from '../../src/types/clock';
import { ShoalError } from '../../src/types/errors';
import { accessFor, Authorizer, clusterPolicy, type AuthContext } from '../../src/pki/authz';
import { caClientConstructor } from '../../src/pki/ca-proto';
import { renewCertificate } from '../../src/pki/ca-client';
import { initClusterPki, issueLocal, type ClusterPki } from '../../src/pki/cluster-init';
import { newId } from '../../src/pki/ids';
import type { IssuedCredentials } from '../../src/pki/ca-client';
import { NodeIdentity } from '../../src/pki/node-identity';
import { nodeCertValidity, RootCA } from '../../src/pki/root-ca';
import { checkPeerNode, managerChannelCredentials, pinnedChannelCredentials } from '../../src/pki/tls-credentials';
import { ping, rejectsWithCode, startManager, testClientOptions, TestRegistry, type TestManager } from './helpers';

const hourMs = 3600_000;

// Credentials that present cert/key and trust the victim cluster's CA, whatever CA issued the cert.
function presenting(issued: IssuedCredentials, trustedCaPem: string, clusterId: string): grpc.ChannelCredentials {
  return grpc.credentials.createSsl(Buffer.from(trustedCaPem), Buffer.from(issued.material.keyPem), Buffer.from(issued.material.certPem), {
    checkServerIdentity: checkPeerNode(clusterId, ['manager']),
  });
}

describe('PKI: mutual TLS and authorization on every call', function () {
  let pki: ClusterPki;
  let manager: TestManager;
  let worker: IssuedCredentials;
  let otherManager: IssuedCredentials;

  const issueMember = async (role: 'manager' | 'worker'): Promise<IssuedCredentials> => {
    const issued = await issueLocal(pki.rootCa, { role }, nodeCertValidity(Date.now()));
    await manager.registry.admit(issued.info.nodeId, role);
    return issued;
  };

  before(async function () {
    pki = await initClusterPki({ clock: systemClock });
    manager = await startManager(pki);
    [worker, otherManager] = await Promise.all([issueMember('worker'), issueMember('manager')]);
  });

  after(async function () {
    await manager?.close();
  });

  beforeEach(function () {
    manager.rejected.length = 0;
  });

  it('a worker certificate calling a Raft method is refused with PERMISSION_DENIED before the handler runs', async function () {
    const handled = manager.handled.raft;
    await rejectsWithCode(ping('raft', manager.address, managerChannelCredentials(new NodeIdentity(worker.material))), grpc.status.PERMISSION_DENIED, /role worker of node \w+ may not call \/shoal\.raft\.Raft\/Ping/);
    assert.equal(manager.handled.raft, handled, 'the Raft handler never saw the call');
  });

  it('a worker certificate calling a control method is refused with PERMISSION_DENIED', async function () {
    await rejectsWithCode(ping('control', manager.address, managerChannelCredentials(new NodeIdentity(worker.material))), grpc.status.PERMISSION_DENIED, /may not call \/shoal\.control\.Control\/Ping/);
  });

  it('a worker certificate reaches the dispatcher, and the handler sees its node id', async function () {
    const reply = await ping('dispatcher', manager.address, managerChannelCredentials(new NodeIdentity(worker.material)));
    assert.equal(reply.nodeId, worker.info.nodeId);
  });

  it('a manager certificate reaches Raft, control and the dispatcher', async function () {
    const creds = managerChannelCredentials(new NodeIdentity(otherManager.material));
    for (const name of ['raft', 'control', 'dispatcher'] as const) {
      assert.equal((await ping(name, manager.address, creds)).nodeId, otherManager.info.nodeId);
    }
  });

  it('a peer without certificate reaches only the open CA calls; everything else is UNAUTHENTICATED', async function () {
    const creds = pinnedChannelCredentials(pki.rootCa.certPem, pki.rootCa.clusterId);
    const handledBefore = { ...manager.handled };
    for (const name of ['raft', 'control', 'dispatcher'] as const) {
      await rejectsWithCode(ping(name, manager.address, creds), grpc.status.UNAUTHENTICATED, /needs a client certificate/);
    }
    const ca = new (caClientConstructor())(manager.address, creds, testClientOptions) as grpc.Client & Record<string, (...a: unknown[]) => void>;
    const callCa = (method: string, req: object): Promise<{ certificatePem?: string }> =>
      new Promise((resolve, reject) => ca[method].call(ca, req, (e: Error | null, r: { certificatePem?: string }) => (e ? reject(e) : resolve(r))));
    try {
      assert.equal((await callCa('GetRootCACertificate', {})).certificatePem, pki.rootCa.certPem);
      await rejectsWithCode(callCa('Renew', { csrPem: 'x' }), grpc.status.UNAUTHENTICATED, /\/shoal\.ca\.CA\/Renew needs a client certificate/);
    } finally {
      ca.close();
    }
    assert.deepEqual(manager.rejected, [], 'cert-less peers pass the TLS layer; the interceptor refuses them');
    assert.deepEqual(manager.handled, handledBefore, 'no refused call reached a handler');
  });

  it("a certificate from another cluster's CA is refused at the handshake", async function () {
    const other = await initClusterPki({ clock: systemClock });
    const outsider = await issueLocal(other.rootCa, { role: 'manager' }, nodeCertValidity(Date.now()));
    await rejectsWithCode(ping('dispatcher', manager.address, presenting(outsider, pki.rootCa.certPem, pki.rootCa.clusterId)), grpc.status.UNAVAILABLE);
    await assertHandshakeRejected(manager, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  it('a forged CA claiming this cluster id, issuing a manager certificate for a real member, is refused at the handshake', async function () {
    const forgedCa = await RootCA.create(pki.rootCa.clusterId, Date.now());
    const forged = await issueLocal(forgedCa, { nodeId: otherManager.info.nodeId, role: 'manager' }, nodeCertValidity(Date.now()));
    await rejectsWithCode(ping('raft', manager.address, presenting(forged, pki.rootCa.certPem, pki.rootCa.clusterId)), grpc.status.UNAVAILABLE);
    await assertHandshakeRejected(manager, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  it('an expired certificate is refused at the handshake', async function () {
    const now = Date.now();
    const expired = await issueLocal(pki.rootCa, { role: 'worker' }, { notBeforeMs: now - 2 * hourMs, notAfterMs: now - hourMs });
    await manager.registry.admit(expired.info.nodeId, 'worker');
    await rejectsWithCode(ping('dispatcher', manager.address, managerChannelCredentials(new NodeIdentity(expired.material))), grpc.status.UNAVAILABLE);
    await assertHandshakeRejected(manager, 'CERT_HAS_EXPIRED');
  });

  it('a removed node is refused with PERMISSION_DENIED while its certificate is still valid, and cannot renew it', async function () {
    const leaving = await issueMember('worker');
    const identity = new NodeIdentity(leaving.material);
    assert.equal((await ping('dispatcher', manager.address, managerChannelCredentials(identity))).nodeId, leaving.info.nodeId);
    manager.registry.remove(leaving.info.nodeId);
    await rejectsWithCode(ping('dispatcher', manager.address, managerChannelCredentials(identity)), grpc.status.PERMISSION_DENIED, /is not a member of the cluster/);
    await assert.rejects(renewCertificate(manager.address, identity), (err: unknown) => ShoalError.is(err, 'PermissionDenied'));
  });

  it('a demoted manager loses Raft and control at once, before its certificate is re-issued', async function () {
    const demoted = await issueMember('manager');
    const creds = managerChannelCredentials(new NodeIdentity(demoted.material));
    assert.equal((await ping('raft', manager.address, creds)).nodeId, demoted.info.nodeId);
    manager.registry.setRole(demoted.info.nodeId, 'worker');
    await rejectsWithCode(ping('raft', manager.address, managerChannelCredentials(new NodeIdentity(demoted.material))), grpc.status.PERMISSION_DENIED, /role worker of node/);
  });

  it('a client refuses a server whose certificate is a worker certificate of the cluster', async function () {
    const server = await startManager({ ...pki, firstManager: worker });
    try {
      await server.registry.admit(otherManager.info.nodeId, 'manager');
      await rejectsWithCode(
        ping('dispatcher', server.address, managerChannelCredentials(new NodeIdentity(otherManager.material))),
        grpc.status.UNAVAILABLE,
        /server certificate role worker is not one of manager/,
      );
    } finally {
      await server.close();
    }
  });
});

describe('PKI: the authorization policy table', function () {
  const clusterId = newId();
  const nodeId = newId();
  const clock = new ManualClock(Date.parse('2030-01-01T00:00:00Z'));
  const auth = (subject: Record<string, string>, validTo = 'Jan  1 00:00:00 2031 GMT'): AuthContext => ({
    transportSecurityType: 'ssl',
    sslPeerCertificate: { subject, valid_to: validTo } as unknown as PeerCertificate,
  });
  const member = (role: 'manager' | 'worker' = 'worker'): Authorizer => {
    const registry = new TestRegistry();
    registry.roles.set(nodeId, role);
    return new Authorizer({ clusterId, membership: registry, clock });
  };
  const refuses = (fn: () => unknown, code: ShoalError['code'], re: RegExp): void => {
    assert.throws(fn, (err: unknown) => ShoalError.is(err, code) && re.test(err.message));
  };

  it('lists the services by their fully-qualified names, with Join and GetRootCACertificate the only open calls', function () {
    assert.deepEqual(accessFor(clusterPolicy, '/shoal.raft.Raft/Step'), ['manager']);
    assert.deepEqual(accessFor(clusterPolicy, '/shoal.control.Control/ListNodes'), ['manager']);
    assert.deepEqual(accessFor(clusterPolicy, '/shoal.dispatcher.Dispatcher/Session'), ['worker', 'manager']);
    assert.deepEqual(accessFor(clusterPolicy, '/shoal.ca.CA/Renew'), ['worker', 'manager']);
    const open = Object.keys(clusterPolicy).filter((k) => clusterPolicy[k] === 'anyone');
    assert.deepEqual(open.sort(), ['/shoal.ca.CA/GetRootCACertificate', '/shoal.ca.CA/Join']);
  });

  it('refuses a method of a service the policy does not list, even to a manager', function () {
    refuses(() => member('manager').authorize('/shoal.secret.Vault/Open', auth({ CN: nodeId, OU: 'shoal-manager', O: clusterId })), 'PermissionDenied', /not in the authorization policy/);
    assert.equal(accessFor(clusterPolicy, '/shoal.raftx.Raft/Step'), undefined);
  });

  it('refuses a certificate whose O is another cluster', function () {
    refuses(() => member().authorize('/shoal.dispatcher.Dispatcher/Session', auth({ CN: nodeId, OU: 'shoal-worker', O: newId() })), 'PermissionDenied', /belongs to cluster/);
  });

  it('refuses a certificate that expired while its connection stayed open', function () {
    refuses(() => member().authorize('/shoal.dispatcher.Dispatcher/Session', auth({ CN: nodeId, OU: 'shoal-worker', O: clusterId }, 'Dec 31 23:59:59 2029 GMT')), 'Unauthenticated', /has expired/);
  });

  it('refuses a subject that is not a node certificate', function () {
    refuses(() => member().authorize('/shoal.ca.CA/Join', auth({ CN: 'admin', OU: 'shoal-manager', O: clusterId })), 'PermissionDenied', /not a node id/);
    refuses(() => member().authorize('/shoal.dispatcher.Dispatcher/Session', auth({ CN: nodeId, OU: 'shoal-admin', O: clusterId })), 'PermissionDenied', /not a shoal role/);
  });

  it('accepts a member with an allowed role and returns who it is', function () {
    const peer = member().authorize('/shoal.dispatcher.Dispatcher/Session', auth({ CN: nodeId, OU: 'shoal-worker', O: clusterId }));
    assert.equal(peer?.nodeId, nodeId);
    assert.equal(peer?.role, 'worker');
  });
});

/**
 * The client may see its failed handshake before the server's tlsClientError event is handled
 * (under load, by a few ms), and grpc-js retries a failed connection in the background, so a
 * late refusal from the previous test can land after beforeEach cleared the list: wait, bounded,
 * for the server to record a refusal naming `reason`.
 */
async function assertHandshakeRejected(manager: TestManager, reason: string): Promise<void> {
  const waitMsMax = 5000;
  const deadline = Date.now() + waitMsMax;
  const seen = (): boolean => manager.rejected.some((r) => r.reason === reason);
  while (!seen() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.ok(seen(), `the server recorded no handshake refused with ${reason} within ${waitMsMax} ms (saw: ${manager.rejected.map((r) => r.reason).join(', ') || 'none'})`);
}
