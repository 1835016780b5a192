import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { connect, nanos, type NatsConnection } from 'nats';
import { compareEvents, type ShoalEvent } from '../../src/events/event';
import { parseEventId } from '../../src/events/nats-publisher';
import { DockerCli } from '../api/docker-client';
import { buildBusyboxImage } from '../runtime/fixtures/busybox-image';
import { NatsServer, eventually, sleep, streamMsgIds } from './nats-server';
import { NatsRelay, ShoaldSet, type Shoald } from './shoald-proc';

/** One message as a NATS consumer saw it. */
interface Received { subject: string; id: string; event: ShoalEvent }

/** A plain NATS subscriber on `shoal.>`, started before the swarm exists. */
class Consumer {
  readonly received: Received[] = [];
  private constructor(readonly nc: NatsConnection) {}

  static async start(url: string): Promise<Consumer> {
    const nc = await connect({ servers: url, reconnect: true, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    const c = new Consumer(nc);
    nc.subscribe('shoal.>', {
      callback: (err, msg) => {
        if (err !== null) return;
        c.received.push({ subject: msg.subject, id: msg.headers?.get('Nats-Msg-Id') ?? '', event: JSON.parse(new TextDecoder().decode(msg.data)) as ShoalEvent });
      },
    });
    await nc.flush();
    return c;
  }

  /** Received events with repeats of an id dropped (the consumer's de-duplication). */
  unique(): Received[] {
    const seen = new Set<string>();
    return this.received.filter((r) => !seen.has(r.id) && seen.add(r.id) !== undefined);
  }

  /** Resolves once no message has arrived for quietMs. */
  async quiet(quietMs = 1500, maxMs = 30_000): Promise<void> {
    const end = Date.now() + maxMs;
    let n = -1;
    while (n !== this.received.length) {
      if (Date.now() > end) throw new Error(`events kept arriving for ${maxMs} ms`);
      n = this.received.length;
      await sleep(quietMs);
    }
  }

  async close(): Promise<void> {
    if (!this.nc.isClosed()) await this.nc.close();
  }
}

/** A compact line per event: `<id> <type>.<action> <object id prefix> k=v ...`. */
function compact(cid: string, r: Received): string {
  const a = r.event.attributes;
  const keys = r.event.type === 'task' ? ['slot', 'node', 'state', 'desiredState', 'exitCode', 'error'] : r.event.type === 'service' ? ['name', 'replicas', 'replicas.old'] : r.event.type === 'cluster' ? ['name', 'tokens', 'leader'] : Object.keys(a).filter((k) => k !== 'hostname' && k !== 'addr' && k !== 'role' && k !== 'availability');
  const attrs = keys.filter((k) => a[k] !== undefined && a[k] !== '').map((k) => `${k}=${k === 'node' || k === 'leader' ? a[k].slice(0, 8) : a[k]}`);
  return `${r.id.padEnd(7)} ${r.subject.replace(`shoal.${cid}.`, '').padEnd(24)} ${r.event.objectId.slice(0, 8)} ${attrs.join(' ')}`;
}

/** The Docker shape of a service spec with replicas of a sleeping busybox. */
function serviceSpec(name: string, replicas: number): unknown {
  return {
    Name: name,
    TaskTemplate: { ContainerSpec: { Image: 'busybox:latest', Command: ['sleep', '1000'], StopGracePeriod: 300_000_000 } },
    Mode: { Replicated: { Replicas: replicas } },
  };
}

interface DockerTask { ID: string; Slot: number; NodeID: string; DesiredState: string; Status: { State: string } }

async function tasksOf(s: Shoald, serviceId: string): Promise<DockerTask[]> {
  return (await s.ok('GET', `/v1.41/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [serviceId] }))}`)) as DockerTask[];
}

async function waitRunning(s: Shoald, serviceId: string, n: number, maxMs = 60_000): Promise<void> {
  let last: DockerTask[] = [];
  const end = Date.now() + maxMs;
  for (;;) {
    last = await tasksOf(s, serviceId).catch(() => last);
    if (last.filter((t) => t.DesiredState === 'running' && t.Status.State === 'running').length === n) return;
    if (Date.now() > end) throw new Error(`${n} running tasks of ${serviceId} not seen within ${maxMs} ms: ${JSON.stringify(last.map((t) => [t.Slot, t.DesiredState, t.Status.State]))}`);
    await sleep(200);
  }
}

async function scale(s: Shoald, serviceId: string, replicas: number): Promise<void> {
  const svc = (await s.ok('GET', `/v1.41/services/${serviceId}`)) as { Version: { Index: number }; Spec: { Mode: { Replicated: { Replicas: number } } } };
  svc.Spec.Mode.Replicated.Replicas = replicas;
  await s.ok('POST', `/v1.41/services/${serviceId}/update?version=${svc.Version.Index}`, svc.Spec);
}

async function loadBusybox(s: Shoald, tarball: string): Promise<void> {
  const r = await s.api('POST', '/v1.41/images/load', fs.readFileSync(tarball));
  assert.equal(r.status, 200, r.text);
}

/** Ids strictly increase in commit order (`<raft index>.<position>`), without repeats. */
function assertCommitOrder(rs: readonly Received[]): void {
  const keys = rs.map((r) => parseEventId(r.id));
  assert.ok(keys.every((k) => k !== undefined), 'every message has an event id');
  for (let i = 1; i < keys.length; i++) assert.ok(compareEvents(keys[i - 1], keys[i]) < 0, `${rs[i - 1].id} before ${rs[i].id}`);
}

/** A task's state-change events chain up: each one's state.old is the state its previous event left. */
function assertStateChain(taskEvents: readonly ShoalEvent[]): void {
  for (let i = 1; i < taskEvents.length; i++) {
    const e = taskEvents[i];
    if (e.attributes['state.old'] !== undefined) assert.equal(e.attributes['state.old'], taskEvents[i - 1].attributes.state, `${e.id} ${e.action}: no state change of task ${e.objectId} went unseen`);
    else assert.equal(e.attributes.state, taskEvents[i - 1].attributes.state, `${e.id} ${e.action} changed no state`);
  }
}

/**
 * The events split at each event other than a task's, task events of a phase ordered by slot (stable, so
 * each task's own order stays): the order between tasks within a phase follows the agent's reports.
 */
function phases(rs: readonly Received[]): string[][] {
  const out: ShoalEvent[][] = [];
  for (const { event: e } of rs) {
    if (e.type !== 'task' || out.length === 0) out.push([]);
    out[out.length - 1].push(e);
  }
  const slot = (e: ShoalEvent): number => (e.type === 'task' ? Number(e.attributes.slot) : 0);
  return out.map((p) => [...p].sort((a, b) => slot(a) - slot(b)).map((e) => `${e.type}.${e.action}${e.type === 'task' ? ` slot=${e.attributes.slot}` : ''}`));
}

interface DockerEventJson { Type: string; Action: string; Actor: { ID: string; Attributes: Record<string, string> }; scope: string; time: number; timeNano: number }

function dockerEvents(text: string): DockerEventJson[] {
  return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as DockerEventJson);
}

/** `/events` from the start until now with Docker's filters (swarm scope only: the bus, not this host's container events). */
async function busEvents(s: Shoald, filters: Record<string, string[]> = {}): Promise<DockerEventJson[]> {
  const q = encodeURIComponent(JSON.stringify({ scope: ['swarm'], ...filters }));
  const r = await s.api('GET', `/v1.41/events?since=0&until=${Math.ceil(Date.now() / 1000) + 1}&filters=${q}`);
  assert.equal(r.status, 200, r.text);
  return dockerEvents(r.text);
}

/** The CLI's entry point, as installed (`shoal`). */
const shoalCli = path.resolve(__dirname, '../../src/cli/main.js');

/** Runs `shoal ARGS` against a shoald; resolves with its exit code and output. */
function shoal(s: Shoald, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [shoalCli, '-H', `unix://${s.socketPath}`, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err !== null && typeof err.code !== 'number') return reject(new Error(`shoal ${args.join(" ")}: ${err.message}`));
      resolve({ code: err === null ? 0 : (err.code as number), stdout, stderr });
    });
  });
}

interface DockerNode { ID: string; Status: { State: string }; ManagerStatus?: { Leader?: boolean; Reachability: string; Addr: string } }

async function waitForNodes(s: Shoald, cond: (ns: DockerNode[]) => boolean, maxMs = 60_000): Promise<DockerNode[]> {
  let last: DockerNode[] = [];
  const end = Date.now() + maxMs;
  for (;;) {
    last = ((await s.ok('GET', '/v1.41/nodes').catch(() => last)) as DockerNode[]);
    if (cond(last)) return last;
    if (Date.now() > end) throw new Error(`nodes as ${s.name} lists them did not reach the expected state within ${maxMs} ms: ${JSON.stringify(last)}`);
    await sleep(200);
  }
}

/** Waits in real time until the async cond() holds. */
async function eventuallyAsync(cond: () => Promise<boolean>, what: string, maxMs = 10_000): Promise<void> {
  const end = Date.now() + maxMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${maxMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

/** One sample's value in a Prometheus scrape. */
function metric(body: string, series: string): number | undefined {
  const line = body.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('cluster events through shoald and NATS', function () {
  this.timeout(300_000);
  let nats: NatsServer | undefined;
  let set: ShoaldSet | undefined;
  let consumer: Consumer | undefined;
  let image: { dir: string; tarball: string } | undefined;
  const relays: NatsRelay[] = [];

  before(async () => {
    if (process.getuid?.() !== 0) throw new Error('these tests run shoald with real containers (namespaces, cgroups, a bridge): run them as root');
    image = await buildBusyboxImage();
  });

  after(() => {
    if (image !== undefined) fs.rmSync(image.dir, { recursive: true, force: true });
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && set !== undefined) {
      for (const s of set.all) console.log(`--- ${s.name} log (tail)\n${s.stderr.split('\n').slice(-40).join('\n')}`);
    }
    await consumer?.close();
    for (const r of relays.splice(0)) await r.close();
    const problems = (await set?.cleanup()) ?? [];
    await nats?.close();
    consumer = undefined;
    set = undefined;
    nats = undefined;
    assert.deepEqual(problems, []);
  });

  it('create, scale and remove of a service through the local API reach NATS as the exact sequence of committed events', async () => {
    nats = await NatsServer.start();
    consumer = await Consumer.start(nats.url);
    set = new ShoaldSet();
    const m1 = await set.add('m1', ['--events-nats', nats.url]);
    await m1.start();
    await loadBusybox(m1, image!.tarball);
    const nodeId = (await m1.ok('POST', '/v1.41/swarm/init', { ListenAddr: m1.addr, AdvertiseAddr: m1.addr })) as string;
    const cid = ((await m1.ok('GET', '/v1.41/swarm')) as { ID: string }).ID;
    const { ID: svcId } = (await m1.ok('POST', '/v1.41/services/create', serviceSpec('web', 2))) as { ID: string };
    await waitRunning(m1, svcId, 2);
    await scale(m1, svcId, 3);
    await waitRunning(m1, svcId, 3);
    await m1.ok('DELETE', `/v1.41/services/${svcId}`);
    await eventually(() => consumer!.received.filter((r) => r.event.type === 'task' && r.event.action === 'remove').length === 3, 'the tasks removed', 60_000);
    // docker swarm join-token --rotate worker
    const swarm = (await m1.ok('GET', '/v1.41/swarm')) as { Version: { Index: number }; Spec: unknown; JoinTokens: { Worker: string } };
    await m1.ok('POST', `/v1.41/swarm/update?version=${swarm.Version.Index}&rotateWorkerToken=true`, swarm.Spec);
    await consumer.quiet();

    const got = consumer.received;
    const lines = got.map((r) => compact(cid, r));
    // Shown in the test output (quoted in the issue's closing note); no file is left behind.
    console.log(`      captured from NATS (cluster ${cid}, node ${nodeId}, service ${svcId}):\n${lines.map((l) => `        ${l}`).join('\n')}`);

    // Each event once, in commit order, on shoal.<cluster id>.<type>.<action>, its id the Nats-Msg-Id.
    assertCommitOrder(got);
    for (const r of got) {
      assert.equal(r.subject, `shoal.${cid}.${r.event.type}.${r.event.action}`);
      assert.equal(r.id, r.event.id);
    }
    // The exact sequence: per phase, each task's own events in order (tasks in a phase by slot).
    // A task's `starting` is committed only when the agent reported it before `running`: the agent
    // sends its latest state, so a fast start is one change (assigned -> running), and one event.
    const task = (slot: number, ...actions: string[]): string[] => actions.map((a) => `task.${a} slot=${slot}`);
    const started = (slot: number): string[] => task(slot, 'create', 'assigned', 'running');
    const stopped = (slot: number): string[] => task(slot, 'desired-state', 'shutdown', 'remove');
    assert.deepEqual(phases(got).map((p) => p.filter((a) => !a.startsWith('task.starting '))), [
      ['cluster.create'], ['node.join'], ['node.ready'],
      ['service.create', ...started(1), ...started(2)],
      ['service.update', ...started(3)],
      ['service.remove', ...stopped(1), ...stopped(2), ...stopped(3)],
      ['cluster.token-rotation'],
    ]);
    assert.deepEqual(got[got.length - 1].event.attributes.tokens, 'worker');
    const ev = got.map((r) => r.event);
    assert.deepEqual(ev.filter((e) => e.type === 'service').map((e) => e.objectId), [svcId, svcId, svcId]);
    assert.deepEqual(ev.filter((e) => e.type !== 'service' && e.type !== 'task').map((e) => e.objectId), [cid, nodeId, nodeId, cid]);
    const scaled = ev.find((e) => e.type === 'service' && e.action === 'update')!;
    assert.deepEqual([scaled.attributes.name, scaled.attributes.replicas, scaled.attributes['replicas.old']], ['web', '3', '2']);
    for (const slot of [1, 2, 3]) {
      const mine = ev.filter((e) => e.type === 'task' && e.attributes.slot === String(slot));
      assert.equal(new Set(mine.map((e) => e.objectId)).size, 1, `slot ${slot}'s events are about one task`);
      assert.ok(mine.every((e) => e.attributes.service === svcId));
      assert.ok(mine.slice(1).every((e) => e.attributes.node === nodeId), `slot ${slot} runs on the one node`);
      // sleep ignores SIGTERM as pid 1: it is killed after the grace period.
      const down = mine.find((e) => e.action === 'shutdown')!;
      assert.deepEqual([down.attributes.state, down.attributes['state.old'], down.attributes.desiredState, down.attributes.exitCode, down.attributes.error], ['shutdown', 'running', 'remove', '137', '']);
      assert.deepEqual(mine.map((e) => e.action).filter((a) => a !== 'starting'), ['create', 'assigned', 'running', 'desired-state', 'shutdown', 'remove']);
      assertStateChain(mine);
    }

    // The local API replays the same bus: every event, same ids, in Docker's shape.
    const all = await busEvents(m1);
    assert.deepEqual(all.map((d) => d.Actor.Attributes['shoal.event.id']), got.map((r) => r.id), '/events and NATS carry the same events');
    const services = dockerEvents((await m1.api('GET', `/v1.41/events?since=0&until=${Math.ceil(Date.now() / 1000) + 1}&filters=${encodeURIComponent(JSON.stringify({ type: ['service'] }))}`)).text);
    const serviceRows = ['create', 'update', 'remove'].map((a) => ['service', a, svcId, 'web', 'swarm']);
    assert.deepEqual(services.map((d) => [d.Type, d.Action, d.Actor.ID, d.Actor.Attributes.name, d.scope]), serviceRows);
    const first = got.find((r) => r.event.type === 'service')!.event;
    assert.deepEqual([services[0].time, services[0].timeNano], [Math.floor(first.time / 1000), Math.floor(first.time) * 1_000_000]);

    // `shoal events` and the docker client print the same, from the same stream.
    const until = String(Math.ceil(Date.now() / 1000) + 1);
    const cli = await shoal(m1, ['events', '--since', '0', '--until', until, '--filter', 'type=service', '--format', 'json']);
    assert.equal(cli.code, 0, cli.stderr);
    assert.deepEqual(dockerEvents(cli.stdout), services, 'shoal events --format json prints the API\'s events');
    const human = await shoal(m1, ['events', '--since', '0', '--until', until, '--filter', 'type=service']);
    assert.deepEqual(human.stdout.trim().split('\n').map((l) => l.split(' ').slice(1, 4)), serviceRows.map((r) => r.slice(0, 3)));
    const docker = new DockerCli(m1.socketPath);
    try {
      const out = await docker.ok('events', '--since', '0', '--until', until, '--filter', 'type=service', '--format', '{{json .}}');
      assert.deepEqual(dockerEvents(out).map((d) => [d.Type, d.Action, d.Actor.ID, d.Actor.Attributes.name, d.scope]), serviceRows, 'docker events shows the service\'s life');
      const tasks = await docker.ok('events', '--since', '0', '--until', until, '--filter', 'type=task', '--filter', 'event=shutdown', '--format', '{{.Actor.Attributes.slot}} {{.Actor.Attributes.exitCode}}');
      assert.deepEqual(tasks.trim().split('\n').sort(), ['1 137', '2 137', '3 137']);
    } finally {
      docker.cleanup();
    }

    // The publisher's counters at /metrics.
    const metrics = await m1.metrics();
    assert.equal(metric(metrics, 'shoal_events_nats_dropped_total'), 0);
    assert.equal(metric(metrics, 'shoal_events_nats_published_total'), got.length);
    assert.equal(metric(metrics, 'shoal_events_nats_pending'), 0);
  });

  it('when the leader shoald is killed during a scale, a consumer de-duplicating by id sees every committed change exactly once, and the leader change', async () => {
    nats = await NatsServer.start();
    consumer = await Consumer.start(nats.url);
    set = new ShoaldSet();
    const ms: Shoald[] = [];
    // Each manager reaches NATS through its own relay, so the test can cut one manager off.
    for (const name of ['m1', 'm2', 'm3']) {
      const relay = await NatsRelay.start(nats.port);
      relays.push(relay);
      ms.push(await set.add(name, ['--events-nats', relay.url]));
    }
    await Promise.all(ms.map(async (m) => { await m.start(); await loadBusybox(m, image!.tarball); }));
    const [m1, m2, m3] = ms;
    await m1.ok('POST', '/v1.41/swarm/init', { ListenAddr: m1.addr, AdvertiseAddr: m1.addr });
    const swarm = (await m1.ok('GET', '/v1.41/swarm')) as { ID: string; JoinTokens: { Manager: string } };
    const cid = swarm.ID;
    for (const m of [m2, m3]) await m.ok('POST', '/v1.41/swarm/join', { RemoteAddrs: [m1.addr], JoinToken: swarm.JoinTokens.Manager, ListenAddr: m.addr, AdvertiseAddr: m.addr });
    const nodes = await waitForNodes(m1, (ns) => ns.length === 3 && ns.every((n) => n.Status.State === 'ready' && n.ManagerStatus?.Reachability === 'reachable'));
    const byAddr = new Map(nodes.map((n) => [n.ManagerStatus!.Addr, n.ID]));
    const oldLeaderId = nodes.find((n) => n.ManagerStatus!.Leader)!.ID;
    assert.equal(oldLeaderId, byAddr.get(m1.addr), 'the first manager leads');

    const { ID: svcId } = (await m1.ok('POST', '/v1.41/services/create', serviceSpec('api', 3))) as { ID: string };
    await waitRunning(m1, svcId, 3);
    await eventuallyAsync(async () => JSON.stringify(consumer!.received.map((r) => r.id)) === JSON.stringify((await busEvents(m1)).map((d) => d.Actor.Attributes['shoal.event.id'])), 'every event so far on NATS');
    const publishedBefore = consumer.received.length;
    // The leader loses NATS (it does not know: its connection stays open), commits the scale and
    // what its orchestrator and scheduler do about it, and dies: those changes reach NATS only
    // if the new leader publishes them.
    relays[0].cut();
    await scale(m1, svcId, 9);
    await eventuallyAsync(async () => (await busEvents(m2, { type: ['task'], event: ['assigned'] })).length >= 9, 'the scale\'s tasks assigned, as a follower applied it', 30_000);
    await m1.stop('SIGKILL');
    assert.equal(consumer.received.length, publishedBefore, 'nothing reached NATS from the cut-off leader');
    const survivors = await waitForNodes(m2, (ns) => ns.some((n) => n.ManagerStatus?.Leader === true && n.ID !== oldLeaderId), 60_000);
    const newLeaderId = survivors.find((n) => n.ManagerStatus!.Leader)!.ID;
    const leader = newLeaderId === byAddr.get(m2.addr) ? m2 : m3;
    await waitRunning(leader, svcId, 9, 120_000);
    await eventually(() => consumer!.received.some((r) => r.event.type === 'cluster' && r.event.action === 'leader-change'), 'the leader change on NATS', 60_000);
    // What the new leader committed, as its own bus (and /events) has it; the managers' status
    // updates go on, so NATS is compared with it up to there.
    const history = (await busEvents(leader)).map((d) => d.Actor.Attributes['shoal.event.id']);
    await eventually(() => consumer!.unique().length >= history.length, `${history.length} distinct events on NATS`, 30_000);
    const unique = consumer.unique().slice(0, history.length);
    assertCommitOrder(consumer.unique());
    console.log(`      ${consumer.received.length} messages, ${unique.length} distinct ids; the new leader's bus holds ${history.length} events from ${history[0]}`);
    assert.deepEqual(unique.map((r) => r.id), history, 'every committed change exactly once, in commit order');
    for (const r of unique) assert.equal(r.subject, `shoal.${cid}.${r.event.type}.${r.event.action}`);
    const changes = unique.filter((r) => r.event.type === 'cluster' && r.event.action === 'leader-change');
    assert.deepEqual(changes.map((r) => [r.event.objectId, r.event.attributes.leader]), [[newLeaderId, newLeaderId]], 'one leader-change event naming the new leader');
    const scaled = unique.filter((r) => r.event.type === 'service' && r.event.action === 'update');
    assert.deepEqual(scaled.map((r) => r.event.attributes.replicas), ['9']);
    assert.ok(compareEvents(scaled[0].event, changes[0].event) < 0, 'the scale was committed under the old leader');
    const assignedAfterCut = unique.filter((r) => r.event.type === 'task' && r.event.action === 'assigned' && compareEvents(r.event, changes[0].event) < 0).length;
    assert.ok(assignedAfterCut >= 9, `${assignedAfterCut} task assignments the old leader committed reached NATS through the new leader`);
    const lines = consumer.received.map((r) => compact(cid, r));
    console.log(`      captured from NATS (cluster ${cid}, old leader ${oldLeaderId}, new leader ${newLeaderId}, service ${svcId}; ${consumer.received.length} messages, ${unique.length} distinct):\n${lines.map((l) => `        ${l}`).join('\n')}`);
  });

  it('while nats-server is down shoald keeps committing, keeps at most --events-nats-buffer events, logs and exports the drops, and publishes again after the restart', async () => {
    nats = await NatsServer.start();
    consumer = await Consumer.start(nats.url);
    // A JetStream stream de-duplicating by Nats-Msg-Id is the outside consumer: it keeps what arrived across the restart.
    const jsm = await consumer.nc.jetstreamManager();
    await jsm.streams.add({ name: 'SHOAL', subjects: ['shoal.>'], duplicate_window: nanos(300_000_000_000) });
    set = new ShoaldSet();
    const bufferMax = 5;
    const m1 = await set.add('m1', ['--events-nats', nats.url, '--events-nats-buffer', String(bufferMax)]);
    await m1.start();
    await loadBusybox(m1, image!.tarball);
    await m1.ok('POST', '/v1.41/swarm/init', { ListenAddr: m1.addr, AdvertiseAddr: m1.addr });
    const { ID: svcId } = (await m1.ok('POST', '/v1.41/services/create', serviceSpec('db', 1))) as { ID: string };
    await waitRunning(m1, svcId, 1);
    const allIds = async (): Promise<string[]> => (await busEvents(m1)).map((d) => d.Actor.Attributes['shoal.event.id']);
    await consumer.quiet();
    const before = await allIds();
    assert.deepEqual(consumer.received.map((r) => r.id), before);
    await eventuallyAsync(async () => metric(await m1.metrics(), 'shoal_events_nats_pending') === 0, 'every event confirmed by NATS');
    const t0 = Date.now();
    await scale(m1, svcId, 2);
    const writeMsUp = Date.now() - t0;
    await waitRunning(m1, svcId, 2);
    const convergeMsUp = Date.now() - t0;

    await nats.stop();
    await eventually(() => m1.logLines().some((l) => /NATS at .* unreachable; buffering up to 5 events/.test(String(l.msg))), 'shoald to notice NATS is gone');
    const committedBefore = (await allIds()).length;
    const t1 = Date.now();
    await scale(m1, svcId, 8);
    const writeMsDown = Date.now() - t1;
    await waitRunning(m1, svcId, 8);
    const convergeMsDown = Date.now() - t1;
    // Not an assertion on speed: the figures, for the record (the control plane never waits on NATS).
    console.log(JSON.stringify({ bench: 'shoald-events-nats-down', scaleWriteMsNatsUp: writeMsUp, scaleWriteMsNatsDown: writeMsDown, convergeMsNatsUp1: convergeMsUp, convergeMsNatsDown6: convergeMsDown }));
    const during = (await allIds()).slice(committedBefore);
    const atRestart = await allIds();
    let scrape = await m1.metrics();
    // Every event of the outage beyond the buffer is dropped, and counted (also one committed just
    // before shoald noticed the outage, which it could no longer send).
    const droppedCount = metric(scrape, 'shoal_events_nats_dropped_total')!;
    assert.ok(droppedCount >= during.length - bufferMax && droppedCount <= atRestart.length - bufferMax - before.length, `${droppedCount} dropped of ${during.length} during the outage`);
    assert.equal(metric(scrape, 'shoal_events_nats_pending'), bufferMax);
    assert.ok(m1.logLines().some((l) => /NATS buffer full \(5\); dropping the oldest unpublished events/.test(String(l.msg))), 'the drop is logged');

    await nats.restart();
    await eventuallyAsync(async () => metric(await m1.metrics(), 'shoal_events_nats_pending') === 0, 'the buffer published after NATS came back', 30_000);
    // One task less: a change at a time, well within the small buffer while NATS answers.
    await scale(m1, svcId, 7);
    await eventually(() => consumer!.received.some((r) => r.event.type === 'task' && r.event.action === 'shutdown'), 'events after the restart on NATS', 60_000);
    await consumer.quiet();
    await eventuallyAsync(async () => metric(await m1.metrics(), 'shoal_events_nats_pending') === 0, 'every event confirmed by NATS');
    scrape = await m1.metrics();
    assert.equal(metric(scrape, 'shoal_events_nats_dropped_total'), droppedCount, 'no drop once NATS is back');
    assert.ok(m1.logLines().some((l) => new RegExp(`${droppedCount} events were dropped while NATS was unreachable`).test(String(l.msg))), 'the count is logged once publishing resumes');

    // The dropped are the oldest unpublished: the ones just before the newest bufferMax at the restart.
    const dropped = new Set(atRestart.slice(atRestart.length - bufferMax - droppedCount, atRestart.length - bufferMax));
    const expected = (await allIds()).filter((id) => !dropped.has(id));
    const stored = await streamMsgIds(jsm, 'SHOAL');
    assert.deepEqual(stored, expected, 'NATS holds every committed event but the counted drops (the oldest of the outage), once each, in order');
  });

  it('a restarted shoald publishes only what NATS has not had: the Raft log its store replays is not sent again', async () => {
    nats = await NatsServer.start();
    consumer = await Consumer.start(nats.url);
    set = new ShoaldSet();
    const m1 = await set.add('m1', ['--events-nats', nats.url]);
    await m1.start();
    await loadBusybox(m1, image!.tarball);
    await m1.ok('POST', '/v1.41/swarm/init', { ListenAddr: m1.addr, AdvertiseAddr: m1.addr });
    const { ID: svcId } = (await m1.ok('POST', '/v1.41/services/create', serviceSpec('db', 2))) as { ID: string };
    await waitRunning(m1, svcId, 2);
    await consumer.quiet();
    const before = consumer.received.length;
    assert.ok(before >= 10);
    await m1.stop('SIGTERM');
    await m1.start();
    await waitRunning(m1, svcId, 2);
    await scale(m1, svcId, 3);
    await waitRunning(m1, svcId, 3);
    await consumer.quiet();
    const after = consumer.received.slice(before);
    assert.ok(after.some((r) => r.event.type === 'service' && r.event.action === 'update'), 'the scale after the restart reached NATS');
    assert.deepEqual(consumer.unique().map((r) => r.id), consumer.received.map((r) => r.id), `no event published twice: ${after.map((r) => r.id).join(' ')}`);
    assertCommitOrder(consumer.received);
    assert.deepEqual(consumer.received.map((r) => r.id), (await busEvents(m1)).map((d) => d.Actor.Attributes['shoal.event.id']), 'the replayed log and the new events, each on NATS once');
    assert.ok(m1.logLines().some((l) => /NATS has the events up to \d+\.\d+ already/.test(String(l.msg))));
  });
});
