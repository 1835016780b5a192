import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { systemClock } from '../../src/types/clock';
import { ShoalError } from '../../src/types/errors';
import { shoalErrorOf } from '../../src/types/grpc-status';
import { initClusterPki, issueLocal, type ClusterPki } from '../../src/pki/cluster-init';
import { MtlsServer } from '../../src/pki/mtls-server';
import { NodeIdentity } from '../../src/pki/node-identity';
import { nodeCertValidity } from '../../src/pki/root-ca';
import { managerChannelCredentials, clusterChannelOptions } from '../../src/pki/tls-credentials';
import { newJoinToken } from '../../src/pki/join-token';
import type { NodeRole } from '../../src/pki/node-role';
import { ControlApi } from '../../src/manager/controlapi/control-api';
import { addControlService, callControl } from '../../src/manager/controlapi/control-server';
import { ControlClientCtor, type ControlMethod } from '../../src/manager/controlapi/control-proto';
import type { Node, Service } from '../../src/types/objects';
import { Harness } from './sim/harness';
import { makeNode } from './sim/fixtures';

/** Runs the simulated cluster's clock while real gRPC calls are in flight. */
async function pumped<T>(h: Harness, p: Promise<T>): Promise<T> {
  const timer = setInterval(() => h.clock.advance(10), 1);
  try {
    return await p;
  } finally {
    clearInterval(timer);
  }
}

describe('control API over mutual TLS', function () {
  this.timeout(60_000);
  let h: Harness;
  let pki: ClusterPki;
  const servers: MtlsServer[] = [];
  const clients: grpc.Client[] = [];
  let viaFollower: grpc.Client;
  let asWorker: grpc.Client;
  const roles = new Map<string, NodeRole>();

  async function identity(role: NodeRole): Promise<NodeIdentity> {
    const issued = await issueLocal(pki.rootCa, { role }, nodeCertValidity(Date.now()));
    roles.set(issued.info.nodeId, role);
    return new NodeIdentity(issued.material);
  }

  async function serve(i: number, id: NodeIdentity, leaderAddr: () => string | undefined): Promise<string> {
    const server = new MtlsServer({ identity: id, host: '127.0.0.1', port: 0, clusterId: pki.rootCa.clusterId, membership: { roleOf: (n) => roles.get(n) }, clock: systemClock });
    let leaderClient: grpc.Client | undefined;
    addControlService(server.grpc, {
      api: new ControlApi(h.stores[i], h.clock, h.random, () => newJoinToken(pki.rootCa.certPem)),
      isLeader: () => h.sim.leaderIndex() === i,
      leaderClient: () => {
        const addr = leaderAddr();
        if (addr === undefined) return undefined;
        if (leaderClient === undefined) {
          leaderClient = new ControlClientCtor(addr, managerChannelCredentials(id), clusterChannelOptions);
          clients.push(leaderClient);
        }
        return leaderClient;
      },
    });
    servers.push(server);
    return `127.0.0.1:${await server.listen()}`;
  }

  const call = (c: grpc.Client, m: ControlMethod, req: Record<string, unknown>): Promise<unknown> =>
    pumped(h, callControl(c, m, req).catch((err: unknown) => { throw shoalErrorOf(err as grpc.ServiceError, m); }));
  const parse = <T>(reply: unknown): T => JSON.parse((reply as { json: string }).json) as T;

  before(async () => {
    h = await Harness.create(41);
    pki = await initClusterPki({ clock: systemClock });
    const leader = h.sim.leaderIndex();
    const follower = (leader + 1) % 3;
    const leaderAddr = await serve(leader, await identity('manager'), () => undefined);
    const followerAddr = await serve(follower, await identity('manager'), () => leaderAddr);
    viaFollower = new ControlClientCtor(followerAddr, managerChannelCredentials(await identity('manager')), clusterChannelOptions);
    asWorker = new ControlClientCtor(followerAddr, managerChannelCredentials(await identity('worker')), clusterChannelOptions);
    clients.push(viaFollower, asWorker);
  });

  after(async () => {
    for (const c of clients) c.close();
    await Promise.all(servers.map((s) => s.close()));
    h.close();
  });

  it('creates, gets, lists and updates a service through a follower, which forwards to the leader', async () => {
    const created = parse<Service>(await call(viaFollower, 'CreateService', { specJson: JSON.stringify({ name: 'web', replicas: 2, labels: { tier: 'front' }, task: { container: { image: 'nginx' } } }) }));
    assert.equal(h.store().view.get('service', created.id)?.spec.name, 'web', 'the leader stored it');
    const got = parse<Service>(await call(viaFollower, 'GetService', { id: 'web' }));
    assert.equal(got.id, created.id);
    const listed = (await call(viaFollower, 'ListServices', { labels: ['tier=front'] })) as { json: string[] };
    assert.deepEqual(listed.json.map((j) => (JSON.parse(j) as Service).id), [created.id]);
    assert.deepEqual(((await call(viaFollower, 'ListServices', { labels: ['tier=back'] })) as { json: string[] }).json, []);
    const updated = parse<Service>(await call(viaFollower, 'UpdateService', { id: created.id, version: got.meta.version, specJson: JSON.stringify({ ...got.spec, replicas: 4 }) }));
    assert.equal(updated.spec.replicas, 4);
    await assert.rejects(call(viaFollower, 'UpdateService', { id: created.id, version: got.meta.version, specJson: JSON.stringify({ ...got.spec, replicas: 5 }) }),
      (e: unknown) => ShoalError.is(e, 'Conflict') && /read at version/.test(e.message));
  });

  it('refuses an invalid spec with the field-named error, relayed unchanged by the follower', async () => {
    const before = h.store().view.version;
    await assert.rejects(call(viaFollower, 'CreateService', { specJson: JSON.stringify({ name: 'bad', replicas: -3, task: { container: { image: 'x' } } }) }),
      (e: unknown) => ShoalError.is(e, 'InvalidArgument') && /replicas must be >= 0, got -3$/.test(e.message));
    await assert.rejects(call(viaFollower, 'CreateService', { specJson: '{not json' }), (e: unknown) => ShoalError.is(e, 'InvalidArgument') && /spec_json is not valid JSON/.test(e.message));
    assert.equal(h.store().view.version, before);
  });

  it('refuses a worker certificate', async () => {
    await assert.rejects(call(asWorker, 'ListServices', {}), (e: unknown) => ShoalError.is(e, 'PermissionDenied'));
  });

  it('lists tasks filtered by service and desired state, and nodes by role', async () => {
    const n: Node = makeNode(h.random, { hostname: 'w1', state: 'ready' });
    await h.settle(h.store().write([{ op: 'create', target: { kind: 'node', object: n } }]));
    const svc = parse<Service>(await call(viaFollower, 'CreateService', { specJson: JSON.stringify({ name: 'api', replicas: 3, task: { container: { image: 'api' } } }) }));
    await h.until(() => h.tasks(svc.id).length === 3, 10_000, 'tasks');
    const tasks = (await call(viaFollower, 'ListTasks', { serviceIds: [svc.id], desiredStates: [512] })) as { json: string[] };
    assert.equal(tasks.json.length, 3);
    assert.equal(((await call(viaFollower, 'ListTasks', { serviceIds: [svc.id], desiredStates: [640] })) as { json: string[] }).json.length, 0);
    const workers = (await call(viaFollower, 'ListNodes', { roles: ['worker'] })) as { json: string[] };
    assert.ok(workers.json.map((j) => (JSON.parse(j) as Node).id).includes(n.id));
    const drained = parse<Node>(await call(viaFollower, 'UpdateNode', { id: 'w1', version: h.store().view.get('node', n.id)!.meta.version, availability: 'drain', labelsJson: '{"zone":"a"}' }));
    assert.deepEqual([drained.spec.availability, drained.spec.labels], ['drain', { zone: 'a' }]);
    const before = h.store().view.version;
    await assert.rejects(call(viaFollower, 'UpdateNode', { id: 'w1', version: drained.meta.version, availability: 'sleep' }),
      (e: unknown) => ShoalError.is(e, 'InvalidArgument') && /availability must be one of active, pause, drain, got "sleep"$/.test(e.message));
    await assert.rejects(call(viaFollower, 'UpdateNode', { id: 'w1', version: drained.meta.version, labelsJson: '{"zone":3}' }),
      (e: unknown) => ShoalError.is(e, 'InvalidArgument') && /labels\.zone must be a string, got 3$/.test(e.message));
    assert.equal(h.store().view.version, before, 'nothing written');
  });

  it('refuses to demote the last manager or to remove a manager whose loss breaks the quorum', async () => {
    const m1 = makeNode(h.random, { hostname: 'm1', role: 'manager', state: 'ready' });
    await h.settle(h.store().write([{ op: 'create', target: { kind: 'node', object: m1 } }]));
    await assert.rejects(call(viaFollower, 'UpdateNode', { id: m1.id, version: h.store().view.get('node', m1.id)!.meta.version, role: 'worker' }),
      (e: unknown) => ShoalError.is(e, 'FailedPrecondition') && /last manager/.test(e.message));
    const reach = (hostname: string, reachability: 'reachable' | 'unreachable'): Node => ({ ...makeNode(h.random, { hostname, role: 'manager', state: 'ready' }), managerStatus: { raftId: 0, addr: '', leader: false, reachability } });
    const m2 = reach('m2', 'unreachable');
    const m3 = reach('m3', 'reachable');
    await h.settle(h.store().write([{ op: 'create', target: { kind: 'node', object: m2 } }, { op: 'create', target: { kind: 'node', object: m3 } }]));
    await assert.rejects(call(viaFollower, 'RemoveNode', { id: m3.id, force: true }),
      (e: unknown) => ShoalError.is(e, 'FailedPrecondition') && /only 0 of the other 2 managers are reachable, and 2 are needed/.test(e.message));
    assert.ok(h.store().view.get('node', m3.id) !== undefined);
  });

  it('updates cluster settings with validation and rotates the worker join token only', async () => {
    const c = h.store().view.cluster()!;
    await assert.rejects(call(viaFollower, 'UpdateCluster', { version: c.meta.version, specJson: JSON.stringify({ ...c.spec, dispatcher: { heartbeatPeriodMs: 5 } }) }),
      (e: unknown) => ShoalError.is(e, 'InvalidArgument') && /dispatcher\.heartbeatPeriodMs must be >= 100, got 5/.test(e.message));
    const next = JSON.parse((await call(viaFollower, 'UpdateCluster', { version: c.meta.version, specJson: JSON.stringify({ ...c.spec, dispatcher: { heartbeatPeriodMs: 2000 } }), rotateWorkerToken: true }) as { json: string }).json) as typeof c;
    assert.equal(next.spec.dispatcher.heartbeatPeriodMs, 2000);
    assert.notEqual(next.joinTokens.worker, c.joinTokens.worker);
    assert.match(next.joinTokens.worker, /^SWMTKN-1-/);
    assert.equal(next.joinTokens.manager, c.joinTokens.manager);
  });
});

describe('control API: managers outside the Raft group (after a forced new cluster)', function () {
  this.timeout(60_000);
  let h: Harness | undefined;
  afterEach(() => {
    h?.close();
    h = undefined;
  });

  it('demotes and removes managers that are no longer Raft members without a quorum check or a Raft change; the last member stays', async () => {
    h = await Harness.create(42);
    const removed: number[] = [];
    const api = new ControlApi(h.store(), h.clock, h.random, () => 'token', { raftMembership: { remove: (id) => { removed.push(id); return Promise.resolve(); }, isMember: (id) => id === 1 } });
    const manager = (hostname: string, raftId: number, reachability: 'reachable' | 'unreachable'): Node =>
      ({ ...makeNode(h!.random, { hostname, role: 'manager', state: 'ready' }), managerStatus: { raftId, addr: `${hostname}:2377`, leader: raftId === 1, reachability } });
    const [self, gone1, gone2] = [manager('self', 1, 'reachable'), manager('gone1', 2, 'unreachable'), manager('gone2', 3, 'unreachable')];
    await h.settle(h.store().write([self, gone1, gone2].map((n) => ({ op: 'create' as const, target: { kind: 'node' as const, object: n } }))));
    await h.settle(api.removeNode(gone1.id, true));
    const g2 = h.store().view.get('node', gone2.id)!;
    await h.settle(api.updateNode(gone2.id, g2.meta.version, { availability: '', role: 'worker', labelsJson: '' }));
    assert.equal(h.store().view.get('node', gone1.id), undefined);
    assert.equal(h.store().view.get('node', gone2.id)?.spec.role, 'worker');
    assert.deepEqual(removed, [], 'nothing to take out of the Raft group');
    const me = h.store().view.get('node', self.id)!;
    await assert.rejects(h.settle(api.updateNode(self.id, me.meta.version, { availability: '', role: 'worker', labelsJson: '' })), (e: unknown) => ShoalError.is(e, 'FailedPrecondition') && /last manager/.test(e.message));
  });
});
