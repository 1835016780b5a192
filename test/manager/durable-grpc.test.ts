import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { addCaService } from '../../src/pki/ca-server';
import { joinCluster } from '../../src/pki/ca-client';
import { managerChannelCredentials, clusterChannelOptions } from '../../src/pki/tls-credentials';
import { systemClock } from '../../src/types/clock';
import { DEFAULT_CLUSTER_SPEC, type Cluster, type Service } from '../../src/types/objects';
import { addControlService, openWatch } from '../../src/manager/controlapi/control-server';
import { ControlClientCtor } from '../../src/manager/controlapi/control-proto';
import type { WireWatchEvent } from '../../src/manager/controlapi/watch';
import { DurableCluster } from './durable/durable-cluster';

const HOUR_MS = 3600 * 1000;

describe('control Watch and the CA on durable managers, over mutual TLS', function () {
  this.timeout(120_000);
  let c: DurableCluster;
  const clients: grpc.Client[] = [];

  before(async () => {
    c = await DurableCluster.create({
      addServices: (m, cluster) => {
        addControlService(m.server.grpc, { api: m.api, isLeader: () => m.log.isLeader(), leaderClient: () => undefined });
        addCaService(m.server.grpc, {
          rootCa: cluster.pki.rootCa, tokens: cluster.pki.tokens, clock: systemClock,
          registry: { roleOf: () => undefined, admit: () => Promise.resolve() },
          // The daemon's wiring: the cluster setting in force when each certificate is issued.
          certValidityMs: () => m.store.view.cluster()?.spec.caConfig.nodeCertExpiryMs ?? DEFAULT_CLUSTER_SPEC.caConfig.nodeCertExpiryMs,
        });
      },
    });
  });

  after(async () => {
    for (const cl of clients) cl.close();
    await c.destroy();
  });

  async function client(address: string, role: 'manager' | 'worker'): Promise<grpc.Client> {
    const cl = new ControlClientCtor(address, managerChannelCredentials(await c.identity(role)), clusterChannelOptions);
    clients.push(cl);
    return cl;
  }

  /** The messages of a stream until `done` holds for them, or its error. */
  function collect(stream: grpc.ClientReadableStream<WireWatchEvent>, done: (ms: WireWatchEvent[]) => boolean, timeoutMs = 15_000): Promise<WireWatchEvent[]> {
    const ms: WireWatchEvent[] = [];
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`watch: timed out with ${ms.length} messages`)), timeoutMs);
      stream.on('data', (m: WireWatchEvent) => {
        ms.push(m);
        if (done(ms)) { clearTimeout(timer); resolve(ms); }
      });
      stream.on('error', (e) => { clearTimeout(timer); reject(e); });
    });
  }

  it('streams applied changes of the asked kinds, with their Raft index, from a follower', async () => {
    const leader = await c.leader();
    const follower = [...c.managers.values()].find((m) => m !== leader)!;
    const stream = openWatch(await client(follower.address, 'manager'), ['service']);
    let started: () => void;
    const ready = new Promise<void>((r) => { started = r; });
    const got = collect(stream, (ms) => { if (ms.length === 1) started(); return ms.some((m) => m.changes.some((ch) => ch.action === 'update')); });
    await ready;
    const svc = await leader.api.createService(JSON.stringify({ name: 'watched', replicas: 0, task: { container: { image: 'x:1' } } }));
    await leader.api.updateService(svc.id, svc.meta.version, JSON.stringify({ ...svc.spec, labels: { a: 'b' } }), false);
    const ms = await got;
    stream.cancel();
    assert.deepEqual(ms[0].changes, [], 'the first message only says the watch is in place');
    const changes = ms.slice(1).flatMap((m) => m.changes.map((ch) => ({ index: m.index, ...ch })));
    assert.ok(changes.every((ch) => ch.kind === 'service'), 'only the asked kind');
    assert.deepEqual(changes.map((ch) => [ch.id, ch.action]), [[svc.id, 'create'], [svc.id, 'update']]);
    const updated = JSON.parse(changes[1].objectJson) as Service;
    assert.equal(changes[1].index, updated.meta.version, 'the message carries the Raft index of the change');
    assert.deepEqual(updated.spec.labels, { a: 'b' });
    assert.deepEqual((JSON.parse(changes[1].oldObjectJson) as Service).spec.labels, {});
    assert.ok(ms.slice(1).every((m, i, a) => i === 0 || m.index > a[i - 1].index), 'in log order');
  });

  it('refuses a worker certificate and names a bad kind', async () => {
    const leader = await c.leader();
    const asWorker = openWatch(await client(leader.address, 'worker'));
    await assert.rejects(collect(asWorker, () => true), (e: grpc.ServiceError) => e.code === grpc.status.PERMISSION_DENIED);
    const bad = openWatch(await client(leader.address, 'manager'), ['tasks']);
    await assert.rejects(collect(bad, () => true), (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT && /kinds\[0\] must be one of node, service, task, cluster, got "tasks"/.test(e.details));
  });

  it('issues the next certificate with the node certificate expiry the cluster spec has now', async () => {
    const leader = await c.leader();
    const lifetime = async (): Promise<number> => {
      const issued = await joinCluster({ address: leader.address, token: c.pki.tokens.current('worker') });
      return issued.info.notAfterMs - Date.now();
    };
    const first = await lifetime();
    assert.ok(Math.abs(first - DEFAULT_CLUSTER_SPEC.caConfig.nodeCertExpiryMs) < 60_000, `default 90 days, got ${first} ms`);
    const cl: Cluster = leader.api.getCluster();
    await assert.rejects(leader.api.updateCluster(cl.meta.version, JSON.stringify({ ...cl.spec, caConfig: { nodeCertExpiryMs: HOUR_MS - 1 } }), false, false),
      /caConfig\.nodeCertExpiryMs must be >= 3600000, got 3599999/);
    await leader.api.updateCluster(cl.meta.version, JSON.stringify({ ...cl.spec, caConfig: { nodeCertExpiryMs: 2 * HOUR_MS } }), false, false);
    const second = await lifetime();
    assert.ok(Math.abs(second - 2 * HOUR_MS) < 60_000, `2 hours after the update, got ${second} ms`);
  });
});
