import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildBusyboxImage } from '../runtime/fixtures/busybox-image';
import { DockerCli, tableRows } from './docker-client';
import { ShoaldProcess } from './shoald-process';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * THE docker CLI test of issue 7: a real shoald process (its own data root, socket, bridge and
 * cgroup parent) and the real docker client (never its daemon) with DOCKER_HOST on shoald's socket.
 */
describe('the docker CLI against a real shoald', function () {
  this.timeout(600_000);
  const shoald = new ShoaldProcess(0);
  let docker: DockerCli;
  let grpcPort = 0;
  let nodeId = '';
  const images: string[] = [];

  before(async () => {
    await shoald.start();
    grpcPort = shoald.grpcPort;
    docker = new DockerCli(shoald.socketPath);
    for (const reference of ['busybox:latest', 'busybox:v2']) images.push((await buildBusyboxImage({ reference })).dir);
  });

  after(async () => {
    await shoald.cleanup();
    docker?.cleanup();
    for (const d of images) fs.rmSync(d, { recursive: true, force: true });
  });

  it('docker load puts the busybox images into shoald\'s image store', async () => {
    for (const d of images) assert.match(await docker.ok('load', '-i', path.join(d, 'busybox.tar')), /Loaded image: busybox:(latest|v2)/);
    assert.deepEqual(tableRows(await docker.ok('images')).map((r) => r.slice(0, 2)).sort(), [['busybox', 'latest'], ['busybox', 'v2']]);
  });

  it('docker run --rm prints the container\'s output and exit code, and removes it', async () => {
    const r = await docker.run(['run', '--rm', 'busybox', 'sh', '-c', 'echo hi from $(hostname); exit 3']);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stdout, /^hi from \w+\n$/);
    const end = Date.now() + 10_000;
    while ((await docker.ok('ps', '-aq')).trim() !== '') {
      if (Date.now() > end) assert.fail(`the --rm container is still there:\n${await docker.ok('ps', '-a')}`);
      await sleep(100);
    }
  });

  it('docker info, then swarm init, then docker info shows an active manager', async () => {
    const before = await docker.ok('info');
    assert.match(before, /Swarm: inactive/);
    assert.match(before, /Server Version: \d+\.\d+\.\d+/);
    // shoald listens where its --listen-addr says (a loopback port here), whatever the CLI's default.
    const init = await docker.ok('swarm', 'init');
    const m = /Swarm initialized: current node \((\w+)\) is now a manager\./.exec(init);
    assert.ok(m !== null, init);
    nodeId = m[1];
    const info = await docker.ok('info');
    assert.match(info, /Swarm: active/);
    assert.match(info, new RegExp(`NodeID: ${nodeId}`));
    assert.match(info, /Is Manager: true/);
    assert.match(info, /Managers: 1\n\s+Nodes: 1/);
  });

  it('swarm join-token worker prints the command with the worker token and this manager\'s address', async () => {
    const out = await docker.ok('swarm', 'join-token', 'worker');
    const token = (await docker.ok('swarm', 'join-token', '-q', 'worker')).trim();
    assert.match(token, /^SWMTKN-1-\w+-\w+$/);
    assert.ok(out.includes(`docker swarm join --token ${token} 127.0.0.1:${grpcPort}`), out);
  });

  it('node ls shows this node as a ready leader; node inspect self agrees', async () => {
    const rows = tableRows(await docker.ok('node', 'ls'));
    assert.equal(rows.length, 1);
    assert.deepEqual(rows[0].slice(0, 5), [`${nodeId} *`, os.hostname(), 'Ready', 'Active', 'Leader']);
    const self = JSON.parse(await docker.ok('node', 'inspect', 'self')) as { ID: string; Spec: { Role: string }; Status: { State: string }; ManagerStatus: { Leader: boolean; Reachability: string } }[];
    assert.equal(self.length, 1);
    assert.equal(self[0].ID, nodeId);
    assert.equal(self[0].Spec.Role, 'manager');
    assert.equal(self[0].Status.State, 'ready');
    assert.deepEqual([self[0].ManagerStatus.Leader, self[0].ManagerStatus.Reachability], [true, 'reachable']);
  });

  it('service create --replicas 3 waits until 3 busybox containers run; service ls and ps show them', async () => {
    const out = await docker.ok('service', 'create', '--name', 'web', '--replicas', '3', '--stop-grace-period', '1s', 'busybox:latest', 'sh', '-c', 'echo hello from $(hostname); exec sleep 1000');
    assert.match(out.split('\n')[0], /^[0-9a-z]{25}$/);
    assert.match(out, /overall progress: 3 out of 3 tasks/);
    assert.match(out, /verify: Service \w+ converged/);
    assert.deepEqual(tableRows(await docker.ok('service', 'ls')).map((r) => r.slice(1, 5)), [['web', 'replicated', '3/3', 'busybox:latest']]);
    const ps = tableRows(await docker.ok('service', 'ps', 'web'));
    assert.deepEqual(ps.map((r) => r[1]).sort(), ['web.1', 'web.2', 'web.3']);
    for (const r of ps) assert.deepEqual([r[2], r[3], r[4]], ['busybox:latest', os.hostname(), 'Running'], r.join(' | '));
    assert.equal((await docker.ok('ps', '-q')).trim().split('\n').length, 3, 'three containers run on this host');
  });

  it('service scale web=5 converges to 5 running tasks', async () => {
    const out = await docker.ok('service', 'scale', 'web=5');
    assert.match(out, /web scaled to 5/);
    assert.match(out, /verify: Service web converged/);
    assert.deepEqual(tableRows(await docker.ok('service', 'ls')).map((r) => r.slice(1, 4)), [['web', 'replicated', '5/5']]);
  });

  it('service update --image rolls every task to the second tag', async () => {
    const out = await docker.ok('service', 'update', '--image', 'busybox:v2', 'web');
    assert.match(out, /overall progress: 5 out of 5 tasks/);
    assert.match(out, /verify: Service web converged/);
    const running = tableRows(await docker.ok('service', 'ps', '--filter', 'desired-state=running', 'web'));
    assert.equal(running.length, 5);
    assert.ok(running.every((r) => r[2] === 'busybox:v2' && r[4] === 'Running'), JSON.stringify(running));
    const all = await docker.ok('service', 'ps', 'web');
    assert.equal((all.match(/busybox:latest\s+\S+\s+Shutdown/g) ?? []).length, 5, all);
  });

  it('service rollback returns to the first image', async () => {
    const out = await docker.ok('service', 'rollback', 'web');
    assert.match(out, /rollback: manually requested rollback/);
    assert.match(out, /verify: Service web converged/);
    assert.equal((await docker.ok('service', 'inspect', '--format', '{{.Spec.TaskTemplate.ContainerSpec.Image}} {{.PreviousSpec.TaskTemplate.ContainerSpec.Image}}', 'web')).trim(), 'busybox:latest busybox:v2');
    const running = tableRows(await docker.ok('service', 'ps', '--filter', 'desired-state=running', 'web'));
    assert.ok(running.length === 5 && running.every((r) => r[2] === 'busybox:latest' && r[4] === 'Running'), JSON.stringify(running));
  });

  it('service logs shows each task\'s output prefixed with its task and node', async () => {
    const r = await docker.run(['service', 'logs', 'web']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.ok(lines.length >= 5, r.stdout);
    const host = os.hostname().replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    for (const l of lines) assert.match(l, new RegExp(`^web\\.[1-5]\\.\\w{12}@${host}\\s+\\| hello from [0-9a-f]{12}$`));
    const slots = new Set(lines.map((l) => l.split('.')[1]));
    assert.equal(slots.size, 5, 'every slot logged');
  });

  it('service logs --follow streams the lines and keeps the stream open', async () => {
    const r = await docker.run(['service', 'logs', '--follow', 'web'], 5000);
    assert.equal(r.code, -1, `docker service logs --follow ended on its own: ${r.stderr}`);
    assert.ok(r.stdout.trim().split('\n').length >= 5, r.stdout);
  });

  it('service rm removes the service and its containers stop', async () => {
    assert.equal((await docker.ok('service', 'rm', 'web')).trim(), 'web');
    assert.deepEqual(tableRows(await docker.ok('service', 'ls')), []);
    const end = Date.now() + 60_000;
    while ((await docker.ok('ps', '-q')).trim() !== '') {
      if (Date.now() > end) assert.fail(`containers still running a minute after service rm:\n${await docker.ok('ps')}`);
      await sleep(500);
    }
  });

  it('docker events replays the service\'s life from shoald\'s event bus', async () => {
    const until = String(Math.ceil(Date.now() / 1000) + 1);
    const out = await docker.ok('events', '--since', '10m', '--until', until, '--filter', 'type=service', '--format', '{{.Action}} {{.Actor.Attributes.name}}');
    const lines = out.trim().split('\n');
    assert.equal(lines[0], 'create web');
    assert.ok(lines.includes('update web') && lines.includes('update-started web') && lines.includes('rollback-started web'), out);
    assert.equal(lines[lines.length - 1], 'remove web');
  });
});
