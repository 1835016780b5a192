import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { detectCgroupLayout } from '../../src/runtime/cgroups';
import { buildBusyboxImage, busyboxRootfsTar } from '../runtime/fixtures/busybox-image';
import { leftovers, requireRoot, TestEnv } from '../runtime/helpers';
import { CliEnv, CliResult } from './cli-harness';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls until the check passes (containers start asynchronously to the CLI's exit). */
async function eventually(what: string, check: () => Promise<boolean>, tries = 100): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return;
    await sleep(50);
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** What a TCP server on 127.0.0.1:port sends, retrying while the container's listener comes up. */
async function readFromHostPort(port: number): Promise<string> {
  for (let i = 0; i < 60; i++) {
    const got = await new Promise<string>((resolve) => {
      let data = '';
      const s = net.connect({ host: '127.0.0.1', port });
      s.setEncoding('utf8');
      s.on('data', (d: string) => { data += d; });
      s.on('error', () => resolve(''));
      s.on('close', () => resolve(data));
    });
    if (got !== '') return got;
    await sleep(50);
  }
  return '';
}

const lines = (s: string): string[] => s.split('\n').filter((l) => l !== '');

/** Asserts a user-mistake error: exit code, one line of cause (plus at most one of advice), no stack trace. */
function assertCleanError(r: CliResult, code: number, cause: RegExp): void {
  assert.equal(r.code, code, `exit code; stderr: ${r.stderr}`);
  const l = lines(r.stderr);
  assert.ok(l.length >= 1 && l.length <= 2, `one or two lines of error, got: ${r.stderr}`);
  assert.match(l[0], cause);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
}

describe('shoal CLI: single containers and images, run as a child process', function () {
  this.timeout(60_000);
  let env: CliEnv;
  let image: { dir: string; tarball: string };

  before(async () => {
    requireRoot();
    env = new CliEnv(0);
    image = await buildBusyboxImage();
  });

  after(async () => {
    await env?.cleanup();
    if (image) fs.rmSync(image.dir, { recursive: true, force: true });
  });

  it('loads a docker save tarball (from -i and from stdin) and lists it in images and image ls', async () => {
    const r = await env.run('load', '-i', image.tarball);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'Loaded image: busybox:latest\n');
    const again = await env.start(['load'], { stdinFile: image.tarball }).done;
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout, 'Loaded image: busybox:latest\n');
    const imgs = await env.run('images');
    assert.equal(imgs.code, 0, imgs.stderr);
    const [header, ...rows] = lines(imgs.stdout);
    assert.match(header, /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/);
    assert.equal(rows.length, 1);
    assert.match(rows[0], /^busybox\s+latest\s+[0-9a-f]{12}\s+.+ ago\s+[\d.]+[kM]B$/);
    assert.equal((await env.run('image', 'ls')).stdout, imgs.stdout);
  });

  it('import makes a one-layer image from a root filesystem tarball that run can start', async () => {
    const rootfs = path.join(image.dir, 'rootfs.tar');
    fs.writeFileSync(rootfs, await busyboxRootfsTar());
    const r = await env.run('import', rootfs, 'mybox:v1');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^sha256:[0-9a-f]{64}\n$/);
    assert.match((await env.run('images')).stdout, /\nmybox\s+v1\s+[0-9a-f]{12}\s/);
    const run = await env.run('run', '--rm', '--network', 'none', 'mybox:v1', 'echo', 'imported');
    assert.equal(run.stdout, 'imported\n', run.stderr);
    assertCleanError(await env.run('run', '--rm', '--network', 'none', 'mybox:v1'), 125, /no command specified: image mybox:v1 has no Cmd or Entrypoint/);
    assert.equal((await env.run('rmi', 'mybox:v1')).code, 0);
  });

  it('run --rm prints the container output, exits 0 and leaves no container', async () => {
    const r = await env.run('run', '--rm', '--network', 'none', 'busybox', 'echo', 'hi');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'hi\n');
    assert.equal((await env.run('ps', '-a', '-q')).stdout, '');
  });

  it('run exits with the container exit code and passes stderr through', async () => {
    const r = await env.run('run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'echo oops >&2; exit 3');
    assert.equal(r.code, 3);
    assert.equal(r.stderr, 'oops\n');
  });

  it('run passes hostname, workdir, user, env, --read-only, named volumes and --init to the container', async () => {
    const script = 'hostname; pwd; id -u; echo "$GREETING"; echo $$; touch /rootfs-write 2>/dev/null || echo root-ro; echo kept > /data/f';
    const r = await env.run('run', '--rm', '--network', 'none', '--hostname', 'box1', '-w', '/tmp', '-u', '0', '-e', 'GREETING=hello', '--read-only', '-v', 'clidata:/data', '--init', 'busybox', 'sh', '-c', script);
    assert.equal(r.code, 0, r.stderr);
    const [hostname, cwd, uid, greeting, pid, ro] = lines(r.stdout);
    assert.deepEqual([hostname, cwd, uid, greeting, ro], ['box1', '/tmp', '0', 'hello', 'root-ro']);
    assert.notEqual(pid, '1', 'with --init the command is not PID 1');
    const again = await env.run('run', '--rm', '--network', 'none', '-u', 'nobody', '-v', 'clidata:/data:ro', 'busybox', 'sh', '-c', 'id -un; cat /data/f; echo $$');
    assert.deepEqual(lines(again.stdout), ['nobody', 'kept', '1'], 'the named volume outlives its first container');
  });

  it('run exits 127 for a command missing from the image and 126 for one that cannot be executed, removing the container', async () => {
    const missing = await env.run('run', '--rm', '--network', 'none', 'busybox', 'nosuchcmd');
    assertCleanError(missing, 127, /cannot run "nosuchcmd" in the container/);
    const denied = await env.run('run', '--rm', '--network', 'none', 'busybox', '/etc/passwd');
    assertCleanError(denied, 126, /cannot run "\/etc\/passwd" in the container: permission denied/);
    assert.equal((await env.run('ps', '-a', '-q')).stdout, '');
  });

  it('logs -f follows a container until it exits; --tail keeps the last lines and -t adds timestamps', async () => {
    const r = await env.run('run', '-d', '--network', 'none', 'busybox', 'sh', '-c', 'for i in 1 2 3 4 5; do echo line$i; sleep 0.1; done');
    assert.equal(r.code, 0, r.stderr);
    const id = r.stdout.trim().slice(0, 12);
    const followed = await env.run('logs', '-f', id);
    assert.equal(followed.code, 0, followed.stderr);
    assert.equal(followed.stdout, 'line1\nline2\nline3\nline4\nline5\n');
    assert.equal((await env.run('logs', '--tail', '2', id)).stdout, 'line4\nline5\n');
    assert.match((await env.run('logs', '-t', '--tail', '1', id)).stdout, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z line5\n$/);
    assert.equal((await env.run('logs', '--since', '1h', id)).stdout.split('\n').length, 6);
    assert.equal((await env.run('rm', id)).code, 0);
  });

  it('run -d is listed by ps, shows its output in logs, stops within its grace on SIGTERM, and rm removes it', async () => {
    const script = 'echo ready; trap "echo got-term; exit 7" TERM; while :; do sleep 0.1; done';
    const r = await env.run('run', '-d', '--name', 'waiter', '--network', 'none', 'busybox', 'sh', '-c', script);
    assert.equal(r.code, 0, r.stderr);
    const id = r.stdout.trim();
    assert.match(id, /^[0-9a-f]{32}$/);
    const ps = await env.run('ps');
    const [header, ...rows] = lines(ps.stdout);
    assert.match(header, /^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/);
    assert.equal(rows.length, 1);
    assert.match(rows[0], new RegExp(`^${id.slice(0, 12)}\\s+busybox\\s+"sh -c echo ready;.*"\\s+.+ ago\\s+Up .+\\s+waiter$`));
    await eventually('ready in the logs', async () => (await env.run('logs', 'waiter')).stdout === 'ready\n');
    const stop = await env.run('stop', '-t', '20', 'waiter');
    assert.equal(stop.code, 0, stop.stderr);
    // Exit 7 comes from the trap: the container ended on SIGTERM, not on the SIGKILL after the grace.
    assert.equal((await env.run('logs', 'waiter')).stdout, 'ready\ngot-term\n');
    assert.match(lines((await env.run('ps', '-a')).stdout)[1], /Exited \(7\) .+ ago\s+waiter$/);
    assert.equal((await env.run('ps', '-q')).stdout, '', 'ps without -a lists only running containers');
    const rm = await env.run('rm', 'waiter');
    assert.equal(rm.code, 0, rm.stderr);
    assert.equal((await env.run('ps', '-a', '-q')).stdout, '');
    assert.equal(fs.readdirSync(path.join(env.root, 'containers')).length, 0);
  });

  it('foreground run forwards SIGTERM to the container and exits with its code', async () => {
    const child = env.start(['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'echo ready; trap "echo bye; exit 9" TERM; while :; do sleep 0.1; done']);
    await eventually('ready from the foreground container', () => Promise.resolve(child.stdoutSoFar() === 'ready\n'));
    process.kill(child.pid, 'SIGTERM');
    const r = await child.done;
    assert.equal(r.code, 9, r.stderr);
    assert.equal(r.stdout, 'ready\nbye\n');
    assert.equal((await env.run('ps', '-a', '-q')).stdout, '', '--rm removed it');
  });

  it('--memory, --cpus and --pids-limit reach the container cgroup', async () => {
    const r = await env.run('run', '-d', '--network', 'none', '--memory', '64m', '--cpus', '0.5', '--pids-limit', '50', 'busybox', 'sleep', '30');
    assert.equal(r.code, 0, r.stderr);
    const id = r.stdout.trim();
    const layout = detectCgroupLayout();
    const read = (ctrl: string, file: string): string => fs.readFileSync(path.join(layout.root, layout.version === 1 ? ctrl : '', env.cgroupParent, id, file), 'utf8').trim();
    if (layout.version === 1) {
      assert.equal(read('memory', 'memory.limit_in_bytes'), String(64 * 1024 * 1024));
      assert.equal(read('pids', 'pids.max'), '50');
      assert.equal(Number(read('cpu', 'cpu.cfs_quota_us')) / Number(read('cpu', 'cpu.cfs_period_us')), 0.5);
    } else {
      assert.equal(read('', 'memory.max'), String(64 * 1024 * 1024));
      assert.equal(read('', 'pids.max'), '50');
      const [quota, period] = read('', 'cpu.max').split(' ').map(Number);
      assert.equal(quota / period, 0.5);
    }
    assert.equal((await env.run('rm', '-f', id)).code, 0);
  });

  it('-p publishes a container port on the host, reachable on 127.0.0.1, and ps shows it', async () => {
    const hostPort = 21000 + (process.pid % 20000);
    const r = await env.run('run', '-d', '-p', `${hostPort}:8080`, 'busybox', 'sh', '-c', 'while :; do echo hello-from-container | nc -l -p 8080; done');
    assert.equal(r.code, 0, r.stderr);
    assert.match((await env.run('ps')).stdout, new RegExp(`0\\.0\\.0\\.0:${hostPort}->8080/tcp`));
    assert.equal((await readFromHostPort(hostPort)).trim(), 'hello-from-container');
    assert.equal((await env.run('rm', '-f', r.stdout.trim())).code, 0);
  });

  it('refuses bad flags with one line naming the flag and the value, exit 125, creating nothing', async () => {
    assertCleanError(await env.run('run', '--memory', '12q', 'busybox', 'true'), 125, /invalid --memory "12q": /);
    assertCleanError(await env.run('run', '--cpus', 'lots', 'busybox', 'true'), 125, /invalid --cpus "lots": /);
    assertCleanError(await env.run('run', '-p', '80', 'busybox', 'true'), 125, /invalid --publish "80": expected HOST:CONTAINER/);
    assertCleanError(await env.run('run', '--pids-limit', '-3', 'busybox', 'true'), 125, /invalid --pids-limit "-3": /);
    assertCleanError(await env.run('run', '--network', 'wifi', 'busybox', 'true'), 125, /invalid --network "wifi": /);
    assertCleanError(await env.run('ps', '--bogus'), 125, /unknown flag: --bogus/);
    assertCleanError(await env.run('run'), 125, /requires at least 1 argument/);
    assertCleanError(await env.run('run', '--rm', '--network', 'none', 'nosuchimage', 'true'), 125, /image nosuchimage not found/);
    assert.equal((await env.run('ps', '-a', '-q')).stdout, '');
  });

  it('refuses rmi while a container uses the image, and removes it once none does', async () => {
    const r = await env.run('run', '-d', '--network', 'none', 'busybox', 'sleep', '30');
    assert.equal(r.code, 0, r.stderr);
    const refused = await env.run('rmi', 'busybox');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /in use by a container/);
    assert.match((await env.run('images')).stdout, /\nbusybox\s+latest\s/);
    assert.equal((await env.run('rm', '-f', r.stdout.trim())).code, 0);
    const ok = await env.run('rmi', 'busybox');
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^Untagged: .*busybox:latest\nDeleted: sha256:[0-9a-f]{64}\n$/);
    assert.equal(lines((await env.run('images')).stdout).length, 1, 'only the header is left');
  });

  it('leaves no mount, cgroup, monitor or container directory behind once its containers are removed', async () => {
    env.stopShimServer();
    await eventually('the shim server to exit', () => Promise.resolve(leftovers(env as unknown as TestEnv).every((l) => !l.includes('serve'))));
    assert.deepEqual(leftovers(env as unknown as TestEnv), []);
  });
});
