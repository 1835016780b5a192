import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { ShoaldProcess } from '../api/shoald-process';
import { buildBusyboxImage } from '../runtime/fixtures/busybox-image';
import { cliMain, CliResult } from './cli-harness';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const lines = (s: string): string[] => s.split('\n').filter((l) => l !== '');
const rowsOf = (stdout: string): string[][] => lines(stdout).slice(1).map((l) => l.split(/ {3,}/));

/** Runs the CLI against one shoald. */
function shoalAt(d: ShoaldProcess, ...args: string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliMain, '-H', `unix://${d.socketPath}`, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (x: string) => { stdout += x; });
    child.stderr.setEncoding('utf8').on('data', (x: string) => { stderr += x; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }); });
  });
}

function exits(r: CliResult, code: number, what: string): void {
  assert.equal(r.code, code, `${what}: exit code ${String(r.code)}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
}

/** Polls `check` until it holds; fails with the last thing seen. */
async function eventually(what: string, check: () => Promise<string | true>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  let last = '';
  for (;;) {
    const r = await check();
    if (r === true) return;
    last = r;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}; last seen:\n${last}`);
    await sleep(300);
  }
}

describe('shoal CLI: a second shoald joins the swarm, runs a global task, leaves and is removed', function () {
  this.timeout(300_000);
  // Made in before(): a ShoaldProcess makes its temp dir when constructed, and after() removes it.
  let manager: ShoaldProcess;
  let worker: ShoaldProcess;
  const m = (...a: string[]): Promise<CliResult> => shoalAt(manager, ...a);
  const w = (...a: string[]): Promise<CliResult> => shoalAt(worker, ...a);
  let workerId = '';

  before(async () => {
    manager = new ShoaldProcess(7);
    worker = new ShoaldProcess(8);
    await manager.start();
    await worker.start();
    const img = await buildBusyboxImage();
    try {
      for (const d of [manager, worker]) exits(await shoalAt(d, 'load', '-i', img.tarball), 0, 'load through shoald');
    } finally {
      fs.rmSync(img.dir, { recursive: true, force: true });
    }
  });

  after(async () => {
    await worker?.cleanup();
    await manager?.cleanup();
  });

  it('swarm join with the worker token makes the second node a ready worker; a wrong token is refused', async () => {
    exits(await m('swarm', 'init'), 0, 'swarm init');
    const token = (await m('swarm', 'join-token', '-q', 'worker')).stdout.trim();
    const bad = await w('swarm', 'join', '--token', 'SWMTKN-1-nonsense', manager.grpcAddr);
    exits(bad, 1, 'join with a bad token');
    assert.ok(lines(bad.stderr).length <= 2 && bad.stderr.startsWith('shoal swarm join: '), bad.stderr);
    assert.equal((await w('info', '--format', '{{.Swarm.LocalNodeState}}')).stdout, 'inactive\n');
    const r = await w('swarm', 'join', '--token', token, manager.grpcAddr);
    exits(r, 0, 'swarm join');
    assert.equal(r.stdout, 'This node joined a swarm as a worker.\n');
    workerId = (await w('info', '--format', '{{.Swarm.NodeID}}')).stdout.trim();
    await eventually('the worker to be Ready in node ls', async () => {
      const ls = await m('node', 'ls');
      const rows = rowsOf(ls.stdout);
      const row = rows.find((x) => x[0] === workerId);
      return rows.length === 2 && row?.[2] === 'Ready' && row.length === 5 ? true : ls.stdout;
    });
    const refused = await w('node', 'ls');
    exits(refused, 1, 'node ls on a worker');
    assert.match(refused.stderr, /^shoal node ls: This node is not a swarm manager\./);
  });

  it('a global service converges with one task per node; node ps shows the worker\'s', async () => {
    const r = await m('service', 'create', '--name', 'agent', '--mode', 'global', '--update-monitor', '1s', '--entrypoint', 'sleep', 'busybox', '1000');
    exits(r, 0, 'service create --mode global');
    assert.ok(lines(r.stdout).includes('overall progress: 2 out of 2 tasks'), r.stdout);
    assert.equal(lines(r.stdout).at(-1), 'verify: Service converged');
    assert.equal((await m('service', 'ls', '--format', '{{.Mode}} {{.Replicas}}')).stdout, 'global 2/2\n');
    const ps = await m('node', 'ps', '--format', '{{.Name}} {{.DesiredState}}', workerId);
    assert.equal(ps.stdout, `agent.${workerId} Running\n`);
    exits(await m('service', 'rm', 'agent'), 0, 'service rm');
  });

  it('the worker leaves; the manager sees it down and removes it', async () => {
    const r = await w('swarm', 'leave');
    exits(r, 0, 'swarm leave on a worker');
    assert.equal(r.stdout, 'Node left the swarm.\n');
    await eventually('the worker to be Down', async () => {
      const ls = await m('node', 'ls', '--format', '{{.ID}} {{.Status}}');
      return lines(ls.stdout).includes(`${workerId} Down`) ? true : ls.stdout;
    });
    const rm = await m('node', 'rm', workerId);
    exits(rm, 0, 'node rm');
    assert.equal(rm.stdout, `${workerId}\n`);
    assert.equal(rowsOf((await m('node', 'ls')).stdout).length, 1);
    exits(await m('swarm', 'leave', '--force'), 0, 'the manager leaves');
  });
});
