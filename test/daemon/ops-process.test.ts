import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { freePort } from './helpers';
import * as os from 'node:os';
import * as path from 'node:path';
import { BridgeNetwork } from '../../src/runtime/bridge-network';
import { detectCgroupLayout } from '../../src/runtime/cgroups';

const shoald = path.resolve(__dirname, '../../src/daemon/main.js');

/** One shoald process as an operator runs it: its output so far and how it ended. */
interface Shoald {
  readonly child: ChildProcess;
  stderr(): string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}


/** GET over a unix socket or TCP. */
function get(target: { socketPath: string } | { port: number }, urlPath: string): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const where = 'socketPath' in target ? { socketPath: target.socketPath } : { host: '127.0.0.1', port: target.port };
    http.get({ ...where, path: urlPath }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    }).on('error', reject);
  });
}

/** POST a JSON body over a unix socket. */
function post(socketPath: string, urlPath: string, body: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = http.request({ socketPath, path: urlPath, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

/** One sample's value in a Prometheus scrape. */
function metric(body: string, series: string): number | undefined {
  const line = body.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** The JSON log lines of a shoald's stderr. */
function logLines(stderr: string): Record<string, unknown>[] {
  return stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('shoald as a process', function () {
  this.timeout(120_000);
  const slot = process.pid % 100;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-ops-proc-'));
  const dataRoot = path.join(root, 'data');
  const runRoot = path.join(root, 'run');
  const socketPath = path.join(runRoot, 'shoal.sock');
  const bridgeName = `shops${process.pid % 100000}`;
  const bridgeSubnet = `10.234.${slot}.0/24`;
  const cgroupParent = `shoal-test-ops-${process.pid}`;
  const started: Shoald[] = [];

  before(function () {
    if (process.getuid?.() !== 0) throw new Error('shoald process tests need root (namespaces, cgroups and the bridge): run them as root');
  });

  after(async () => {
    for (const s of started) if (s.child.exitCode === null && s.child.signalCode === null) { s.child.kill('SIGKILL'); await s.exited; }
    stopShimServer();
    const layout = detectCgroupLayout();
    for (const c of layout.version === 1 ? ['memory', 'cpu', 'cpuacct', 'pids', 'devices'] : ['']) {
      try { fs.rmdirSync(path.join(layout.root, c, cgroupParent)); } catch { /* gone or never made */ }
    }
    await new BridgeNetwork({ name: bridgeName, subnet: bridgeSubnet, enableForwarding: false }).destroy();
    fs.rmSync(root, { recursive: true, force: true });
  });

  /** The runtime's per-node shim server outlives shoald by design; the test ends it. */
  function stopShimServer(): void {
    try {
      const pid = Number(fs.readFileSync(path.join(dataRoot, 'shim.sock.pid'), 'utf8'));
      if (fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dataRoot)) process.kill(pid, 'SIGTERM');
    } catch {
      /* not running */
    }
  }

  function run(args: string[]): Shoald {
    const child = spawn(process.execPath, [shoald, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.stdout.resume();
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    const s = { child, stderr: () => stderr, exited };
    started.push(s);
    return s;
  }

  function daemonArgs(extra: string[] = []): string[] {
    return ['--data-root', dataRoot, '--exec-root', runRoot, '--host', `unix://${socketPath}`, '--bridge', bridgeName, '--bridge-subnet', bridgeSubnet, '--cgroup-parent', cgroupParent, ...extra];
  }

  async function ready(s: Shoald, timeoutMs = 60_000): Promise<Record<string, unknown>> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const line = logLines(s.stderr()).find((l) => l.msg === 'shoald ready');
      if (line !== undefined) return line;
      if (s.child.exitCode !== null) throw new Error(`shoald exited with ${s.child.exitCode} before it was ready:\n${s.stderr()}`);
      if (Date.now() > end) throw new Error(`shoald was not ready within ${timeoutMs} ms:\n${s.stderr()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it('refuses a bad flag with exit code 1 and a line naming the flag and the value', async () => {
    const s = run(['--listen-addr', 'abc']);
    assert.deepEqual(await s.exited, { code: 1, signal: null });
    assert.equal(s.stderr(), `shoald: --listen-addr: expected host:port, got "abc"\nsee 'shoald --help'\n`);
    const u = run(['--no-such-flag']);
    assert.equal((await u.exited).code, 1);
    assert.match(u.stderr(), /^shoald: unknown flag: --no-such-flag\n/);
  });

  it('starts, serves the local API and metrics, writes its pid file, refuses a second shoald on its data root, and stops cleanly on SIGTERM', async () => {
    const metricsPort = await freePort();
    const s = run(daemonArgs(['--metrics-addr', `127.0.0.1:${metricsPort}`]));
    const line = await ready(s);
    assert.equal(line.socket, socketPath);
    const pidFile = path.join(runRoot, 'shoald.pid');
    assert.equal(fs.readFileSync(pidFile, 'utf8').trim(), String(s.child.pid));

    const ping = await get({ socketPath }, '/_ping');
    assert.equal(ping.status, 200);
    assert.equal(ping.body, 'OK');
    assert.equal(ping.headers['api-version'], '1.41');
    const metrics = await get({ port: metricsPort }, '/metrics');
    assert.equal(metrics.status, 200);
    assert.match(metrics.body, /^shoal_containers_running 0$/m);

    // A second shoald on the same data root (with its own socket and run root) is refused.
    const second = run(['--data-root', dataRoot, '--exec-root', path.join(root, 'run2'), '--host', path.join(root, 'run2', 's.sock')]);
    assert.deepEqual(await second.exited, { code: 1, signal: null });
    assert.match(second.stderr(), new RegExp(`^shoald: another shoald \\(pid ${s.child.pid}\\) is using data root ${dataRoot}\\n`));
    assert.doesNotMatch(second.stderr(), /\bat .*\.js:\d+/, 'a stack trace for a user mistake');
    assert.equal(fs.readFileSync(pidFile, 'utf8').trim(), String(s.child.pid), "the refused shoald touched the first one's pid file");
    assert.equal((await get({ socketPath }, '/_ping')).status, 200);

    s.child.kill('SIGTERM');
    assert.deepEqual(await s.exited, { code: 0, signal: null });
    assert.ok(logLines(s.stderr()).some((l) => l.msg === 'shoald stopping' && l.signal === 'SIGTERM'));
    assert.equal(fs.existsSync(pidFile), false, 'pid file left behind');
    assert.equal(fs.existsSync(socketPath), false, 'socket left behind');
    assert.equal(fs.existsSync(path.join(dataRoot, 'shoald.lock')), false, 'data root lock left behind');

    // The data root is free again: a new shoald starts on it.
    const again = run(daemonArgs());
    await ready(again);
    again.child.kill('SIGINT');
    assert.deepEqual(await again.exited, { code: 0, signal: null });
  });

  it('a SIGTERM while it is still starting stops it cleanly once started, with exit code 0', async () => {
    const s = run(daemonArgs());
    const lockFile = path.join(dataRoot, 'shoald.lock');
    const end = Date.now() + 30_000;
    while (!fs.existsSync(lockFile)) {
      if (s.child.exitCode !== null || Date.now() > end) throw new Error(`shoald never took its data root:\n${s.stderr()}`);
      await new Promise((r) => setTimeout(r, 2));
    }
    s.child.kill('SIGTERM');
    assert.deepEqual(await s.exited, { code: 0, signal: null }, s.stderr());
    assert.equal(fs.existsSync(path.join(runRoot, 'shoald.pid')), false, 'pid file left behind');
    assert.equal(fs.existsSync(lockFile), false, 'data root lock left behind');
  });

  it("after swarm init through the local API, the metrics endpoint shows this manager's Raft, tasks and its worker's session", async () => {
    const metricsPort = await freePort();
    const grpcPort = await freePort();
    const s = run(daemonArgs(['--metrics-addr', `127.0.0.1:${metricsPort}`, '--listen-addr', `127.0.0.1:${grpcPort}`, '--advertise-addr', `127.0.0.1:${grpcPort}`]));
    await ready(s);
    const before = (await get({ port: metricsPort }, '/metrics')).body;
    assert.equal(metric(before, 'shoal_raft_term'), 0);
    const init = await post(socketPath, '/v1.41/swarm/init', { ListenAddr: `127.0.0.1:${grpcPort}`, AdvertiseAddr: `127.0.0.1:${grpcPort}` });
    assert.equal(init.status, 200, init.body);
    const end = Date.now() + 30_000;
    let body = '';
    for (;;) {
      body = (await get({ port: metricsPort }, '/metrics')).body;
      if (metric(body, 'shoal_raft_is_leader') === 1 && metric(body, 'shoal_dispatcher_sessions') === 1) break;
      if (Date.now() > end) throw new Error(`the manager's metrics did not show a leader with one worker session:\n${body.split('\n').filter((l) => l.startsWith('shoal_')).join('\n')}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(metric(body, 'shoal_raft_term')! >= 1);
    assert.ok(metric(body, 'shoal_raft_applied_index')! >= 1);
    assert.ok(metric(body, 'shoal_raft_leader_changes_total')! >= 1);
    assert.ok(metric(body, 'shoal_raft_proposals_total')! >= 1, 'the init and the node registration were proposals');
    assert.equal(metric(body, 'shoal_tasks{state="running"}'), 0);
    s.child.kill('SIGTERM');
    assert.deepEqual(await s.exited, { code: 0, signal: null });
  });
});
