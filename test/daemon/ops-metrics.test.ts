import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { DaemonMetrics, startMetricsServer, type MetricsServer } from '../../src/daemon/metrics';
import { EventBus, attachStore } from '../../src/events/bus';
import { NatsPublisher } from '../../src/events/nats-publisher';
import { Dispatcher } from '../../src/manager/dispatcher/dispatcher';
import { newTask } from '../../src/manager/orchestrator/new-task';
import { raftNodeLog } from '../../src/manager/raft-node-log';
import type { ReplicatedLog } from '../../src/manager/replicated-log';
import { patchTask } from '../../src/manager/store/actions';
import { Store } from '../../src/manager/store/store';
import { RaftNode } from '../../src/raft/node/raft-node';
import { LevelRaftStorage } from '../../src/raft/storage/level-storage';
import { GrpcTransport } from '../../src/raft/transport/grpc-transport';
import { raftServiceDefinition } from '../../src/raft/transport/raft-service';
import { channelKeepaliveOptions, managerChannelCredentials } from '../../src/pki/tls-credentials';
import { systemClock } from '../../src/types/clock';
import { TaskState, type Task } from '../../src/types/objects';
import { SeededRandom } from '../../src/types/random';
import { makeNode, makeService } from '../manager/sim/fixtures';
import { InProcessCluster } from '../raft/node/in-process-cluster';

/** GET a path from the metrics server over loopback. */
function get(server: MetricsServer, urlPath: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: server.address.port, path: urlPath }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    }).on('error', reject);
  });
}

/** The value of one sample (`name` or `name{labels}`) in a scrape, or undefined if absent. */
async function sample(server: MetricsServer, series: string): Promise<number | undefined> {
  const { body } = await get(server, '/metrics');
  const line = body.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function until(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`${what} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('shoald Prometheus metrics, scraped over HTTP', function () {
  this.timeout(60_000);
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function serve(metrics: DaemonMetrics): Promise<MetricsServer> {
    const server = await startMetricsServer('127.0.0.1:0', metrics.registry);
    cleanups.push(() => server.close(), () => metrics.close());
    return server;
  }

  /** A one-member manager: a real RaftNode (LevelDB, mTLS gRPC transport) replicating a Store. */
  async function singleManager(): Promise<{ node: RaftNode<unknown>; store: Store; log: ReplicatedLog }> {
    const c = await InProcessCluster.create({ heartbeatMs: 50, electionTimeoutMs: 500 });
    cleanups.push(() => c.destroy());
    const { server, identity } = await c.listen();
    cleanups.push(() => server.close());
    const transport = new GrpcTransport({ selfId: 1, credentials: managerChannelCredentials(identity), channelOptions: channelKeepaliveOptions });
    server.grpc.addService(raftServiceDefinition, transport.service);
    const storage = await LevelRaftStorage.open(path.join(c.root, 'manager'));
    cleanups.push(() => storage.close());
    // The store and the node refer to each other: the store proposes through the node's log adapter.
    const ref: { log?: ReplicatedLog } = {};
    const store = new Store({ propose: (d) => ref.log!.propose(d), isLeader: () => ref.log!.isLeader(), onLeadershipChange: (cb) => ref.log!.onLeadershipChange(cb) }, systemClock);
    const node = await RaftNode.open<unknown>({ id: 1, storage, transport, stateMachine: store, bootstrap: { 1: `127.0.0.1:${server.port}` }, heartbeatMs: 50, electionTimeoutMs: 500 });
    cleanups.push(() => node.stop());
    const adapter = raftNodeLog(node, systemClock, 10);
    cleanups.push(() => adapter.close());
    ref.log = adapter;
    await until(() => adapter.isLeader(), 10_000, 'the single manager did not lead');
    return { node, store, log: adapter };
  }

  it('serves GET /metrics in the Prometheus text format with process metrics, and 404 elsewhere', async () => {
    const server = await serve(new DaemonMetrics());
    const ok = await get(server, '/metrics');
    assert.equal(ok.status, 200);
    assert.match(ok.type, /^text\/plain; version=0\.0\.4/);
    assert.match(ok.body, /^# HELP shoal_raft_term /m);
    assert.match(ok.body, /^process_cpu_user_seconds_total \d/m);
    assert.match(ok.body, /^nodejs_heap_size_used_bytes \d/m);
    assert.equal((await get(server, '/')).status, 404);
    assert.equal((await get(server, '/metrics/x')).status, 404);
  });

  it('two daemons in one process keep separate registries', async () => {
    const a = new DaemonMetrics();
    const b = new DaemonMetrics();
    cleanups.push(() => a.close(), () => b.close());
    a.observeProposal(5);
    const sa = await serve(a);
    const sb = await serve(b);
    assert.equal(await sample(sa, 'shoal_raft_proposals_total'), 1);
    assert.equal(await sample(sb, 'shoal_raft_proposals_total'), 0);
  });

  it('reports a metrics address already in use naming the flag and the address', async () => {
    const first = await serve(new DaemonMetrics());
    const addr = `127.0.0.1:${first.address.port}`;
    await assert.rejects(startMetricsServer(addr, new DaemonMetrics().registry), new RegExp(`^ShoalError\\[InvalidArgument\\]: --metrics-addr: cannot listen on ${addr}: EADDRINUSE`));
  });

  it('Raft term, commit and applied index move with real proposals; leader changes count a new election', async () => {
    const c = await InProcessCluster.create({ heartbeatMs: 50, electionTimeoutMs: 500 });
    cleanups.push(() => c.destroy());
    await c.found(3);
    const leader = await c.leader();
    const follower = [...c.members.values()].find((m) => m !== leader)!;
    await until(() => follower.node.leaderId() === leader.id, 5000, 'the follower did not learn the leader');
    const metrics = new DaemonMetrics();
    metrics.attachRaft(follower.node);
    const server = await serve(metrics);
    const term0 = (await sample(server, 'shoal_raft_term'))!;
    const commit0 = (await sample(server, 'shoal_raft_commit_index'))!;
    assert.ok(term0 >= 1, `term ${term0}`);
    assert.equal(await sample(server, 'shoal_raft_leader_changes_total'), 1);
    assert.equal(await sample(server, 'shoal_raft_is_leader'), 0);
    for (let i = 0; i < 5; i++) {
      const start = performance.now();
      await leader.node.propose(Buffer.from(`op${i}`));
      metrics.observeProposal(performance.now() - start);
    }
    await until(async () => (await sample(server, 'shoal_raft_applied_index'))! >= commit0 + 5, 5000, 'the follower did not apply 5 more entries');
    assert.ok((await sample(server, 'shoal_raft_commit_index'))! >= commit0 + 5);
    assert.equal(await sample(server, 'shoal_raft_proposals_total'), 5);
    assert.equal(await sample(server, 'shoal_raft_proposal_seconds_count'), 5);
    assert.equal(await sample(server, 'shoal_raft_proposal_seconds_bucket{le="+Inf"}'), 5);

    await c.stop(leader.id);
    await until(() => { const l = follower.node.leaderId(); return l !== 0 && l !== leader.id; }, 15_000, 'no new leader was elected');
    await until(async () => (await sample(server, 'shoal_raft_leader_changes_total'))! >= 2, 5000, 'the leader change was not counted');
    assert.ok((await sample(server, 'shoal_raft_term'))! > term0, 'the term did not grow with the election');
  });

  it('counts tasks by state from the store, observes scheduling latency, and dispatcher sessions', async () => {
    const { node, store } = await singleManager();
    const metrics = new DaemonMetrics();
    metrics.attachRaft(node);
    metrics.attachStore(store);
    const random = new SeededRandom(7);
    const dispatcher = new Dispatcher(store, systemClock, random);
    dispatcher.start();
    cleanups.push(() => dispatcher.stop());
    metrics.attachDispatcher(dispatcher);
    const server = await serve(metrics);
    assert.equal(await sample(server, 'shoal_raft_is_leader'), 1);
    assert.equal(await sample(server, 'shoal_tasks{state="pending"}'), 0);

    const worker = makeNode(random, { hostname: 'w1', state: 'ready' });
    const svc = makeService(random, { name: 'web', task: { container: { image: 'busybox' } } });
    const tasks = [1, 2, 3].map((slot) => newTask(svc, random, 0, { slot, nodeId: '' }));
    await store.write([{ op: 'create', target: { kind: 'node', object: worker } }, { op: 'create', target: { kind: 'service', object: svc } }, ...tasks.map((t) => ({ op: 'create' as const, target: { kind: 'task' as const, object: t } }))]);
    assert.equal(await sample(server, 'shoal_tasks{state="pending"}'), 3);
    assert.equal(await sample(server, 'shoal_tasks{state="assigned"}'), 0);
    assert.equal(await sample(server, 'shoal_scheduling_latency_seconds_count'), 0);

    // The scheduler's write: two tasks placed.
    await new Promise((r) => setTimeout(r, 30));
    const placed = tasks.slice(0, 2).map((t) => store.view.get('task', t.id)!);
    await store.write(placed.map((t: Task) => patchTask(t, { nodeId: worker.id, status: { ...t.status, state: TaskState.ASSIGNED } })));
    assert.equal(await sample(server, 'shoal_tasks{state="pending"}'), 1);
    assert.equal(await sample(server, 'shoal_tasks{state="assigned"}'), 2);
    assert.equal(await sample(server, 'shoal_scheduling_latency_seconds_count'), 2);
    const sum = (await sample(server, 'shoal_scheduling_latency_seconds_sum'))!;
    assert.ok(sum >= 0.05, `scheduling latency sum ${sum} s: two tasks waited at least 30 ms each`);

    assert.equal(await sample(server, 'shoal_dispatcher_sessions'), 0);
    const session = await dispatcher.register(worker.id, worker.description, '127.0.0.1', () => undefined);
    assert.equal(await sample(server, 'shoal_dispatcher_sessions'), 1);
    assert.ok(session.sessionId.length > 0);
  });

  it('reports running containers and the events dropped while NATS is unreachable', async () => {
    const { store, log } = await singleManager();
    const metrics = new DaemonMetrics();
    let running = 0;
    metrics.attachRuntime(() => running);
    const bus = new EventBus();
    cleanups.push(attachStore(bus, store));
    const publisher = new NatsPublisher({ url: `nats://127.0.0.1:${await closedPort()}`, bus, log, clusterId: () => 'c1', bufferMax: 2, reconnectWaitMs: 100 });
    publisher.start();
    cleanups.push(() => publisher.close());
    metrics.attachNats(publisher);
    const server = await serve(metrics);
    assert.equal(await sample(server, 'shoal_containers_running'), 0);
    running = 2;
    assert.equal(await sample(server, 'shoal_containers_running'), 2);
    assert.equal(await sample(server, 'shoal_events_nats_dropped_total'), 0);

    const random = new SeededRandom(9);
    for (const name of ['a', 'b', 'c', 'd', 'e']) await store.write([{ op: 'create', target: { kind: 'service', object: makeService(random, { name, task: { container: { image: 'busybox' } } }) } }]);
    assert.equal(publisher.stats().dropped, 3);
    assert.equal(await sample(server, 'shoal_events_nats_dropped_total'), 3);
    assert.equal(await sample(server, 'shoal_events_nats_pending'), 2);
  });
});
