import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import type * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { createApiServer, listenUnix } from '../../src/api/server';
import { DockerCli, tableRows } from './docker-client';
import { SimApiBackend } from './sim-backend';

/**
 * The real docker CLI against the local API over the simulated control plane (real store, leader
 * loops and ControlApi; simulated Raft network and agents). The same commands against a real
 * shoald are in docker-cli.test.ts.
 */
describe('docker CLI against the local API (simulated control plane)', function () {
  this.timeout(180_000);
  let b: SimApiBackend;
  let server: http.Server;
  let dir: string;
  let docker: DockerCli;
  let selfId = '';

  before(async () => {
    b = await SimApiBackend.create(23);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-api-docker-'));
    const sock = path.join(dir, 'shoal.sock');
    server = createApiServer(b, { engineVersion: '0.1.0-test' });
    await listenUnix(server, sock);
    docker = new DockerCli(sock);
  });

  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    b.close();
    docker.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('docker version negotiates API 1.41 down from its own', async () => {
    const out = await docker.ok('version');
    assert.match(out, /API version:\s+1\.41 \(downgraded from 1\.\d+\)/);
    assert.match(out, /Server: shoal[\s\S]*Version:\s+0\.1\.0-test[\s\S]*API version:\s+1\.41 \(minimum version 1\.24\)/);
  });

  it('docker info, swarm init, info again', async () => {
    assert.match(await docker.ok('info'), /Swarm: inactive/);
    const init = await docker.ok('swarm', 'init');
    const m = /Swarm initialized: current node \((\w+)\) is now a manager\./.exec(init);
    assert.ok(m !== null, init);
    selfId = m[1];
    assert.match(init, /docker swarm join --token \S+ 10\.0\.0\.1:2377/);
    const info = await docker.ok('info');
    assert.match(info, /Swarm: active/);
    assert.match(info, new RegExp(`NodeID: ${selfId}`));
    assert.match(info, /Is Manager: true/);
    assert.match(info, /Managers: 1\n\s+Nodes: 1/);
    const again = await docker.run(['swarm', 'init']);
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /already part of a swarm/);
  });

  it('swarm join-token worker prints the worker token of the cluster', async () => {
    const out = await docker.ok('swarm', 'join-token', 'worker');
    const token = b.h.store().view.cluster()!.joinTokens.worker;
    assert.match(out, /To add a worker to this swarm, run the following command:/);
    assert.ok(out.includes(`docker swarm join --token ${token} 10.0.0.1:2377`), out);
    assert.equal((await docker.ok('swarm', 'join-token', '-q', 'manager')).trim(), b.h.store().view.cluster()!.joinTokens.manager);
  });

  it('node ls and node inspect self', async () => {
    await b.h.addNode({ hostname: 'worker-1' });
    const rows = tableRows(await docker.ok('node', 'ls'));
    assert.equal(rows.length, 2);
    const self = rows.find((r) => r[0].startsWith(selfId))!;
    assert.deepEqual(self.slice(0, 6), [`${selfId} *`, 'sim-manager', 'Ready', 'Active', 'Leader', '0.1.0-test']);
    const worker = rows.find((r) => r[1] === 'worker-1')!;
    assert.deepEqual(worker.slice(2, 4), ['Ready', 'Active']);
    const insp = JSON.parse(await docker.ok('node', 'inspect', 'self')) as { ID: string; Spec: { Role: string }; Status: { State: string }; ManagerStatus: { Leader: boolean } }[];
    assert.equal(insp[0].ID, selfId);
    assert.equal(insp[0].Spec.Role, 'manager');
    assert.equal(insp[0].ManagerStatus.Leader, true);
    assert.equal((await docker.ok('node', 'inspect', '--format', '{{.Status.State}} {{.Description.Hostname}}', 'worker-1')).trim(), 'ready worker-1');
  });

  it('service create waits for 3 running tasks; service ls and ps show them', async () => {
    const out = await docker.ok('service', 'create', '--name', 'web', '--replicas', '3', 'busybox:latest', 'sleep', '1000');
    const id = out.trim().split('\n')[0];
    assert.match(id, /^[0-9a-z]{25}$/);
    assert.match(out, /overall progress: 3 out of 3 tasks/);
    assert.match(out, /verify: Service \w+ converged/);
    assert.deepEqual(tableRows(await docker.ok('service', 'ls')).map((r) => r.slice(1, 5)), [['web', 'replicated', '3/3', 'busybox:latest']]);
    const ps = tableRows(await docker.ok('service', 'ps', 'web'));
    assert.deepEqual(ps.map((r) => r[1]).sort(), ['web.1', 'web.2', 'web.3']);
    for (const r of ps) {
      assert.equal(r[2], 'busybox:latest');
      assert.ok(['sim-manager', 'worker-1'].includes(r[3]), r.join('|'));
      assert.equal(r[4], 'Running');
      assert.match(r[5], /^Running /);
    }
  });

  it('service scale web=5 converges', async () => {
    const out = await docker.ok('service', 'scale', 'web=5');
    assert.match(out, /web scaled to 5/);
    assert.match(out, /verify: Service web converged/);
    assert.deepEqual(tableRows(await docker.ok('service', 'ls')).map((r) => r.slice(1, 4)), [['web', 'replicated', '5/5']]);
  });

  it('service update --image rolls every task to the new image', async () => {
    const out = await docker.ok('service', 'update', '--image', 'busybox:v2', 'web');
    assert.match(out, /overall progress: 5 out of 5 tasks/);
    assert.match(out, /verify: Service web converged/);
    const running = tableRows(await docker.ok('service', 'ps', '--filter', 'desired-state=running', 'web'));
    assert.equal(running.length, 5);
    assert.ok(running.every((r) => r[2] === 'busybox:v2'), JSON.stringify(running));
    const all = await docker.ok('service', 'ps', 'web');
    assert.equal((all.match(/busybox:latest\s+\S+\s+Shutdown/g) ?? []).length, 5, all);
  });

  it('service rollback goes back to the previous image', async () => {
    const out = await docker.ok('service', 'rollback', 'web');
    assert.match(out, /rollback: manually requested rollback/);
    assert.match(out, /verify: Service web converged/);
    assert.equal((await docker.ok('service', 'inspect', '--format', '{{.Spec.TaskTemplate.ContainerSpec.Image}}', 'web')).trim(), 'busybox:latest');
    const running = tableRows(await docker.ok('service', 'ps', '--filter', 'desired-state=running', 'web'));
    assert.ok(running.length === 5 && running.every((r) => r[2] === 'busybox:latest'), JSON.stringify(running));
  });

  it('service logs prefixes each line with its task and node', async () => {
    const r = await docker.run(['service', 'logs', 'web']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.ok(lines.length >= 5, r.stdout);
    for (const l of lines) assert.match(l, /^web\.[1-5]\.\w+@(sim-manager|worker-1)\s+\| line 0 of slot [1-5]$/);
    assert.match(r.stderr, /^web\.[1-5]\.\w+@(sim-manager|worker-1)\s+\| line 1 of slot [1-5]$/m);
    // One task's logs: docker service logs <task id>.
    const taskId = /^web\.\d\.(\w+)@/.exec(lines[0])![1];
    const one = await docker.run(['service', 'logs', '--no-trunc', taskId]);
    assert.equal(one.code, 0, one.stderr);
    const mine = one.stdout.trim().split('\n');
    assert.ok(mine.length >= 1 && mine.every((l) => l.includes(`.${taskId}`) || new RegExp(`^web\\.\\d\\.${taskId}`).test(l)), one.stdout);
  });

  it('service rm removes it', async () => {
    assert.equal((await docker.ok('service', 'rm', 'web')).trim(), 'web');
    assert.deepEqual(tableRows(await docker.ok('service', 'ls')), []);
    const r = await docker.run(['service', 'inspect', 'web']);
    assert.notEqual(r.code, 0);
  });

  it('docker events shows the service\'s life in Docker\'s event form', async () => {
    const until = String(Math.ceil(b.h.clock.now() / 1000) + 1);
    const out = await docker.ok('events', '--since', '0', '--until', until, '--filter', 'type=service', '--format', '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}');
    const lines = out.trim().split('\n');
    assert.equal(lines[0], 'service create web');
    assert.ok(lines.includes('service update-started web') && lines.includes('service rollback-started web'), out);
    assert.equal(lines[lines.length - 1], 'service remove web');
  });
});
