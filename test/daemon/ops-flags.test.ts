import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DAEMON_DEFAULTS, parseDaemonArgs, parseDaemonCommand } from '../../src/daemon/flags';
import { ShoalError } from '../../src/types/errors';

function refused(argv: string[], message: RegExp, env: Record<string, string> = {}): void {
  assert.throws(() => parseDaemonArgs(argv, env), (err: unknown) => {
    assert.ok(ShoalError.is(err, 'InvalidArgument'), `expected InvalidArgument, got ${String(err)}`);
    assert.match(err.message, message);
    return true;
  });
}

describe('shoald flags and config file', () => {
  let dir = '';
  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-ops-flags-')); });
  afterEach(() => { fs.rmSync(dir, { recursive: true, force: true }); });

  it('with no flags, uses dockerd-like defaults: /var/lib/shoal, /run/shoal/shoal.sock, 0.0.0.0:2377, info', () => {
    const cfg = parseDaemonArgs([], {});
    assert.deepEqual(cfg, DAEMON_DEFAULTS);
    assert.equal(cfg.dataRoot, '/var/lib/shoal');
    assert.equal(cfg.socketPath, '/run/shoal/shoal.sock');
    assert.equal(cfg.runRoot, '/run/shoal');
    assert.equal(cfg.listenAddr, '0.0.0.0:2377');
    assert.equal(cfg.logLevel, 'info');
  });

  it('reads every flag, in both --flag value and --flag=value forms, and repeatable labels', () => {
    const cfg = parseDaemonArgs([
      '--data-root', '/srv/shoal', '--exec-root=/tmp/run-shoal', '--host', 'unix:///tmp/x/api.sock', '--listen-addr', '10.0.0.1:4000',
      '--advertise-addr=10.0.0.1', '--metrics-addr', '127.0.0.1:9323', '--log-level', 'debug', '--events-nats', 'nats://127.0.0.1:4222',
      '--events-nats-buffer', '500', '--label', 'zone=a', '--label=disk=ssd', '--label', 'empty=',
    ], {});
    assert.deepEqual(cfg, {
      dataRoot: '/srv/shoal', runRoot: '/tmp/run-shoal', socketPath: '/tmp/x/api.sock', listenAddr: '10.0.0.1:4000', advertiseAddr: '10.0.0.1',
      metricsAddr: '127.0.0.1:9323', logLevel: 'debug', eventsNats: 'nats://127.0.0.1:4222', eventsNatsBuffer: 500, labels: { zone: 'a', disk: 'ssd', empty: '' },
    });
  });

  it('accepts --host as a plain path and IPv6 listen addresses in brackets', () => {
    const cfg = parseDaemonArgs(['--host', '/tmp/s.sock', '--listen-addr', '[::1]:2377', '--advertise-addr', '[fd00::1]:2377'], {});
    assert.equal(cfg.socketPath, '/tmp/s.sock');
    assert.equal(cfg.listenAddr, '[::1]:2377');
  });

  it('refuses each bad value naming the flag and the value', () => {
    refused(['--listen-addr', 'abc'], /^--listen-addr: expected host:port, got "abc"$/);
    refused(['--listen-addr', '1.2.3.4:70000'], /^--listen-addr: expected host:port with a port from 1 to 65535, got "1.2.3.4:70000"$/);
    refused(['--metrics-addr', 'localhost'], /^--metrics-addr: expected host:port, got "localhost"$/);
    refused(['--advertise-addr', 'a b'], /^--advertise-addr: expected host or host:port, got "a b"$/);
    refused(['--log-level', 'loud'], /^--log-level: expected debug, info, warn or error, got "loud"$/);
    refused(['--events-nats', 'http://x:4222'], /^--events-nats: expected nats:\/\/host:port, got "http:\/\/x:4222"$/);
    refused(['--events-nats-buffer', '0'], /^--events-nats-buffer: expected a positive integer of at most 9 digits, got "0"$/);
    refused(['--host', 'tcp://0.0.0.0:2375'], /^--host: expected unix:\/\/\/path\/to\/socket or a path .*got "tcp:\/\/0.0.0.0:2375"$/);
    refused(['--host', `/tmp/${'x'.repeat(120)}.sock`], /^--host: expected a socket path of at most 107 bytes/);
    refused(['--label', 'novalue'], /^--label: expected k=v, got "novalue"$/);
    refused(['--data-root', ''], /^--data-root: expected a directory path, got ""$/);
  });

  it('reads the container network and cgroup settings only when given', () => {
    const cfg = parseDaemonArgs(['--bridge', 'shtest0', '--bridge-subnet', '10.77.0.0/24', '--cgroup-parent', '/system.slice/shoal'], {});
    assert.equal(cfg.bridgeName, 'shtest0');
    assert.equal(cfg.bridgeSubnet, '10.77.0.0/24');
    assert.equal(cfg.cgroupParent, 'system.slice/shoal');
    const plain = parseDaemonArgs([], {});
    assert.ok(!('bridgeName' in plain) && !('bridgeSubnet' in plain) && !('cgroupParent' in plain));
    refused(['--bridge', 'way-too-long-bridge-name'], /^--bridge: expected an interface name of 1-15 letters, digits, _ or -, got "way-too-long-bridge-name"$/);
    refused(['--bridge-subnet', '10.77.0.1/24'], /^--bridge-subnet: expected an IPv4 CIDR with a prefix of 16 to 29 and no host bits set, got "10.77.0.1\/24"$/);
    refused(['--cgroup-parent', '../escape'], /^--cgroup-parent: expected a cgroup path such as shoal or system.slice\/shoal, got "..\/escape"$/);
  });

  it('refuses unknown flags, positional arguments and a flag missing its value', () => {
    refused(['--swarm'], /^unknown flag: --swarm$/);
    refused(['run'], /unexpected argument "run"/);
    refused(['--data-root'], /^flag needs an argument: --data-root$/);
  });

  it('recognizes --help and --version', () => {
    const help = parseDaemonCommand(['--data-root', '/x', '--help'], {});
    assert.equal(help.kind, 'help');
    assert.ok(help.kind === 'help' && /--listen-addr/.test(help.text) && /--events-nats/.test(help.text));
    const version = parseDaemonCommand(['--version'], {});
    assert.ok(version.kind === 'version' && /^shoald version \d+\.\d+\.\d+/.test(version.text), JSON.stringify(version));
  });

  it('reads a YAML config file with kebab-case keys; flags win over it', () => {
    const file = path.join(dir, 'shoald.yaml');
    fs.writeFileSync(file, 'data-root: /srv/from-file\nlog-level: warn\nmetrics-addr: 127.0.0.1:9100\nlabels:\n  zone: b\n  rack: 7\n');
    const cfg = parseDaemonArgs(['--config', file, '--log-level', 'error', '--label', 'zone=c'], {});
    assert.equal(cfg.dataRoot, '/srv/from-file');
    assert.equal(cfg.logLevel, 'error');
    assert.equal(cfg.metricsAddr, '127.0.0.1:9100');
    assert.deepEqual(cfg.labels, { zone: 'c', rack: '7' });
  });

  it('reads a JSON config file with camelCase keys, also from $SHOALD_CONFIG', () => {
    const file = path.join(dir, 'shoald.json');
    fs.writeFileSync(file, JSON.stringify({ dataRoot: '/srv/json', listenAddr: '127.0.0.1:2400', eventsNats: 'nats://127.0.0.1:4222', label: ['a=1'] }));
    const cfg = parseDaemonArgs([], { SHOALD_CONFIG: file });
    assert.equal(cfg.dataRoot, '/srv/json');
    assert.equal(cfg.listenAddr, '127.0.0.1:2400');
    assert.equal(cfg.eventsNats, 'nats://127.0.0.1:4222');
    assert.deepEqual(cfg.labels, { a: '1' });
  });

  it('refuses a config file with an unknown key, a bad value, bad syntax, or that is missing, naming the file and key', () => {
    const file = path.join(dir, 'c.yaml');
    fs.writeFileSync(file, 'data-root: /x\nswarm-mode: true\n');
    refused(['--config', file], new RegExp(`^${file}: swarm-mode: unknown setting$`));
    fs.writeFileSync(file, 'listenAddr: nowhere\n');
    refused(['--config', file], new RegExp(`^${file}: listenAddr: expected host:port, got "nowhere"$`));
    fs.writeFileSync(file, 'a: [\n');
    refused(['--config', file], new RegExp(`^--config: ${file} is not valid YAML`));
    fs.writeFileSync(file, '- a\n- b\n');
    refused(['--config', file], /must hold a mapping of settings, got a list/);
    refused(['--config', path.join(dir, 'missing.json')], /^--config: cannot read ".*missing.json": ENOENT/);
  });
});
