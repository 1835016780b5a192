import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { systemClock } from '../../src/types/clock';
import { initClusterPki, issueLocal, type ClusterPki } from '../../src/pki/cluster-init';
import { MtlsServer } from '../../src/pki/mtls-server';
import { NodeIdentity } from '../../src/pki/node-identity';
import { nodeCertValidity } from '../../src/pki/root-ca';
import { managerChannelCredentials, clusterChannelOptions } from '../../src/pki/tls-credentials';
import type { NodeRole } from '../../src/pki/node-role';
import { addDispatcherService, DispatcherClientCtor } from '../../src/manager/dispatcher/dispatcher-server';
import { TaskState, type Task } from '../../src/types/objects';
import { Harness } from './sim/harness';
import { makeNode, makeService } from './sim/fixtures';

interface WireAssignments { sessionId: string; sequence: number; type: string; changes: { action: string; taskJson: string; taskId: string }[]; heartbeatPeriodMs: number }

describe('dispatcher over mutual TLS', function () {
  this.timeout(60_000);
  let h: Harness;
  let pki: ClusterPki;
  const servers: MtlsServer[] = [];
  const clients: grpc.Client[] = [];
  const roles = new Map<string, NodeRole>();
  const addrs: string[] = [];
  let pump: NodeJS.Timeout;

  async function identity(role: NodeRole): Promise<NodeIdentity> {
    const issued = await issueLocal(pki.rootCa, { role }, nodeCertValidity(Date.now()));
    roles.set(issued.info.nodeId, role);
    return new NodeIdentity(issued.material);
  }

  before(async () => {
    h = await Harness.create(51);
    pki = await initClusterPki({ clock: systemClock });
    for (const i of [0, 1, 2]) {
      const server = new MtlsServer({ identity: await identity('manager'), host: '127.0.0.1', port: 0, clusterId: pki.rootCa.clusterId, membership: { roleOf: (n) => roles.get(n) }, clock: systemClock });
      addDispatcherService(server.grpc, () => (h.managers[i].isLeading() ? h.managers[i].dispatcher : undefined));
      servers.push(server);
      addrs.push(`127.0.0.1:${await server.listen()}`);
    }
    pump = setInterval(() => h.clock.advance(10), 1);
  });

  after(async () => {
    clearInterval(pump);
    for (const c of clients) c.close();
    await Promise.all(servers.map((s) => s.close()));
    h.close();
  });

  function client(addr: string, id: NodeIdentity): grpc.Client {
    const c = new DispatcherClientCtor(addr, managerChannelCredentials(id), clusterChannelOptions);
    clients.push(c);
    return c;
  }

  const unary = (c: grpc.Client, method: 'heartbeat' | 'updateTaskStatus', req: Record<string, unknown>): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      (c as unknown as Record<string, (r: unknown, cb: (e: grpc.ServiceError | null, v: Record<string, unknown>) => void) => void>)[method](req, (e, v) => (e === null ? resolve(v) : reject(e)));
    });

  it('opens a session named by the certificate, streams numbered assignments and takes status reports', async () => {
    const worker = await identity('worker');
    const node = { ...makeNode(h.random, { hostname: 'wk' }), id: worker.info.nodeId };
    await h.store().write([{ op: 'create', target: { kind: 'node', object: node } }]);
    await new Promise((r) => setTimeout(r, 50));
    const c = client(addrs[h.sim.leaderIndex()], worker);
    const stream = (c as unknown as { session(r: unknown): grpc.ClientReadableStream<WireAssignments> }).session({ descriptionJson: JSON.stringify(node.description), addr: '127.0.0.1' });
    const messages: WireAssignments[] = [];
    stream.on('data', (m: WireAssignments) => messages.push(m));
    stream.on('error', () => undefined);
    const waitFor = async (cond: () => boolean, what: string): Promise<void> => {
      for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
      assert.ok(cond(), `timed out waiting for ${what}`);
    };
    await waitFor(() => messages.length === 1, 'the complete set');
    assert.deepEqual([messages[0].type, messages[0].sequence, messages[0].changes.length, messages[0].heartbeatPeriodMs], ['complete', 1, 0, 5000]);
    assert.equal(h.store().view.get('node', node.id)?.status.state, 'ready');
    const sessionId = messages[0].sessionId;
    assert.deepEqual(await unary(c, 'heartbeat', { sessionId }), { periodMs: 5000, managers: [] });

    await h.store().write([{ op: 'create', target: { kind: 'service', object: makeService(h.random, { name: 'g', mode: 'global', task: { container: { image: 'x' } } }) } }]);
    await waitFor(() => messages.some((m) => m.changes.some((x) => x.action === 'update')), 'an assignment');
    const m = messages.find((x) => x.changes.length > 0)!;
    assert.equal(m.type, 'incremental');
    assert.equal(m.sequence, messages.indexOf(m) + 1, 'sequence numbers have no gap');
    const task = JSON.parse(m.changes[0].taskJson) as Task;
    assert.equal(task.nodeId, node.id);
    const status = { ...task.status, state: TaskState.RUNNING, timestamp: h.clock.now(), message: 'started' };
    await unary(c, 'updateTaskStatus', { sessionId, updates: [{ taskId: task.id, statusJson: JSON.stringify(status) }] });
    await waitFor(() => h.store().view.get('task', task.id)?.status.state === TaskState.RUNNING, 'the status in the store');
    stream.cancel();
  });

  it('marks a node down soon after the connection of its agent closes, without waiting for the heartbeat window', async () => {
    const worker = await identity('worker');
    const node = { ...makeNode(h.random, { hostname: 'gone' }), id: worker.info.nodeId };
    await h.store().write([{ op: 'create', target: { kind: 'node', object: node } }]);
    await new Promise((r) => setTimeout(r, 50));
    // A channel of its own: closing it is what the death of the agent's process does to the connection.
    const c = new DispatcherClientCtor(addrs[h.sim.leaderIndex()], managerChannelCredentials(worker), clusterChannelOptions);
    const stream = (c as unknown as { session(r: unknown): grpc.ClientReadableStream<WireAssignments> }).session({ descriptionJson: JSON.stringify(node.description), addr: '127.0.0.1' });
    stream.on('error', () => undefined);
    let opened = false;
    stream.on('data', () => { opened = true; });
    for (let i = 0; i < 500 && !opened; i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(opened, 'the session opened');
    const closedAt = h.clock.now();
    stream.cancel();
    c.close();
    for (let i = 0; i < 1000 && h.store().view.get('node', node.id)?.status.state !== 'down'; i++) await new Promise((r) => setTimeout(r, 5));
    const after = h.clock.now() - closedAt;
    assert.equal(h.store().view.get('node', node.id)?.status.state, 'down');
    assert.ok(after < 5000, `marked down ${after} ms (simulated) after the connection closed; the heartbeat window is 15000 ms`);
  });

  it('refuses sessions on a follower and heartbeats for a session the node does not hold', async () => {
    const worker = await identity('worker');
    const follower = client(addrs[(h.sim.leaderIndex() + 1) % 3], worker);
    await assert.rejects(unary(follower, 'heartbeat', { sessionId: 'x' }), (e: grpc.ServiceError) => e.code === grpc.status.UNAVAILABLE);
    const leader = client(addrs[h.sim.leaderIndex()], worker);
    await assert.rejects(unary(leader, 'heartbeat', { sessionId: 'x' }), (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND);
    await assert.rejects(unary(leader, 'updateTaskStatus', { sessionId: 'x', updates: [{ taskId: 't', statusJson: '{bad' }] }), (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT && /updates\[0\]\.status_json is not valid JSON/.test(e.details));
  });
});
