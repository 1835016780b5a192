/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-return -- the tests walk Docker JSON field by field */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { request as httpRequest, type Server } from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { createApiServer, listenUnix } from '../../src/api/server';
import { TaskState } from '../../src/types/objects';
import { call, demux, type ApiResponse } from './http-client';
import { SimApiBackend } from './sim-backend';

type J = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function q(filters: Record<string, string[]>): string {
  return encodeURIComponent(JSON.stringify(filters));
}

describe('local API (Docker Engine API v1.41) over a simulated control plane', function () {
  this.timeout(60_000);
  let b: SimApiBackend;
  let server: Server;
  let dir: string;
  let sock: string;
  let selfId: string;
  const api = (method: string, p: string, body?: unknown): Promise<ApiResponse> => call(sock, method, p, body);
  const json = (r: ApiResponse): J => r.json as J;

  /** Polls until cond holds (the simulated clock runs meanwhile). */
  async function until(cond: () => Promise<boolean>, what: string, maxMs = 20_000): Promise<void> {
    const end = Date.now() + maxMs;
    while (!(await cond())) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async function runningTasks(service: string): Promise<J[]> {
    const r = await api('GET', `/v1.41/tasks?filters=${q({ service: [service], 'desired-state': ['running'] })}`);
    assert.equal(r.status, 200, r.text);
    return (r.json as J[]).filter((t) => t.Status.State === 'running');
  }

  before(async () => {
    b = await SimApiBackend.create(11);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-api-'));
    sock = path.join(dir, 'run', 'shoal.sock');
    server = createApiServer(b, { engineVersion: '0.1.0-test' });
    await listenUnix(server, sock);
  });

  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    b.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('listens on a 0660 socket in a directory it created, and refuses to start a second server there', async () => {
    assert.equal(fs.statSync(sock).mode & 0o777, 0o660);
    assert.equal(fs.statSync(path.dirname(sock)).mode & 0o777, 0o755);
    const second = createApiServer(b);
    await assert.rejects(listenUnix(second, sock), /another server is listening/);
    assert.equal((await api('GET', '/_ping')).status, 200);
  });

  it('replaces a stale socket nobody answers on', async () => {
    const stale = path.join(dir, 'stale.sock');
    // A crashed daemon leaves its socket behind: a process that listens and is killed.
    const r = spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(stale)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    assert.equal(r.signal, 'SIGKILL');
    assert.ok(fs.lstatSync(stale).isSocket());
    const second = createApiServer(b);
    await listenUnix(second, stale);
    assert.equal((await call(stale, 'GET', '/_ping')).text, 'OK');
    await new Promise<void>((resolve) => second.close(() => resolve()));
    fs.writeFileSync(stale, 'not a socket');
    await assert.rejects(listenUnix(createApiServer(b), stale), /exists and is not a socket/);
  });

  it('accepts at most connectionsMax connections at once (streams included)', async () => {
    const small = createApiServer(b, { connectionsMax: 2 });
    const p = path.join(dir, 'small.sock');
    await listenUnix(small, p);
    const streams = [new AbortController(), new AbortController()];
    try {
      await Promise.all(streams.map((ac) => new Promise<void>((resolve, reject) => {
        const req = httpRequest({ socketPath: p, path: '/v1.41/events', signal: ac.signal }, () => resolve());
        req.on('error', (err) => (ac.signal.aborted ? undefined : reject(err)));
        req.end();
      })));
      await assert.rejects(call(p, 'GET', '/_ping'), /socket hang up|ECONNRESET|EPIPE/);
    } finally {
      for (const ac of streams) ac.abort();
      await new Promise<void>((resolve) => small.close(() => resolve()));
    }
  });

  it('answers /_ping (GET and HEAD) with OK and the version headers Docker clients negotiate with', async () => {
    for (const method of ['GET', 'HEAD']) {
      const r = await api(method, '/_ping');
      assert.equal(r.status, 200);
      assert.equal(r.text, method === 'GET' ? 'OK' : '');
      assert.equal(r.headers['api-version'], '1.41');
      assert.equal(r.headers.ostype, 'linux');
      assert.equal(r.headers['docker-experimental'], 'false');
      assert.equal(r.headers.swarm, 'inactive');
    }
  });

  it('accepts the /v1.XX/ prefix between 1.24 and 1.41 and refuses others with Docker\'s message', async () => {
    assert.equal((await api('GET', '/v1.24/version')).status, 200);
    const v = json(await api('GET', '/v1.41/version'));
    assert.equal(v.ApiVersion, '1.41');
    assert.equal(v.MinAPIVersion, '1.24');
    assert.equal(v.Components[0].Name, 'Engine');
    const tooNew = await api('GET', '/v1.50/info');
    assert.equal(tooNew.status, 400);
    assert.deepEqual(tooNew.json, { message: 'client version 1.50 is too new. Maximum supported API version is 1.41' });
    const tooOld = await api('GET', '/v1.12/info');
    assert.equal(tooOld.status, 400);
    assert.match(json(tooOld).message, /^client version 1.12 is too old\. Minimum supported API version is 1.24/);
    const unknown = await api('GET', '/v1.41/nothing-here');
    assert.equal(unknown.status, 404);
    assert.equal(typeof json(unknown).message, 'string');
  });

  it('answers 503 "not part of a swarm" before swarm init, and /info says inactive', async () => {
    for (const p of ['/swarm', '/nodes', '/services', '/tasks']) {
      const r = await api('GET', `/v1.41${p}`);
      assert.equal(r.status, 503, p);
      assert.equal(json(r).message, 'This node is not part of a swarm');
    }
    const info = json(await api('GET', '/v1.41/info'));
    assert.equal(info.Swarm.LocalNodeState, 'inactive');
    assert.equal(info.Swarm.ControlAvailable, false);
    assert.equal(info.Swarm.Cluster, undefined);
  });

  it('refuses a swarm init body of the wrong shape naming the field, and leaves the node outside the swarm', async () => {
    const r = await api('POST', '/v1.41/swarm/init', { ListenAddr: 2377 });
    assert.equal(r.status, 400);
    assert.equal(json(r).message, 'ListenAddr: expected string, got 2377');
    const bad = await api('POST', '/v1.41/swarm/init', { Spec: { Dispatcher: { HeartbeatPeriod: 'soon' } } });
    assert.equal(json(bad).message, 'Spec.Dispatcher.HeartbeatPeriod: expected integer, got "soon"');
    assert.equal(b.swarmState().state, 'inactive');
  });

  it('swarm init returns the node id as a JSON string; /info then shows the Swarm section', async () => {
    const r = await api('POST', '/v1.41/swarm/init', { ListenAddr: '0.0.0.0:2377', AdvertiseAddr: '', ForceNewCluster: false, Spec: { Orchestration: { TaskHistoryRetentionLimit: 3 } } });
    assert.equal(r.status, 200, r.text);
    selfId = r.json as string;
    assert.equal(b.lastInit?.listenAddr, '', "the docker CLI's default listen address leaves shoald's --listen-addr in charge");
    assert.match(selfId, /^[0-9a-z]{25}$/);
    const info = json(await api('GET', '/v1.41/info'));
    assert.equal(info.Swarm.NodeID, selfId);
    assert.equal(info.Swarm.LocalNodeState, 'active');
    assert.equal(info.Swarm.ControlAvailable, true);
    assert.equal(info.Swarm.Nodes, 1);
    assert.equal(info.Swarm.Managers, 1);
    assert.deepEqual(info.Swarm.RemoteManagers, [{ NodeID: selfId, Addr: '10.0.0.1:2377' }]);
    assert.equal(info.Swarm.Cluster.ID, b.h.store().view.cluster()!.id);
    assert.equal(info.Swarm.Cluster.Spec.Orchestration.TaskHistoryRetentionLimit, 3);
    assert.equal(info.Swarm.Cluster.Spec.Dispatcher.HeartbeatPeriod, 5e9);
    assert.equal((await api('HEAD', '/_ping')).headers.swarm, 'active/manager');
    const again = await api('POST', '/v1.41/swarm/init', {});
    assert.equal(again.status, 503);
    assert.match(json(again).message, /already part of a swarm/);
  });

  it('GET /swarm shows the join tokens; update rotates a token at the version read and refuses a stale version', async () => {
    const s = json(await api('GET', '/v1.41/swarm'));
    assert.equal(s.ID, b.h.store().view.cluster()!.id);
    assert.equal(typeof s.JoinTokens.Worker, 'string');
    assert.equal(s.Spec.CAConfig.NodeCertExpiry, 90 * 24 * 3600 * 1e9);
    const r = await api('POST', `/v1.41/swarm/update?version=${s.Version.Index}&rotateWorkerToken=true`, s.Spec);
    assert.equal(r.status, 200, r.text);
    const s2 = json(await api('GET', '/v1.41/swarm'));
    assert.notEqual(s2.JoinTokens.Worker, s.JoinTokens.Worker);
    assert.equal(s2.JoinTokens.Manager, s.JoinTokens.Manager);
    const stale = await api('POST', `/v1.41/swarm/update?version=${s.Version.Index}&rotateManagerToken=true`, s.Spec);
    assert.equal(stale.status, 409, stale.text);
    assert.equal(json(await api('GET', '/v1.41/swarm')).JoinTokens.Manager, s.JoinTokens.Manager);
    assert.equal((await api('POST', '/v1.41/swarm/update', s.Spec)).status, 400);
    const limit = await api('POST', `/v1.41/swarm/update?version=${s2.Version.Index}`, { ...s2.Spec, Orchestration: { TaskHistoryRetentionLimit: 7 } });
    assert.equal(limit.status, 200, limit.text);
    assert.equal(json(await api('GET', '/v1.41/swarm')).Spec.Orchestration.TaskHistoryRetentionLimit, 7);
    assert.deepEqual(json(await api('GET', '/v1.41/swarm/unlockkey')), { UnlockKey: '' });
  });

  it('lists nodes with Docker\'s filters and inspects one by id, hostname or id prefix', async () => {
    await b.h.addNode({ hostname: 'worker-a', labels: { zone: 'a' } });
    await b.h.addNode({ hostname: 'worker-b', labels: { zone: 'b' } });
    const all = json(await api('GET', '/v1.41/nodes')) as unknown as J[];
    assert.equal(all.length, 3);
    const self = all.find((n) => n.ID === selfId)!;
    assert.deepEqual(self.Spec, { Name: 'sim-manager', Labels: {}, Role: 'manager', Availability: 'active' });
    assert.equal(self.Status.State, 'ready');
    assert.deepEqual(self.ManagerStatus, { Leader: true, Reachability: 'reachable', Addr: '10.0.0.1:2377' });
    assert.equal(self.Description.Platform.OS, 'linux');
    assert.equal(self.Description.Engine.EngineVersion, '0.1.0-test');
    const names = async (f: Record<string, string[]>): Promise<string[]> => (json(await api('GET', `/v1.41/nodes?filters=${q(f)}`)) as unknown as J[]).map((n) => n.Description.Hostname).sort();
    assert.deepEqual(await names({ role: ['worker'] }), ['worker-a', 'worker-b']);
    assert.deepEqual(await names({ role: ['manager'] }), ['sim-manager']);
    assert.deepEqual(await names({ name: ['worker-a'] }), ['worker-a']);
    assert.deepEqual(await names({ 'node.label': ['zone=b'] }), ['worker-b']);
    assert.deepEqual(await names({ id: [selfId.slice(0, 6)] }), ['sim-manager']);
    assert.deepEqual(await names({ membership: ['accepted'] }), ['sim-manager', 'worker-a', 'worker-b']);
    // The legacy map form of filters, as older clients send it.
    const legacy = json(await api('GET', `/v1.41/nodes?filters=${encodeURIComponent(JSON.stringify({ role: { worker: true } }))}`)) as unknown as J[];
    assert.equal(legacy.length, 2);
    const bad = await api('GET', `/v1.41/nodes?filters=${q({ colour: ['red'] })}`);
    assert.equal(bad.status, 400);
    assert.equal(json(bad).message, "invalid filter 'colour'");
    assert.equal(json(await api('GET', '/v1.41/nodes/worker-a')).Description.Hostname, 'worker-a');
    assert.equal(json(await api('GET', `/v1.41/nodes/${selfId.slice(0, 8)}`)).ID, selfId);
    const missing = await api('GET', '/v1.41/nodes/nosuchnode');
    assert.equal(missing.status, 404);
    assert.match(json(missing).message, /node nosuchnode not found/);
  });

  it('updates a node at the version read; a stale version is 409 and a bad body 400, both changing nothing', async () => {
    const n = json(await api('GET', '/v1.41/nodes/worker-a'));
    const ok = await api('POST', `/v1.41/nodes/${n.ID}/update?version=${n.Version.Index}`, { ...n.Spec, Availability: 'drain', Labels: { zone: 'a', disk: 'ssd' } });
    assert.equal(ok.status, 200, ok.text);
    const n2 = json(await api('GET', `/v1.41/nodes/${n.ID}`));
    assert.equal(n2.Spec.Availability, 'drain');
    assert.deepEqual(n2.Spec.Labels, { zone: 'a', disk: 'ssd' });
    const stale = await api('POST', `/v1.41/nodes/${n.ID}/update?version=${n.Version.Index}`, { ...n.Spec, Availability: 'pause' });
    assert.equal(stale.status, 409);
    const bad = await api('POST', `/v1.41/nodes/${n.ID}/update?version=${n2.Version.Index}`, { ...n2.Spec, Availability: 'sleepy' });
    assert.equal(bad.status, 400);
    assert.match(json(bad).message, /^Spec\.Availability: expected one of "active", "pause", "drain", got "sleepy"$/);
    const badType = await api('POST', `/v1.41/nodes/${n.ID}/update?version=${n2.Version.Index}`, { ...n2.Spec, Labels: { zone: 1 } });
    assert.equal(json(badType).message, 'Spec.Labels.zone: expected string, got 1');
    const n3 = json(await api('GET', `/v1.41/nodes/${n.ID}`));
    assert.equal(n3.Version.Index, n2.Version.Index);
    assert.equal(n3.Spec.Availability, 'drain');
    const back = await api('POST', `/v1.41/nodes/${n.ID}/update?version=${n3.Version.Index}`, { ...n3.Spec, Availability: 'active' });
    assert.equal(back.status, 200);
    // A node that is up cannot be removed without force (Docker's rule), and the last manager not even with it.
    const rm = await api('DELETE', `/v1.41/nodes/${n.ID}`);
    assert.equal(rm.status, 400);
    assert.match(json(rm).message, /is not down/);
    assert.equal((await api('DELETE', `/v1.41/nodes/${selfId}?force=1`)).status, 400);
  });

  const spec = {
    Name: 'web',
    Labels: { tier: 'front' },
    TaskTemplate: {
      ContainerSpec: { Image: 'busybox:latest', Args: ['sleep', '1000'], Env: ['A=1'], Dir: '/tmp', User: 'nobody', Hostname: 'web', StopGracePeriod: 3e9, Mounts: [{ Type: 'tmpfs', Target: '/scratch' }] },
      Resources: { Limits: { NanoCPUs: 5e8, MemoryBytes: 64 * 2 ** 20 }, Reservations: { MemoryBytes: 2 ** 20 } },
      RestartPolicy: { Condition: 'on-failure', Delay: 2e9, MaxAttempts: 3, Window: 6e10 },
      Placement: { Constraints: ['node.role==worker'], Preferences: [{ Spread: { SpreadDescriptor: 'node.labels.zone' } }], MaxReplicas: 3 },
      ForceUpdate: 0,
    },
    Mode: { Replicated: { Replicas: 3 } },
    UpdateConfig: { Parallelism: 2, Delay: 1e9, FailureAction: 'rollback', Monitor: 2e9, MaxFailureRatio: 0.5, Order: 'start-first' },
    RollbackConfig: { Parallelism: 1, Delay: 0, FailureAction: 'pause', Monitor: 5e9, MaxFailureRatio: 0, Order: 'stop-first' },
    EndpointSpec: { Mode: 'vip', Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }] },
  };
  let webId: string;

  it('creates a service (201 {ID}) whose inspect gives back the Docker spec it was created with', async () => {
    const r = await api('POST', '/v1.41/services/create', spec);
    assert.equal(r.status, 201, r.text);
    webId = json(r).ID as string;
    const s = json(await api('GET', `/v1.41/services/${webId}`));
    assert.equal(s.ID, webId);
    assert.equal(typeof s.Version.Index, 'number');
    assert.match(s.CreatedAt, /^\d{4}-\d\d-\d\dT/);
    assert.equal(s.Spec.Name, 'web');
    assert.deepEqual(s.Spec.Labels, spec.Labels);
    assert.deepEqual(s.Spec.Mode, spec.Mode);
    assert.deepEqual(s.Spec.UpdateConfig, spec.UpdateConfig);
    assert.deepEqual(s.Spec.RollbackConfig, spec.RollbackConfig);
    assert.deepEqual(s.Spec.EndpointSpec, spec.EndpointSpec);
    const t = s.Spec.TaskTemplate;
    assert.deepEqual(t.RestartPolicy, spec.TaskTemplate.RestartPolicy);
    assert.deepEqual(t.Placement, spec.TaskTemplate.Placement);
    assert.deepEqual(t.Resources, spec.TaskTemplate.Resources);
    const c = t.ContainerSpec;
    assert.deepEqual({ Image: c.Image, Args: c.Args, Env: c.Env, Dir: c.Dir, User: c.User, Hostname: c.Hostname, StopGracePeriod: c.StopGracePeriod },
      { Image: 'busybox:latest', Args: ['sleep', '1000'], Env: ['A=1'], Dir: '/tmp', User: 'nobody', Hostname: 'web', StopGracePeriod: 3e9 });
    assert.deepEqual(c.Mounts, [{ Type: 'tmpfs', Source: '', Target: '/scratch', ReadOnly: false }]);
    assert.equal(s.PreviousSpec, undefined);
    assert.equal((await api('GET', '/v1.41/services/web')).status, 200);
    assert.equal(json(await api('GET', `/v1.41/services/${webId.slice(0, 5)}?insertDefaults=true`)).ID, webId);
  });

  it('refuses bad service specs with 400 naming the Docker field, and stores nothing', async () => {
    const before = (json(await api('GET', '/v1.41/services')) as unknown as J[]).length;
    const cases: [unknown, RegExp][] = [
      [{ ...spec, Name: 'other', Mode: { Replicated: { Replicas: 'x' } } }, /^Spec\.Mode\.Replicated\.Replicas: expected integer, got "x"$/],
      [{ ...spec, Name: 'other', TaskTemplate: { ContainerSpec: { Image: 'b', Env: 'A=1' } } }, /^Spec\.TaskTemplate\.ContainerSpec\.Env: expected list of strings, got "A=1"$/],
      [{ ...spec, Name: 'other', UpdateConfig: { Delay: '1s' } }, /^Spec\.UpdateConfig\.Delay: expected integer, got "1s"$/],
      [{ ...spec, Name: 'other', TaskTemplate: { ContainerSpec: { Image: '' } } }, /^Spec\.TaskTemplate\.ContainerSpec\.Image must not be empty/],
      [{ ...spec, Name: 'other', TaskTemplate: { ...spec.TaskTemplate, Placement: { Constraints: ['node.colour==red'] } } }, /^Spec\.TaskTemplate\.Placement\.Constraints\[0\] .*unknown key node\.colour/],
      [{ ...spec, Name: 'other', Mode: { ReplicatedJob: {} } }, /^Spec\.Mode\.ReplicatedJob: job services are not supported$/],
      [{ ...spec, Name: 'bad name' }, /^Spec\.Name must be/],
      ['not json {', /^invalid JSON in request body/],
      [[1, 2], /^Spec: expected object/],
    ];
    for (const [body, re] of cases) {
      const r = await api('POST', '/v1.41/services/create', typeof body === 'string' ? body : body);
      assert.equal(r.status, 400, `${JSON.stringify(body)} -> ${r.text}`);
      assert.match(json(r).message, re);
    }
    const form = await call(sock, 'POST', '/v1.41/services/create', JSON.stringify(spec), { 'Content-Type': 'text/plain' });
    assert.equal(form.status, 400);
    assert.equal(json(form).message, "unsupported Content-Type header (text/plain): must be 'application/json'");
    const dup = await api('POST', '/v1.41/services/create', spec);
    assert.equal(dup.status, 409, dup.text);
    assert.equal((json(await api('GET', '/v1.41/services')) as unknown as J[]).length, before);
  });

  it('runs the tasks the control plane creates, as Docker Task objects with lower-case states', async () => {
    await until(async () => (await runningTasks('web')).length === 3, '3 running tasks of web');
    const tasks = await runningTasks(webId);
    const t = tasks[0];
    assert.equal(t.ServiceID, webId);
    assert.equal(t.DesiredState, 'running');
    assert.ok([1, 2, 3].includes(t.Slot as number));
    assert.ok(['worker-a', 'worker-b'].includes(json(await api('GET', `/v1.41/nodes/${t.NodeID}`)).Description.Hostname), 'placed on a worker (constraint node.role==worker)');
    assert.equal(t.Spec.ContainerSpec.Image, 'busybox:latest');
    assert.match(t.Status.Timestamp, /^\d{4}-/);
    assert.equal(json(await api('GET', `/v1.41/tasks/${t.ID}`)).ID, t.ID);
    assert.equal((await api('GET', '/v1.41/tasks/nosuchtask')).status, 404);
    // Filters: by node, by id prefix, by name, by desired state, up-to-date.
    const onNode = json(await api('GET', `/v1.41/tasks?filters=${q({ node: [t.NodeID as string] })}`)) as unknown as J[];
    assert.ok(onNode.length >= 1 && onNode.every((x) => x.NodeID === t.NodeID));
    assert.deepEqual((json(await api('GET', `/v1.41/tasks?filters=${q({ id: [(t.ID as string).slice(0, 10)] })}`)) as unknown as J[]).map((x) => x.ID), [t.ID]);
    assert.deepEqual((json(await api('GET', `/v1.41/tasks?filters=${q({ name: [`web.${t.Slot}`] })}`)) as unknown as J[]).map((x) => x.ID), [t.ID]);
    assert.equal((json(await api('GET', `/v1.41/tasks?filters=${q({ service: ['web'], 'desired-state': ['shutdown'] })}`)) as unknown as J[]).length, 0);
    assert.equal((json(await api('GET', `/v1.41/tasks?filters=${q({ service: ['web'], _up_to_date: ['true'] })}`))).message, "invalid filter '_up_to_date'");
    assert.equal((json(await api('GET', `/v1.41/tasks?filters=${q({ service: ['web'], '_up-to-date': ['true'] })}`)) as unknown as J[]).length, 3);
    const badState = await api('GET', `/v1.41/tasks?filters=${q({ 'desired-state': ['sleeping'] })}`);
    assert.equal(badState.status, 400);
    assert.equal(json(badState).message, "Invalid desired-state filter: 'sleeping'");
    assert.equal((await api('GET', `/v1.41/tasks?filters=${q({ service: ['nosuch'] })}`)).status, 404);
  });

  it('lists services with filters and, with status=true, the running and desired task counts', async () => {
    const r2 = await api('POST', '/v1.41/services/create', { Name: 'cron', Labels: { tier: 'back' }, TaskTemplate: { ContainerSpec: { Image: 'busybox' } }, Mode: { Global: {} } });
    assert.equal(r2.status, 201, r2.text);
    const names = async (f: Record<string, string[]>): Promise<string[]> => (json(await api('GET', `/v1.41/services?filters=${q(f)}`)) as unknown as J[]).map((s) => s.Spec.Name).sort();
    assert.deepEqual(await names({}), ['cron', 'web']);
    assert.deepEqual(await names({ name: ['web'] }), ['web']);
    assert.deepEqual(await names({ mode: ['global'] }), ['cron']);
    assert.deepEqual(await names({ label: ['tier=front'] }), ['web']);
    assert.deepEqual(await names({ label: ['tier'] }), ['cron', 'web']);
    assert.deepEqual(await names({ id: [webId.slice(0, 4)] }), ['web']);
    assert.equal((await api('GET', `/v1.41/services?filters=${q({ mode: ['batch'] })}`)).status, 400);
    const withStatus = json(await api('GET', `/v1.41/services?status=true&filters=${q({ name: ['web'] })}`)) as unknown as J[];
    assert.deepEqual(withStatus[0].ServiceStatus, { RunningTasks: 3, DesiredTasks: 3, CompletedTasks: 0 });
    assert.deepEqual(json(await api('GET', '/v1.41/services/cron')).Spec.Mode, { Global: {} });
    assert.equal((await api('DELETE', '/v1.41/services/cron')).status, 200);
  });

  it('updates a service at the version read (scale, image), refuses a stale version with 409 and changes nothing', async () => {
    const s = json(await api('GET', `/v1.41/services/${webId}`));
    const scaled = await api('POST', `/v1.41/services/${webId}/update?version=${s.Version.Index}&registryAuthFrom=spec`, { ...s.Spec, Mode: { Replicated: { Replicas: 4 } } });
    assert.equal(scaled.status, 200, scaled.text);
    assert.deepEqual(scaled.json, { Warnings: null });
    const stale = await api('POST', `/v1.41/services/${webId}/update?version=${s.Version.Index}`, { ...s.Spec, Mode: { Replicated: { Replicas: 9 } } });
    assert.equal(stale.status, 409, stale.text);
    assert.match(json(stale).message, /version/);
    const bad = await api('POST', `/v1.41/services/${webId}/update?version=${s.Version.Index + 100}`, { ...s.Spec, UpdateConfig: { Parallelism: -1 } });
    assert.equal(bad.status, 400);
    assert.equal(json(bad).message, 'Spec.UpdateConfig.Parallelism: expected integer >= 0, got -1');
    assert.equal((await api('POST', `/v1.41/services/${webId}/update`, s.Spec)).status, 400);
    const s2 = json(await api('GET', `/v1.41/services/${webId}`));
    assert.deepEqual(s2.Spec.Mode, { Replicated: { Replicas: 4 } });
    // As Docker: a scale keeps the spec it replaced (it can be rolled back) but starts no rolling update.
    assert.deepEqual(s2.PreviousSpec.Mode, { Replicated: { Replicas: 3 } });
    assert.equal(s2.UpdateStatus, undefined, 'scaling is not a rolling update');
    await until(async () => (await runningTasks(webId)).length === 4, '4 running tasks');
    const img = await api('POST', `/v1.41/services/${webId}/update?version=${s2.Version.Index}`, { ...s2.Spec, TaskTemplate: { ...s2.Spec.TaskTemplate, ContainerSpec: { ...s2.Spec.TaskTemplate.ContainerSpec, Image: 'busybox:v2' } } });
    assert.equal(img.status, 200, img.text);
    const s3 = json(await api('GET', `/v1.41/services/${webId}`));
    assert.equal(s3.Spec.TaskTemplate.ContainerSpec.Image, 'busybox:v2');
    assert.equal(s3.PreviousSpec.TaskTemplate.ContainerSpec.Image, 'busybox:latest');
    assert.ok(['updating', 'completed'].includes(s3.UpdateStatus.State as string));
    await until(async () => json(await api('GET', `/v1.41/services/${webId}`)).UpdateStatus.State === 'completed', 'the update to complete');
    const upToDate = json(await api('GET', `/v1.41/tasks?filters=${q({ service: [webId], '_up-to-date': ['true'], 'desired-state': ['running'] })}`)) as unknown as J[];
    assert.equal(upToDate.length, 4);
    assert.ok(upToDate.every((t) => t.Spec.ContainerSpec.Image === 'busybox:v2'));
  });

  it('rolls a service back with rollback=previous', async () => {
    const s = json(await api('GET', `/v1.41/services/${webId}`));
    const r = await api('POST', `/v1.41/services/${webId}/update?version=${s.Version.Index}&rollback=previous`, s.Spec);
    assert.equal(r.status, 200, r.text);
    const s2 = json(await api('GET', `/v1.41/services/${webId}`));
    assert.equal(s2.Spec.TaskTemplate.ContainerSpec.Image, 'busybox:latest');
    assert.ok(['rollback_started', 'rollback_completed'].includes(s2.UpdateStatus.State as string));
    assert.ok(['manually requested rollback', 'rollback completed'].includes(s2.UpdateStatus.Message as string));
    await until(async () => json(await api('GET', `/v1.41/services/${webId}`)).UpdateStatus.State === 'rollback_completed', 'the rollback to complete');
    assert.equal((await api('POST', `/v1.41/services/${webId}/update?version=${s2.Version.Index}&rollback=later`, s.Spec)).status, 400);
  });

  it('keeps TaskTemplate.ForceUpdate (--force) without a warning; warns of what it ignores', async () => {
    const s = json(await api('GET', `/v1.41/services/${webId}`));
    const force = (s.Spec.TaskTemplate.ForceUpdate as number) + 1;
    const r = await api('POST', `/v1.41/services/${webId}/update?version=${s.Version.Index}`, { ...s.Spec, TaskTemplate: { ...s.Spec.TaskTemplate, ForceUpdate: force } });
    assert.equal(r.status, 200, r.text);
    assert.equal(json(r).Warnings, null);
    assert.equal(json(await api('GET', `/v1.41/services/${webId}`)).Spec.TaskTemplate.ForceUpdate, force);
    const s2 = json(await api('GET', `/v1.41/services/${webId}`));
    const labels = await api('POST', `/v1.41/services/${webId}/update?version=${s2.Version.Index}`, { ...s2.Spec, Networks: [{ Target: 'net' }], TaskTemplate: { ...s2.Spec.TaskTemplate, ContainerSpec: { ...s2.Spec.TaskTemplate.ContainerSpec, Labels: { a: 'b' } } } });
    assert.deepEqual(json(labels).Warnings, ['TaskTemplate.ContainerSpec.Labels is not supported by shoal and was ignored', 'Networks is not supported by shoal and was ignored']);
  });

  it('streams service logs in Docker\'s multiplexed format with details and timestamps', async () => {
    const r = await api('GET', `/v1.41/services/${webId}/logs?stdout=1&stderr=1&details=1&timestamps=1`);
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/vnd.docker.raw-stream');
    const frames = demux(r.body);
    const running = await runningTasks(webId);
    assert.ok(frames.length >= running.length * 2);
    for (const f of frames) {
      const m = /^(\S+Z) com\.docker\.swarm\.node\.id=(\w+),com\.docker\.swarm\.service\.id=(\w+),com\.docker\.swarm\.task\.id=(\w+) line (\d) of slot (\d)\n$/.exec(f.text);
      assert.ok(m !== null, JSON.stringify(f.text));
      assert.equal(m[3], webId);
      assert.equal(f.stream, m[5] === '0' ? 1 : 2);
    }
    const onlyOut = demux((await api('GET', `/v1.41/services/web/logs?stdout=1&tail=2`)).body);
    assert.ok(onlyOut.length <= 2 && onlyOut.every((f) => f.stream === 1 && /^line \d of slot \d\n$/.test(f.text)));
    const none = await api('GET', `/v1.41/services/web/logs`);
    assert.equal(none.status, 400);
    assert.equal(json(none).message, 'Bad parameters: you must choose at least one stream');
    assert.equal((await api('GET', '/v1.41/services/nosuch/logs?stdout=1')).status, 404);
  });

  it('streams the cluster\'s events as Docker events, with since, until and filters', async () => {
    const until = Math.floor(b.h.clock.now() / 1000);
    const r = await api('GET', `/v1.41/events?since=0&until=${until}&filters=${q({ type: ['service'] })}`);
    assert.equal(r.status, 200);
    const events = r.text.trim().split('\n').map((l) => JSON.parse(l) as J);
    assert.ok(events.length >= 4);
    for (const e of events) {
      assert.equal(e.Type, 'service');
      assert.equal(e.scope, 'swarm');
      assert.equal(typeof e.Actor.ID, 'string');
      assert.equal(e.timeNano, e.time * 1e9 + (e.timeNano % 1e9));
    }
    const web = events.filter((e) => e.Actor.ID === webId).map((e) => e.Action);
    assert.equal(web[0], 'create');
    assert.ok(web.includes('update') && web.includes('update-started') && web.includes('rollback-started'));
    assert.ok(events.some((e) => e.Actor.Attributes.name === 'cron' && e.Action === 'remove'));
    const creates = await api('GET', `/v1.41/events?since=0&until=${until}&filters=${q({ type: ['service'], event: ['create'] })}`);
    assert.deepEqual(creates.text.trim().split('\n').map((l) => (JSON.parse(l) as J).Actor.Attributes.name).sort(), ['cron', 'web']);
    const local = await api('GET', `/v1.41/events?since=0&until=${until}&filters=${q({ type: ['container'] })}`);
    assert.equal(local.status, 200);
    assert.equal(local.text, '');
    assert.equal((await api('GET', `/v1.41/events?filters=${q({ flavour: ['x'] })}`)).status, 400);
    assert.equal((await api('GET', '/v1.41/events?since=yesterday')).status, 400);
  });

  it('streams new events to a follower of /events until it disconnects', async () => {
    const got: J[] = [];
    const ac = new AbortController();
    const done = new Promise<void>((resolve, reject) => {
      const req = httpRequest({ socketPath: sock, path: `/v1.41/events?filters=${q({ type: ['service'] })}`, signal: ac.signal }, (res) => {
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          buf += d;
          for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) { got.push(JSON.parse(buf.slice(0, i)) as J); buf = buf.slice(i + 1); }
        });
        res.on('error', () => resolve());
        res.on('close', () => resolve());
      });
      req.on('error', (err) => (ac.signal.aborted ? resolve() : reject(err)));
      req.end();
    });
    await new Promise((r) => setTimeout(r, 100));
    const r = await api('POST', '/v1.41/services/create', { Name: 'late', TaskTemplate: { ContainerSpec: { Image: 'busybox' } }, Mode: { Replicated: { Replicas: 0 } } });
    assert.equal(r.status, 201);
    await until(() => Promise.resolve(got.some((e) => e.Actor.Attributes.name === 'late')), 'the create event of late');
    assert.equal(got[0].Action, 'create');
    ac.abort();
    await done;
    assert.equal((await api('DELETE', '/v1.41/services/late')).status, 200);
  });

  it('removes a service; its tasks go away and it is 404 afterwards', async () => {
    assert.equal((await api('DELETE', `/v1.41/services/${webId}`)).status, 200);
    assert.equal((await api('GET', `/v1.41/services/${webId}`)).status, 404);
    assert.equal((await api('DELETE', `/v1.41/services/${webId}`)).status, 404);
    await until(() => Promise.resolve(b.h.store().view.tasksOfService(webId).every((t) => t.status.state > TaskState.RUNNING)), 'the tasks of web to stop');
  });

  it('answers Docker\'s 503 on a worker, where no control operations are available', async () => {
    b.role = 'worker';
    try {
      const r = await api('GET', '/v1.41/services');
      assert.equal(r.status, 503);
      assert.equal(json(r).message, 'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.');
      assert.equal((await api('GET', '/_ping')).headers.swarm, 'active/worker');
      const info = json(await api('GET', '/v1.41/info'));
      assert.equal(info.Swarm.ControlAvailable, false);
      assert.equal(info.Swarm.Cluster, undefined);
    } finally {
      b.role = 'manager';
    }
  });
});
