import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { buildBusyboxImage } from '../runtime/fixtures/busybox-image';
import { requireRoot } from '../runtime/helpers';
import { cliMain, CliEnv, CliResult } from './cli-harness';

const shoaldMain = path.resolve(__dirname, '../../src/daemon/main.js');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const lines = (s: string): string[] => s.split('\n').filter((l) => l !== '');

/** A loopback TCP port nothing listens on now. */
async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** Asserts an exit code, showing what the command printed when it is not the expected one. */
function exits(r: CliResult, code: number, what: string): void {
  assert.equal(r.code, code, `${what}: exit code ${String(r.code)} (signal ${String(r.signal)})\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
}

/** The table rows (header dropped), each split on runs of 3+ spaces as docker's tabwriter pads. */
const rowsOf = (stdout: string): string[][] => lines(stdout).slice(1).map((l) => l.split(/ {3,}/));

describe('shoal CLI against a real shoald: swarm, services, stacks', function () {
  this.timeout(300_000);
  let env: CliEnv;
  let runDir: string;
  let sock: string;
  let shoald: ChildProcess | undefined;
  let shoaldExit: Promise<void> = Promise.resolve();
  let shoaldLog = '';
  let port: number;
  let startedMs: number;

  /** Starts the CLI against the test's shoald; the caller may signal it and must await `done`. */
  function start(args: string[], timeoutMs = 120_000): { child: ChildProcess; done: Promise<CliResult>; out(): string } {
    const child = spawn(process.execPath, [cliMain, '-H', `unix://${sock}`, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const done = new Promise<CliResult>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }); });
    });
    return { child, done, out: () => stdout };
  }
  const shoal = (...args: string[]): Promise<CliResult> => start(args).done;

  before(async () => {
    requireRoot();
    env = new CliEnv(3);
    runDir = path.join(env.root, 'run');
    sock = path.join(runDir, 'shoal.sock');
    // The images go in with the in-process CLI before shoald holds the data root.
    for (const reference of ['busybox:latest', 'busybox:v2']) {
      const img = await buildBusyboxImage({ reference });
      const r = await env.run('load', '-i', img.tarball);
      fs.rmSync(img.dir, { recursive: true, force: true });
      exits(r, 0, `load ${reference}`);
    }
    port = await freePort();
    shoald = spawn(process.execPath, [shoaldMain, '--data-root', env.root, '--exec-root', runDir, '--host', `unix://${sock}`, '--listen-addr', `127.0.0.1:${port}`,
      '--bridge', env.bridgeName, '--bridge-subnet', env.bridgeSubnet, '--cgroup-parent', env.cgroupParent, '--log-level', 'info'], { stdio: ['ignore', 'ignore', 'pipe'] });
    shoald.stderr!.setEncoding('utf8').on('data', (d: string) => { shoaldLog = (shoaldLog + d).slice(-200_000); });
    shoaldExit = new Promise((resolve) => shoald!.on('exit', () => resolve()));
    for (let i = 0; i < 200 && !shoaldLog.includes('shoald ready'); i++) {
      if (shoald.exitCode !== null) break;
      await sleep(50);
    }
    assert.ok(shoaldLog.includes('shoald ready'), `shoald did not start:\n${shoaldLog}`);
    startedMs = Date.now();
  });

  after(async () => {
    if (shoald !== undefined && shoald.exitCode === null && shoald.signalCode === null) {
      shoald.kill('SIGTERM');
      const killer = setTimeout(() => shoald?.kill('SIGKILL'), 20_000);
      await shoaldExit;
      clearTimeout(killer);
    }
    // With shoald gone, the in-process CLI removes what it left (task containers), the shim server, cgroups, bridge and data root.
    await env?.cleanup();
  });

  it('single containers go through shoald while it runs: run, ps, logs, stop, rm, images', async () => {
    const r = await shoal('run', '--rm', 'busybox', 'echo', 'hi from shoald');
    exits(r, 0, 'run --rm');
    assert.equal(r.stdout, 'hi from shoald\n');
    const code = await shoal('run', '--rm', 'busybox', 'sh', '-c', 'exit 3');
    exits(code, 3, 'run with the container\'s exit code');
    const d = await shoal('run', '-d', '--name', 'bg', 'busybox', 'sh', '-c', 'echo started; sleep 1000');
    exits(d, 0, 'run -d');
    assert.match(d.stdout, /^[0-9a-f]{12,}\n$/);
    const ps = await shoal('ps');
    assert.deepEqual(rowsOf(ps.stdout).map((row) => row.at(-1)), ['bg'], ps.stdout);
    let logs: CliResult | undefined;
    for (let i = 0; i < 50 && !(logs?.stdout ?? '').includes('started'); i++) logs = await shoal('logs', 'bg');
    assert.equal(logs?.stdout, 'started\n');
    exits(await shoal('stop', '-t', '1', 'bg'), 0, 'stop');
    exits(await shoal('rm', 'bg'), 0, 'rm');
    assert.deepEqual(rowsOf((await shoal('ps', '-a')).stdout), [], 'no container left');
    const images = await shoal('images', '--format', 'ignored');
    exits(images, 125, 'images has no --format');
    const v3 = await buildBusyboxImage({ reference: 'busybox:v3' });
    const load = await shoal('load', '-i', v3.tarball);
    fs.rmSync(v3.dir, { recursive: true, force: true });
    exits(load, 0, 'load through shoald');
    assert.equal(load.stdout, 'Loaded image: busybox:v3\n');
    const imgs = await shoal('images');
    assert.deepEqual(rowsOf(imgs.stdout).map((row) => `${row[0]}:${row[1]}`).sort(), ['busybox:latest', 'busybox:v2', 'busybox:v3']);
  });

  it('swarm init makes this node a manager and prints the join command', async () => {
    assert.equal((await shoal('info', '--format', '{{.Swarm.LocalNodeState}}')).stdout, 'inactive\n');
    const r = await shoal('swarm', 'init', '--listen-addr', `127.0.0.1:${port}`, '--advertise-addr', `127.0.0.1:${port}`);
    exits(r, 0, 'swarm init');
    assert.match(r.stdout, /^Swarm initialized: current node \([0-9a-z]{25}\) is now a manager\.\n\nTo add a worker to this swarm, run the following command:\n\n {4}shoal swarm join --token SWMTKN-1-\S+ 127\.0\.0\.1:\d+\n/);
    assert.match(r.stdout, /run 'shoal swarm join-token manager' and follow the instructions/);
    const again = await shoal('swarm', 'init', '--listen-addr', `127.0.0.1:${port}`);
    exits(again, 1, 'a second swarm init');
    assert.equal(lines(again.stderr).length <= 2, true, again.stderr);
    assert.match(again.stderr, /^shoal swarm init: .*already part of a swarm/);
    assert.equal((await shoal('info', '--format', '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}')).stdout, 'active true\n');
    assert.match((await shoal('info')).stdout, /^ Swarm: active\n {2}NodeID: [0-9a-z]{25}\n {2}Is Manager: true\n/m);
  });

  it('node ls marks this node with *, the leader; node update, join-token --rotate and swarm update apply', async () => {
    const r = await shoal('node', 'ls');
    exits(r, 0, 'node ls');
    assert.match(lines(r.stdout)[0], /^ID\s+HOSTNAME\s+STATUS\s+AVAILABILITY\s+MANAGER STATUS\s+ENGINE VERSION$/);
    const rows = rowsOf(r.stdout);
    assert.equal(rows.length, 1, r.stdout);
    assert.match(rows[0][0], /^[0-9a-z]{25} \*$/);
    assert.deepEqual(rows[0].slice(2, 5), ['Ready', 'Active', 'Leader']);
    const q = await shoal('node', 'inspect', 'self', '--format', '{{.Spec.Role}}/{{.Status.State}}');
    assert.equal(q.stdout, 'manager/ready\n');
    exits(await shoal('node', 'update', '--label-add', 'zone=a', 'self'), 0, 'node update');
    assert.equal((await shoal('node', 'inspect', '--format', '{{index .Spec.Labels "zone"}}', 'self')).stdout, 'a\n');
    const demote = await shoal('node', 'demote', 'self');
    exits(demote, 1, 'demoting the last manager');
    assert.equal(lines(demote.stderr).length, 1, demote.stderr);
    const token = await shoal('swarm', 'join-token', '-q', 'worker');
    assert.match(token.stdout, /^SWMTKN-1-\S+\n$/);
    const rotated = await shoal('swarm', 'join-token', '--rotate', '-q', 'worker');
    assert.match(rotated.stdout, /^SWMTKN-1-\S+\n$/);
    assert.notEqual(rotated.stdout, token.stdout, 'a new worker token');
    exits(await shoal('swarm', 'update', '--task-history-limit', '3'), 0, 'swarm update');
  });

  it('service create --replicas 3 waits for convergence, printing plain lines on a non-terminal', async () => {
    const r = await shoal('service', 'create', '--name', 'web', '--replicas', '3', '--update-monitor', '1s', '--rollback-monitor', '1s', '--stop-grace-period', '1s', '--entrypoint', 'sleep', 'busybox', '1000');
    exits(r, 0, 'service create');
    const out = lines(r.stdout);
    assert.match(out[0], /^[0-9a-z]{25}$/);
    for (const l of ['1/3: running', '2/3: running', '3/3: running', 'overall progress: 3 out of 3 tasks']) assert.ok(out.includes(l), `${l} in:\n${r.stdout}`);
    assert.equal(out.at(-1), 'verify: Service converged');
    assert.ok(!r.stdout.includes('\u001b'), 'no terminal escapes on a pipe');
  });

  it('service ls and service ps show the service and its three running tasks', async () => {
    const ls = await shoal('service', 'ls');
    exits(ls, 0, 'service ls');
    assert.match(lines(ls.stdout)[0], /^ID\s+NAME\s+MODE\s+REPLICAS\s+IMAGE\s+PORTS$/);
    assert.deepEqual(rowsOf(ls.stdout).map((r) => r.slice(1)), [['web', 'replicated', '3/3', 'busybox']]);
    const ps = await shoal('service', 'ps', 'web');
    exits(ps, 0, 'service ps');
    assert.match(lines(ps.stdout)[0], /^ID\s+NAME\s+IMAGE\s+NODE\s+DESIRED STATE\s+CURRENT STATE\s+ERROR\s+PORTS$/);
    const rows = rowsOf(ps.stdout);
    assert.deepEqual(rows.map((r) => [r[1], r[2], r[4]]), [['web.1', 'busybox', 'Running'], ['web.2', 'busybox', 'Running'], ['web.3', 'busybox', 'Running']]);
    for (const r of rows) assert.match(r[5], /^Running /);
    const names = await shoal('service', 'ls', '--format', '{{.Name}} {{.Replicas}}');
    assert.equal(names.stdout, 'web 3/3\n');
  });

  it('service scale web=5 waits for five running tasks', async () => {
    const r = await shoal('service', 'scale', 'web=5');
    exits(r, 0, 'service scale');
    assert.equal(lines(r.stdout)[0], 'web scaled to 5');
    assert.ok(lines(r.stdout).includes('overall progress: 5 out of 5 tasks'), r.stdout);
    assert.equal(lines(r.stdout).at(-1), 'verify: Service converged');
    assert.equal((await shoal('service', 'ls', '--format', '{{.Replicas}}')).stdout, '5/5\n');
  });

  it('on a terminal, the progress is drawn in place with one bar per slot', async () => {
    // script(1) gives the CLI a pseudo-terminal, as a user's shell would.
    const cmd = [process.execPath, cliMain, '-H', `unix://${sock}`, 'service', 'scale', 'web=4'].map((a) => `'${a}'`).join(' ');
    const r = await new Promise<CliResult>((resolve, reject) => {
      const child = spawn('script', ['-qec', cmd, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TERM: 'xterm', COLUMNS: '120' } });
      let stdout = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.on('error', reject);
      child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr: '' }); });
    });
    exits(r, 0, 'service scale on a terminal');
    assert.ok(r.stdout.includes('\u001b[2K'), `lines are redrawn in place:\n${JSON.stringify(r.stdout.slice(0, 400))}`);
    assert.match(r.stdout, /4\/4: running {3}\[={50}>\]/);
    assert.match(r.stdout, /overall progress: 4 out of 4 tasks/);
    assert.match(r.stdout, /verify: Service converged/);
    exits(await shoal('service', 'scale', 'web=5'), 0, 'back to 5');
  });

  it('service update --image rolls every task to the new image', async () => {
    const r = await shoal('service', 'update', '--image', 'busybox:v2', 'web');
    exits(r, 0, 'service update');
    assert.equal(lines(r.stdout)[0], 'web');
    assert.ok(lines(r.stdout).includes('overall progress: 5 out of 5 tasks'), r.stdout);
    assert.equal(lines(r.stdout).at(-1), 'verify: Service converged');
    assert.equal((await shoal('service', 'ls', '--format', '{{.Image}} {{.Replicas}}')).stdout, 'busybox:v2 5/5\n');
    const ps = await shoal('service', 'ps', '--filter', 'desired-state=running', '--format', '{{.Image}}', 'web');
    assert.deepEqual(lines(ps.stdout), Array(5).fill('busybox:v2'));
    const all = await shoal('service', 'ps', 'web');
    assert.ok(rowsOf(all.stdout).some((row) => row[1].trim() === '\\_ web.1' && row[4] === 'Shutdown'), `history of slot 1 in:\n${all.stdout}`);
    // The update waited for each replaced task to stop: none is still Running once it converged.
    const history = rowsOf(all.stdout).filter((row) => row[1].trim().startsWith('\\_'));
    assert.ok(history.length >= 5 && history.every((row) => row[4] === 'Shutdown' && row[5].startsWith('Shutdown ')), `replaced tasks shut down in:\n${all.stdout}`);
  });

  it('service rollback goes back to the previous image', async () => {
    const r = await shoal('service', 'rollback', 'web');
    exits(r, 0, 'service rollback');
    assert.equal(lines(r.stdout)[0], 'web');
    assert.ok(lines(r.stdout).includes('overall progress: rolling back update: 5 out of 5 tasks'), r.stdout);
    assert.equal(lines(r.stdout).at(-1), 'verify: Service converged');
    assert.equal((await shoal('service', 'ls', '--format', '{{.Image}} {{.Replicas}}')).stdout, 'busybox 5/5\n');
    const inspect = await shoal('service', 'inspect', '--format', '{{.Spec.TaskTemplate.ContainerSpec.Image}} {{.UpdateStatus.State}}', 'web');
    assert.equal(inspect.stdout, 'busybox rollback_completed\n');
  });

  it('an update that fails is rolled back, and the CLI says so with a non-zero exit', async () => {
    const r = await shoal('service', 'update', '--image', 'busybox:missing', '--update-failure-action', 'rollback', '--update-monitor', '2s', 'web');
    exits(r, 1, 'failed update');
    assert.match(r.stderr, /^shoal service update: service rolled back: /);
    assert.match(r.stderr, /\nSee what happened with: shoal service ps --no-trunc web\n$/);
    assert.equal((await shoal('service', 'inspect', '--format', '{{.Spec.TaskTemplate.ContainerSpec.Image}} {{.UpdateStatus.State}}', 'web')).stdout, 'busybox rollback_completed\n');
  });

  it('service update --force replaces every task although the spec is unchanged', async () => {
    const running = async (): Promise<string[]> => lines((await shoal('service', 'ps', '--filter', 'desired-state=running', '--format', '{{.ID}}', '--no-trunc', 'web')).stdout);
    const before = await running();
    assert.equal(before.length, 5);
    const force = Number((await shoal('service', 'inspect', '--format', '{{.Spec.TaskTemplate.ForceUpdate}}', 'web')).stdout.trim());
    const r = await shoal('service', 'update', '--force', 'web');
    exits(r, 0, 'service update --force');
    assert.equal(r.stderr, '', 'no warning');
    assert.ok(lines(r.stdout).includes('overall progress: 5 out of 5 tasks'), r.stdout);
    assert.equal((await shoal('service', 'inspect', '--format', '{{.Spec.TaskTemplate.ForceUpdate}} {{.Spec.TaskTemplate.ContainerSpec.Image}}', 'web')).stdout, `${force + 1} busybox\n`);
    const after = await running();
    assert.equal(after.length, 5);
    assert.deepEqual(after.filter((id) => before.includes(id)), [], 'every task was replaced');
  });

  it('service create -d returns at once; service logs shows each task\'s output with its name', async () => {
    const r = await shoal('service', 'create', '-d', '--name', 'talker', '--entrypoint', 'sh', 'busybox', '-c', 'echo hello from $HOSTNAME; sleep 1000');
    exits(r, 0, 'service create -d');
    assert.match(r.stdout, /^[0-9a-z]{25}\n$/, 'only the id, no progress');
    let logs: CliResult | undefined;
    for (let i = 0; i < 100; i++) {
      logs = await shoal('service', 'logs', 'talker');
      if (logs.stdout.includes('hello from')) break;
      await sleep(100);
    }
    exits(logs!, 0, 'service logs');
    assert.match(logs!.stdout, /^talker\.1\.[0-9a-z]{12}@\S+ {4}\| hello from \S+\n$/);
    exits(await shoal('service', 'rm', 'talker'), 0, 'service rm talker');
  });

  it('service create --init runs each task under an init, so the command is not PID 1; without it, it is', async () => {
    for (const [name, flags] of [['inited', ['--init']], ['plain', []]] as const) {
      exits(await shoal('service', 'create', '-d', '--name', name, ...flags, '--entrypoint', 'sh', 'busybox', '-c', 'echo "pid $$"; sleep 1000'), 0, `service create ${name}`);
    }
    const pidOf = async (name: string): Promise<string> => {
      for (let i = 0; i < 100; i++) {
        const m = /\| pid (\d+)$/m.exec((await shoal('service', 'logs', name)).stdout);
        if (m !== null) return m[1];
        await sleep(100);
      }
      throw new Error(`no output from ${name}`);
    };
    assert.notEqual(await pidOf('inited'), '1', 'under --init the command is not PID 1');
    assert.equal(await pidOf('plain'), '1');
    assert.equal((await shoal('service', 'inspect', '--format', '{{.Spec.TaskTemplate.ContainerSpec.Init}}', 'inited', 'plain')).stdout, 'true\nfalse\n');
    exits(await shoal('service', 'rm', 'inited', 'plain'), 0, 'service rm');
  });

  it('Ctrl-C stops waiting and leaves the operation running in shoald', async () => {
    // A constraint no node meets: the task stays pending, and the wait would never end.
    const p = start(['service', 'create', '--name', 'never', '--constraint', 'node.labels.nowhere==true', 'busybox']);
    for (let i = 0; i < 400 && !p.out().includes('overall progress: 0 out of 1 tasks'); i++) await sleep(50);
    p.child.kill('SIGINT');
    const r = await p.done;
    exits(r, 0, 'interrupted service create');
    assert.match(r.stdout, /Operation continuing in background\.\nUse shoal service ps never to check progress\.\n$/);
    const ls = await shoal('service', 'ls', '--filter', 'name=never', '--format', '{{.Name}} {{.Replicas}}');
    assert.equal(ls.stdout, 'never 0/1\n');
    exits(await shoal('service', 'rm', 'never'), 0, 'service rm never');
  });

  it('stack deploy creates the compose file\'s services, labelled and named after the stack', async () => {
    const file = path.join(env.root, 'compose.yml');
    fs.writeFileSync(file, [
      'version: "3.8"',
      'services:',
      '  web:',
      '    image: busybox',
      '    entrypoint: ["sleep"]',
      '    command: ["1000"]',
      '    environment: { ROLE: web }',
      '    deploy:',
      '      replicas: 2',
      '      update_config: { monitor: 1s }',
      '  worker:',
      '    image: busybox',
      '    entrypoint: sleep',
      '    command: "2000"',
      '    build: ./worker',
      '    deploy: { replicas: 1, update_config: { monitor: 1s } }',
      '',
    ].join('\n'));
    const r = await shoal('stack', 'deploy', '-c', file, 'shop');
    exits(r, 0, 'stack deploy');
    assert.deepEqual(lines(r.stdout).slice(0, 2), ['Creating service shop_web', 'Creating service shop_worker']);
    assert.equal(lines(r.stdout).filter((l) => l === 'verify: Service converged').length, 2, r.stdout);
    assert.equal(r.stderr, 'warning: services.worker.build is not supported by swarm, ignored\n');
    const ls = await shoal('stack', 'ls');
    assert.deepEqual(rowsOf(ls.stdout), [['shop', '2']]);
    const services = await shoal('stack', 'services', 'shop');
    assert.deepEqual(rowsOf(services.stdout).map((row) => row.slice(1, 4)), [['shop_web', 'replicated', '2/2'], ['shop_worker', 'replicated', '1/1']]);
    const ps = await shoal('stack', 'ps', 'shop');
    assert.deepEqual(rowsOf(ps.stdout).map((row) => [row[1], row[4]]), [['shop_web.1', 'Running'], ['shop_web.2', 'Running'], ['shop_worker.1', 'Running']]);
    const label = await shoal('service', 'inspect', '--format', '{{index .Spec.Labels "com.docker.stack.namespace"}}', 'shop_web');
    assert.equal(label.stdout, 'shop\n');
    // Deploying again updates the services in place.
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('replicas: 2', 'replicas: 3').replace('    build: ./worker\n', ''));
    const again = await shoal('stack', 'deploy', '-c', file, 'shop');
    exits(again, 0, 'stack deploy again');
    assert.match(lines(again.stdout)[0], /^Updating service shop_web \(id: [0-9a-z]{25}\)$/);
    assert.match(lines(again.stdout)[1], /^Updating service shop_worker \(id: [0-9a-z]{25}\)$/);
    assert.equal(again.stderr, '');
    assert.equal((await shoal('service', 'ls', '--filter', 'name=shop_web', '--format', '{{.Replicas}}')).stdout, '3/3\n');
  });

  it('stack rm removes the stack\'s services and nothing else', async () => {
    const r = await shoal('stack', 'rm', 'shop');
    exits(r, 0, 'stack rm');
    assert.deepEqual(lines(r.stdout), ['Removing service shop_web', 'Removing service shop_worker']);
    assert.deepEqual(rowsOf((await shoal('stack', 'ls')).stdout), []);
    assert.equal((await shoal('service', 'ls', '--format', '{{.Name}}')).stdout, 'web\n');
  });

  it('service rm removes the service; events show what happened', async () => {
    const r = await shoal('service', 'rm', 'web');
    exits(r, 0, 'service rm');
    assert.equal(r.stdout, 'web\n');
    assert.deepEqual(rowsOf((await shoal('service', 'ls')).stdout), []);
    const missing = await shoal('service', 'inspect', 'web');
    exits(missing, 1, 'inspect of a removed service');
    assert.match(missing.stderr, /^shoal service inspect: .*web.*not found/i);
    assert.doesNotMatch(missing.stderr, /\n\s+at /);
    const since = String(Math.floor(startedMs / 1000) - 1);
    const ev = await shoal('events', '--since', since, '--until', String(Math.ceil(Date.now() / 1000) + 1), '--filter', 'type=service', '--format', '{{.Action}} {{.Actor.Attributes.name}}');
    exits(ev, 0, 'events');
    const got = lines(ev.stdout);
    for (const want of ['create web', 'remove web', 'create shop_web', 'remove shop_worker']) assert.ok(got.includes(want), `${want} in:\n${ev.stdout}`);
    assert.ok(got.indexOf('create web') < got.indexOf('remove web'), 'in commit order');
  });

  it('swarm leave needs --force on the last manager, then the node is out of the swarm', async () => {
    const refused = await shoal('swarm', 'leave');
    exits(refused, 1, 'swarm leave without --force');
    assert.match(refused.stderr, /--force/);
    const r = await shoal('swarm', 'leave', '--force');
    exits(r, 0, 'swarm leave --force');
    assert.equal(r.stdout, 'Node left the swarm.\n');
    const ls = await shoal('node', 'ls');
    exits(ls, 1, 'node ls outside a swarm');
    assert.match(ls.stderr, /^shoal node ls: .*not part of a swarm/);
  });
});
