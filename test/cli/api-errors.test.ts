import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { socketFromHost } from '../../src/cli/api-client';
import { cliMain, CliResult } from './cli-harness';

/** Runs the built CLI with the given environment; resolves with what it printed and its exit code. */
function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliMain, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', reject);
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }); });
  });
}

const noStack = (r: CliResult): void => assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');

describe('shoal CLI: errors talking to shoald', function () {
  this.timeout(30_000);
  let dir: string;
  let sock: string;
  const requests: string[] = [];
  let server: http.Server | undefined;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-cli-api-'));
    sock = path.join(dir, 'api.sock');
    // A stand-in answering as a Docker API server answers errors, to check the CLI reports them.
    server = http.createServer((req, res) => {
      requests.push(`${req.method} ${req.url}`);
      const send = (status: number, body: unknown): void => {
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (req.url?.startsWith('/v1.41/services/nope')) send(404, { message: 'service nope not found' });
      else if (req.url?.startsWith('/v1.41/services')) send(503, { message: 'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.' });
      else send(500, { message: 'boom' });
    });
    await new Promise<void>((resolve) => server!.listen(sock, resolve));
  });

  after(async () => {
    if (server !== undefined) await new Promise<void>((resolve) => server!.close(() => resolve()));
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('says shoald cannot be reached when its socket is missing, and how to start it', async () => {
    const r = await runCli(['-H', `unix://${dir}/missing.sock`, 'service', 'ls']);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, `shoal service ls: cannot reach shoald at ${dir}/missing.sock: is it running?\nStart it with: shoald &\n`);
  });

  it('says the same when nothing listens on the socket path', async () => {
    const stale = path.join(dir, 'stale.sock');
    fs.writeFileSync(stale, '');
    const r = await runCli(['node', 'ls'], { SHOAL_HOST: `unix://${stale}` });
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`^shoal node ls: cannot reach shoald at ${stale}: is it running\\?\\nStart it with: shoald &\\n$`));
  });

  it('names the default socket when neither -H nor SHOAL_HOST is given', () => {
    assert.equal(socketFromHost(undefined), '/run/shoal/shoal.sock');
    assert.equal(socketFromHost('unix:///tmp/x.sock'), '/tmp/x.sock');
    assert.throws(() => socketFromHost('tcp://1.2.3.4:2375'), /invalid --host "tcp:\/\/1.2.3.4:2375": expected unix:\/\/\/path/);
  });

  it('prints the API\'s error message, one line, exit code 1', async () => {
    const r = await runCli(['-H', `unix://${sock}`, 'service', 'inspect', 'nope']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'shoal service inspect: service nope not found\n');
    noStack(r);
    const m = await runCli(['-H', `unix://${sock}`, 'service', 'ls']);
    assert.equal(m.code, 1);
    assert.match(m.stderr, /^shoal service ls: This node is not a swarm manager\./);
    noStack(m);
    assert.ok(requests.some((q) => q === 'GET /v1.41/services?status=true'), `requests: ${requests.join(', ')}`);
  });

  it('refuses bad flags before sending anything', async () => {
    const before = requests.length;
    const r = await runCli(['-H', `unix://${sock}`, 'service', 'create', '--replicas', 'three', 'busybox']);
    assert.equal(r.code, 125);
    assert.equal(r.stderr, 'shoal service create: invalid --replicas "three": expected an integer ≥ 0\nSee \'shoal service create --help\'.\n');
    const bad = await runCli(['-H', `unix://${sock}`, 'service', 'ls', '--format', '{{range .}}']);
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, /unsupported action \{\{range \.\}\}/);
    const unknown = await runCli(['-H', `unix://${sock}`, 'service', 'explode']);
    assert.equal(unknown.code, 125);
    assert.match(unknown.stderr, /^shoal: unknown command: "shoal service explode"\nOne of: create, ls, ps/);
    const filter = await runCli(['-H', `unix://${sock}`, 'events', '--filter', 'typeservice']);
    assert.equal(filter.code, 125);
    assert.match(filter.stderr, /^shoal events: invalid --filter "typeservice": expected key=value/);
    assert.equal(requests.length, before, 'no request was sent');
  });

  it('refuses a bad compose file with the path of the bad value', async () => {
    const file = path.join(dir, 'bad.yml');
    fs.writeFileSync(file, 'services:\n  web:\n    image: busybox\n    deploy:\n      replicas: three\n');
    const r = await runCli(['-H', `unix://${sock}`, 'stack', 'deploy', '-c', file, 'shop']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'shoal stack deploy: services.web.deploy.replicas: expected integer, got "three"\n');
  });
});
