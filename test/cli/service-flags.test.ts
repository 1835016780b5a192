import assert from 'node:assert/strict';
import type { DServiceSpec } from '../../src/cli/docker-types';
import { FlagError, parseFlags } from '../../src/cli/flags';
import { createFlags, createSpec, parsePublish, splitWords, updateFlags, updateSpec } from '../../src/cli/service-flags';
import { swarmSpecUpdate } from '../../src/cli/commands/swarm';
import { generatedName } from '../../src/cli/commands/service';
import { nodeSpecUpdate } from '../../src/cli/commands/node';
import { formatDurationNs, parseDurationNs } from '../../src/cli/units';

const create = (argv: string[], env: NodeJS.ProcessEnv = {}): DServiceSpec =>
  createSpec(parseFlags(argv, [...createFlags, { name: 'help', kind: 'bool' }], { stopAtPositional: true, command: 'service create' }), env);
const update = (spec: DServiceSpec, argv: string[]): DServiceSpec =>
  updateSpec(spec, parseFlags(argv, updateFlags, { command: 'service update' }), {});

describe('shoal CLI: service flags to a Docker ServiceSpec', () => {
  it('maps every create flag to its field of the spec, in Docker units', () => {
    const s = create([
      '--name', 'web', '--replicas', '3', '-e', 'A=1', '--env', 'HOME', '--label', 'tier=front', '--constraint', 'node.role==worker',
      '--placement-pref', 'spread=node.labels.zone', '--replicas-max-per-node', '2', '--limit-cpu', '0.5', '--limit-memory', '50M',
      '--reserve-cpu', '0.25', '--reserve-memory', '1g', '--restart-condition', 'on-failure', '--restart-delay', '2s',
      '--restart-max-attempts', '4', '--restart-window', '1m30s', '--update-parallelism', '2', '--update-delay', '10s',
      '--update-failure-action', 'rollback', '--update-monitor', '500ms', '--update-max-failure-ratio', '0.25', '--update-order', 'start-first',
      '--rollback-parallelism', '0', '--rollback-order', 'stop-first', '-p', '8080:80', '--publish', 'published=5353,target=53,protocol=udp,mode=host',
      '--stop-grace-period', '3s', '--hostname', 'h', '--workdir', '/app', '--user', 'nobody', 'busybox', 'httpd', '-f', '-p', '80',
    ], { HOME: '/root' });
    assert.deepEqual(s, {
      Name: 'web',
      Labels: { tier: 'front' },
      TaskTemplate: {
        ContainerSpec: { Image: 'busybox', Args: ['httpd', '-f', '-p', '80'], Env: ['A=1', 'HOME=/root'], Hostname: 'h', Dir: '/app', User: 'nobody', StopGracePeriod: 3e9 },
        Placement: { Constraints: ['node.role==worker'], Preferences: [{ Spread: { SpreadDescriptor: 'node.labels.zone' } }], MaxReplicas: 2 },
        Resources: { Limits: { NanoCPUs: 5e8, MemoryBytes: 50 * 1024 * 1024 }, Reservations: { NanoCPUs: 2.5e8, MemoryBytes: 1024 ** 3 } },
        RestartPolicy: { Condition: 'on-failure', Delay: 2e9, MaxAttempts: 4, Window: 90e9 },
      },
      Mode: { Replicated: { Replicas: 3 } },
      UpdateConfig: { Parallelism: 2, Delay: 10e9, FailureAction: 'rollback', Monitor: 5e8, MaxFailureRatio: 0.25, Order: 'start-first' },
      RollbackConfig: { Parallelism: 0, Order: 'stop-first' },
      EndpointSpec: { Ports: [
        { Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' },
        { Protocol: 'udp', TargetPort: 53, PublishedPort: 5353, PublishMode: 'host' },
      ] },
    });
  });

  it('--init runs an init in each task; on update --init=false turns it off and no --init leaves it as it is', () => {
    const s = create(['--init', 'busybox']);
    assert.equal(s.TaskTemplate.ContainerSpec.Init, true);
    assert.equal(create(['busybox']).TaskTemplate.ContainerSpec.Init, undefined);
    assert.equal(update(s, ['--image', 'busybox:2']).TaskTemplate.ContainerSpec.Init, true);
    assert.equal(update(s, ['--init=false']).TaskTemplate.ContainerSpec.Init, false);
    assert.throws(() => create(['--init=maybe', 'busybox']), /invalid --init "maybe": expected true or false/);
  });

  it('creates a global service and refuses replica counts for it', () => {
    assert.deepEqual(create(['--mode', 'global', 'busybox']).Mode, { Global: {} });
    assert.throws(() => create(['--mode', 'global', '--replicas', '2', 'busybox']), /--replicas can only be used with replicated mode/);
    assert.throws(() => create(['--mode', 'both', 'busybox']), /invalid --mode "both": expected replicated, global/);
  });

  it('refuses bad values naming the flag and the value', () => {
    const cases: [string[], RegExp][] = [
      [['--replicas', 'three', 'x'], /invalid --replicas "three": expected an integer/],
      [['--limit-memory', '50Q', 'x'], /invalid --limit-memory "50Q"/],
      [['--limit-cpu', 'lots', 'x'], /invalid --limit-cpu "lots"/],
      [['--update-delay', '10', 'x'], /invalid --update-delay "10": expected a duration like 10s/],
      [['--update-failure-action', 'explode', 'x'], /invalid --update-failure-action "explode": expected pause, continue, rollback/],
      [['--rollback-failure-action', 'rollback', 'x'], /invalid --rollback-failure-action "rollback": expected pause, continue/],
      [['--update-max-failure-ratio', '1.5', 'x'], /between 0 and 1/],
      [['--restart-condition', 'always', 'x'], /invalid --restart-condition "always"/],
      [['--constraint', 'node.colour==red', 'x'], /invalid --constraint "node.colour==red": has unknown key node.colour/],
      [['--placement-pref', 'pack=node.labels.x', 'x'], /expected spread=node.labels.KEY/],
      [['-p', '99999:80', 'x'], /port "99999" must be a number in 1-65535/],
      [['--name', '-bad', 'x'], /invalid --name "-bad"/],
      [['--workdir', 'rel', 'x'], /invalid --workdir "rel": must be an absolute path/],
    ];
    for (const [argv, re] of cases) assert.throws(() => create(argv), (e: Error) => e instanceof FlagError && re.test(e.message), argv.join(' '));
  });

  it('names a service created without --name after its image', () => {
    assert.match(generatedName('busybox:latest'), /^busybox-[0-9a-f]{6}$/);
    assert.match(generatedName('localhost:5000/team/web-app@sha256:abc'), /^web-app-[0-9a-f]{6}$/);
    assert.match(generatedName('registry.example/team/web-app:v2'), /^web-app-[0-9a-f]{6}$/);
    assert.notEqual(generatedName('busybox'), generatedName('busybox'));
  });

  it('reads the short and long forms of --publish', () => {
    assert.deepEqual(parsePublish('-p', '80'), { Protocol: 'tcp', TargetPort: 80, PublishMode: 'ingress' });
    assert.deepEqual(parsePublish('-p', '5353:53/udp'), { Protocol: 'udp', TargetPort: 53, PublishedPort: 5353, PublishMode: 'ingress' });
    assert.throws(() => parsePublish('-p', 'published=80'), /target= is required/);
    assert.throws(() => parsePublish('-p', 'target=80,colour=red'), /unknown key "colour"/);
  });

  it('applies update flags to the current spec and keeps everything else', () => {
    const current = create(['--name', 'web', '--replicas', '2', '-e', 'A=1', '-e', 'B=2', '--label', 'x=1', '--constraint', 'node.role==worker', '-p', '8080:80', 'busybox:1', 'sleep', '100']);
    const s = update(current, [
      '--image', 'busybox:2', '--args', 'sh -c "sleep 200"', '--env-add', 'A=9', '--env-rm', 'B', '--label-add', 'y=2', '--label-rm', 'x',
      '--constraint-rm', 'node.role==worker', '--constraint-add', 'node.labels.zone==a', '--replicas', '4', '--force', '--publish-rm', '80',
      '--publish-add', '9090:90', '--update-parallelism', '3',
    ]);
    assert.equal(s.Name, 'web');
    assert.deepEqual(s.Labels, { y: '2' });
    assert.equal(s.TaskTemplate.ContainerSpec.Image, 'busybox:2');
    assert.deepEqual(s.TaskTemplate.ContainerSpec.Args, ['sh', '-c', 'sleep 200']);
    assert.deepEqual(s.TaskTemplate.ContainerSpec.Env, ['A=9']);
    assert.deepEqual(s.TaskTemplate.Placement?.Constraints, ['node.labels.zone==a']);
    assert.deepEqual(s.Mode, { Replicated: { Replicas: 4 } });
    assert.equal(s.TaskTemplate.ForceUpdate, 1);
    assert.deepEqual(s.EndpointSpec?.Ports, [{ Protocol: 'tcp', TargetPort: 90, PublishedPort: 9090, PublishMode: 'ingress' }]);
    assert.deepEqual(s.UpdateConfig, { Parallelism: 3 });
    assert.equal(current.TaskTemplate.ContainerSpec.Image, 'busybox:1', 'the current spec is not changed in place');
    assert.equal(update(s, ['--force']).TaskTemplate.ForceUpdate, 2);
  });

  it('splits --args as a shell would and refuses an unterminated quote', () => {
    assert.deepEqual(splitWords('--args', `echo 'a b' "c \\"d\\"" e\\ f`), ['echo', 'a b', 'c "d"', 'e f']);
    assert.throws(() => splitWords('--args', 'echo "oops'), /unterminated quote/);
  });

  it('reads and prints Go durations', () => {
    assert.equal(parseDurationNs('d', '1m30s'), 90e9);
    assert.equal(parseDurationNs('d', '1.5h'), 5400e9);
    assert.equal(parseDurationNs('d', '0'), 0);
    assert.throws(() => parseDurationNs('--x', '5 minutes'), /invalid --x "5 minutes"/);
    assert.equal(formatDurationNs(90e9), '1m30s');
    assert.equal(formatDurationNs(5e9), '5s');
    assert.equal(formatDurationNs(5e8), '500ms');
  });

  it('maps swarm update and node update flags onto the specs', () => {
    const s = swarmSpecUpdate({ Name: 'default', Orchestration: { TaskHistoryRetentionLimit: 5 } }, new Map([['task-history-limit', '2'], ['dispatcher-heartbeat', '10s'], ['cert-expiry', '720h']]));
    assert.deepEqual(s, { Name: 'default', Orchestration: { TaskHistoryRetentionLimit: 2 }, Dispatcher: { HeartbeatPeriod: 10e9 }, CAConfig: { NodeCertExpiry: 720 * 3600e9 } });
    assert.throws(() => swarmSpecUpdate({}, new Map([['dispatcher-heartbeat', '0']])), /must be more than 0/);
    const nf = parseFlags(['--availability', 'drain', '--label-add', 'zone=a', '--label-rm', 'old', '--role', 'manager'], [{ name: 'availability', kind: 'value' }, { name: 'label-add', kind: 'list' }, { name: 'label-rm', kind: 'list' }, { name: 'role', kind: 'value' }], { command: 'node update' });
    assert.deepEqual(nodeSpecUpdate({ Role: 'worker', Availability: 'active', Labels: { old: '1' } }, nf), { Role: 'manager', Availability: 'drain', Labels: { zone: 'a' } });
    const bad = parseFlags(['--availability', 'sleepy'], [{ name: 'availability', kind: 'value' }], { command: 'node update' });
    assert.throws(() => nodeSpecUpdate({ Role: 'worker', Availability: 'active' }, bad), /invalid --availability "sleepy": expected active, pause or drain/);
  });
});
