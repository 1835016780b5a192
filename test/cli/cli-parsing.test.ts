import assert from 'node:assert/strict';
import { statusText } from '../../src/cli/commands/containers';
import { repoAndTag } from '../../src/cli/commands/images';
import { runConfig } from '../../src/cli/commands/run';
import { FlagError, parseFlags } from '../../src/cli/flags';
import { humanSize } from '../../src/cli/human';
import { mergeImageConfig } from '../../src/cli/local-backend';
import { parseBytes, parsePort, parseSince, parseVolume } from '../../src/cli/units';

const runFlagsOf = (argv: string[]): ReturnType<typeof parseFlags> =>
  parseFlags(argv, [
    { name: 'rm', kind: 'bool' }, { name: 'detach', short: 'd', kind: 'bool' }, { name: 'memory', short: 'm', kind: 'value' },
    { name: 'publish', short: 'p', kind: 'list' }, { name: 'env', short: 'e', kind: 'list' }, { name: 'volume', short: 'v', kind: 'list' },
  ], { stopAtPositional: true, command: 'run' });

describe('shoal CLI: flag and value parsing', () => {
  it('leaves everything after the image to the container command, flags included', () => {
    const f = runFlagsOf(['--rm', '-d', 'busybox', 'ls', '-l', '--rm']);
    assert.deepEqual([...f.bools].sort(), ['detach', 'rm']);
    assert.deepEqual(f.args, ['busybox', 'ls', '-l', '--rm']);
  });

  it('reads values as --flag=v, --flag v, -fv and -f v, and repeats list flags', () => {
    const f = runFlagsOf(['--memory=64m', '-p', '80:80', '-p8081:81', '-e', 'A=1', '--env', 'B=2', 'img']);
    assert.equal(f.values.get('memory'), '64m');
    assert.deepEqual(f.lists.get('publish'), ['80:80', '8081:81']);
    assert.deepEqual(f.lists.get('env'), ['A=1', 'B=2']);
  });

  it('names an unknown flag and a flag missing its value', () => {
    assert.throws(() => runFlagsOf(['--bogus', 'img']), (e: Error) => e instanceof FlagError && e.message === 'unknown flag: --bogus');
    assert.throws(() => runFlagsOf(['-x', 'img']), /unknown shorthand flag: 'x' in -x/);
    assert.throws(() => runFlagsOf(['--memory']), /flag needs an argument: --memory/);
  });

  it('parses docker sizes in powers of 1024 and names the bad value', () => {
    assert.equal(parseBytes('--memory', '64m'), 64 * 1024 * 1024);
    assert.equal(parseBytes('--memory', '1g'), 1024 ** 3);
    assert.equal(parseBytes('--memory', '1.5k'), 1536);
    assert.equal(parseBytes('--memory', '4096'), 4096);
    assert.throws(() => parseBytes('--memory', '12q'), /invalid --memory "12q": expected a size/);
  });

  it('parses published ports with their protocol and refuses malformed ones', () => {
    assert.deepEqual(parsePort('-p', '8080:80'), { hostPort: 8080, containerPort: 80, protocol: 'tcp' });
    assert.deepEqual(parsePort('-p', '5353:53/udp'), { hostPort: 5353, containerPort: 53, protocol: 'udp' });
    assert.throws(() => parsePort('-p', '80'), /invalid -p "80": expected HOST:CONTAINER/);
    assert.throws(() => parsePort('-p', '99999:80'), /port "99999" must be a number in 1-65535/);
    assert.throws(() => parsePort('-p', '80:80/sctp'), /protocol must be tcp or udp/);
  });

  it('tells bind mounts from named volumes and reads :ro', () => {
    assert.deepEqual(parseVolume('-v', '/srv/data:/data:ro', '/'), { type: 'bind', source: '/srv/data', target: '/data', readOnly: true });
    assert.deepEqual(parseVolume('-v', './x:/x', '/home/u'), { type: 'bind', source: '/home/u/x', target: '/x', readOnly: false });
    assert.deepEqual(parseVolume('-v', 'cache:/cache', '/'), { type: 'volume', name: 'cache', target: '/cache', readOnly: false });
    assert.throws(() => parseVolume('-v', 'cache:relative', '/'), /container path must be absolute/);
    assert.throws(() => parseVolume('-v', '/a:/b:rx', '/'), /mode "rx" must be ro or rw/);
  });

  it('reads --since as a time, a Unix timestamp or a duration back from now', () => {
    const now = Date.parse('2026-01-02T03:04:05Z');
    assert.equal(parseSince('--since', '2026-01-02T03:00:00Z', now), Date.parse('2026-01-02T03:00:00Z'));
    assert.equal(parseSince('--since', '1700000000', now), 1_700_000_000_000);
    assert.equal(parseSince('--since', '1h30m', now), now - 90 * 60_000);
    assert.throws(() => parseSince('--since', 'yesterday', now), /invalid --since "yesterday"/);
  });

  it('builds the container config from run flags, refusing ports without the bridge', () => {
    const f = parseFlags(['--memory', '64m', '--cpus', '0.5', '--pids-limit', '50', '-e', 'A=1', '-e', 'HOME', '--stop-timeout', '3', 'img'],
      [{ name: 'memory', kind: 'value' }, { name: 'cpus', kind: 'value' }, { name: 'pids-limit', kind: 'value' }, { name: 'env', short: 'e', kind: 'list' }, { name: 'stop-timeout', kind: 'value' }],
      { stopAtPositional: true, command: 'run' });
    const c = runConfig(f, { env: { HOME: '/root' }, cwd: '/' });
    assert.deepEqual(c.limits, { memoryBytes: 64 * 1024 * 1024, nanoCpus: 500_000_000, pidsLimit: 50 });
    assert.deepEqual(c.env, ['A=1', 'HOME=/root']);
    assert.equal(c.stopGraceMs, 3000);
    const g = parseFlags(['--network', 'none', '-p', '80:80', 'img'], [{ name: 'network', kind: 'value' }, { name: 'publish', short: 'p', kind: 'list' }], { stopAtPositional: true, command: 'run' });
    assert.throws(() => runConfig(g, { env: {}, cwd: '/' }), /ports can only be published with --network bridge/);
  });

  it('merges the image config as docker does: command replaces Cmd, --entrypoint drops it, env overrides by key', () => {
    const img = { Entrypoint: ['/entry'], Cmd: ['serve'], Env: ['PATH=/bin', 'A=img'], WorkingDir: '/app', User: 'nobody' };
    const base = { image: 'x', config: { env: ['A=mine'] } };
    assert.deepEqual(mergeImageConfig({ ...base, cmd: [] }, img).cmd, ['/entry', 'serve']);
    assert.deepEqual(mergeImageConfig({ ...base, cmd: ['debug'] }, img).cmd, ['/entry', 'debug']);
    assert.deepEqual(mergeImageConfig({ ...base, cmd: [], entrypoint: ['/bin/sh'] }, img).cmd, ['/bin/sh']);
    const c = mergeImageConfig({ ...base, cmd: [] }, img);
    assert.deepEqual(c.env, ['PATH=/bin', 'A=mine']);
    assert.equal(c.workingDir, '/app');
    assert.equal(c.user, 'nobody');
    assert.throws(() => mergeImageConfig({ image: 'x', cmd: [], config: {} }, {}), /no command specified: image x has no Cmd or Entrypoint/);
  });

  it('prints images and statuses as docker does', () => {
    assert.deepEqual(repoAndTag('docker.io/library/busybox:latest'), ['busybox', 'latest']);
    assert.deepEqual(repoAndTag('localhost:5000/team/app:v2'), ['localhost:5000/team/app', 'v2']);
    assert.equal(humanSize(2_010_000), '2.01MB');
    const now = Date.parse('2026-01-02T03:04:05Z');
    const c = { id: 'a', name: 'n', image: 'i', command: [], createdAt: '2026-01-02T03:00:00Z', ports: [] };
    assert.equal(statusText({ ...c, status: 'running', startedAt: '2026-01-02T03:04:00Z' }, now), 'Up 5 seconds');
    assert.equal(statusText({ ...c, status: 'exited', exitCode: 3, finishedAt: '2026-01-02T02:04:05Z' }, now), 'Exited (3) About an hour ago');
    assert.equal(statusText({ ...c, status: 'created' }, now), 'Created');
  });
});
