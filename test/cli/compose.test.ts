import assert from 'node:assert/strict';
import { parseCompose, stackServiceSpec } from '../../src/cli/compose';
import { ShoalError } from '../../src/types/errors';

const good = `
version: "3.8"
services:
  web:
    image: busybox:latest
    command: httpd -f -p 80
    entrypoint: ["/bin/sh", "-c"]
    environment:
      - A=1
      - B
    ports:
      - "8080:80"
      - 53/udp
      - target: 443
        published: 8443
        mode: host
    labels:
      role: front
    build: ./web
    deploy:
      replicas: 3
      labels: [tier=web]
      update_config: { parallelism: 2, delay: 10s, failure_action: rollback, monitor: 1m30s, max_failure_ratio: 0.5, order: start-first }
      rollback_config: { parallelism: 1, failure_action: pause }
      restart_policy: { condition: on-failure, delay: 5s, max_attempts: 3, window: 2m }
      resources:
        limits: { cpus: "0.5", memory: 50M }
        reservations: { cpus: 0.25, memory: 20M }
      placement:
        constraints: [node.role == worker]
        preferences: [{ spread: node.labels.zone }]
        max_replicas_per_node: 2
  agent:
    image: busybox
    environment: { MODE: fast, EMPTY: null, N: 3 }
    deploy: { mode: global }
networks:
  default: {}
`;

/** The error parseCompose throws for a file, as text. */
function errorOf(text: string): string {
  try {
    parseCompose(text, 'compose.yml');
  } catch (err) {
    assert.ok(ShoalError.is(err, 'InvalidArgument'), `a ShoalError, got ${String(err)}`);
    return err.message;
  }
  return assert.fail('expected the file to be refused');
}

const withWeb = (web: string): string => `services:\n  web:\n    image: busybox\n${web.split('\n').map((l) => `    ${l}`).join('\n')}\n`;

describe('shoal CLI: compose files for stack deploy', () => {
  it('reads every supported key into the service spec, in Docker units', () => {
    const p = parseCompose(good, 'compose.yml');
    assert.deepEqual(p.services.map((s) => s.name), ['web', 'agent']);
    const web = p.services[0].spec;
    assert.deepEqual(web, {
      TaskTemplate: {
        ContainerSpec: { Image: 'busybox:latest', Args: ['httpd', '-f', '-p', '80'], Command: ['/bin/sh', '-c'], Env: ['A=1', 'B='], Labels: { role: 'front' } },
        RestartPolicy: { Condition: 'on-failure', Delay: 5e9, MaxAttempts: 3, Window: 120e9 },
        Resources: { Limits: { NanoCPUs: 5e8, MemoryBytes: 50 * 1024 * 1024 }, Reservations: { NanoCPUs: 2.5e8, MemoryBytes: 20 * 1024 * 1024 } },
        Placement: { Constraints: ['node.role==worker'], Preferences: [{ Spread: { SpreadDescriptor: 'node.labels.zone' } }], MaxReplicas: 2 },
      },
      Mode: { Replicated: { Replicas: 3 } },
      EndpointSpec: { Ports: [
        { Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' },
        { Protocol: 'udp', TargetPort: 53, PublishMode: 'ingress' },
        { Protocol: 'tcp', TargetPort: 443, PublishedPort: 8443, PublishMode: 'host' },
      ] },
      UpdateConfig: { Parallelism: 2, Delay: 10e9, FailureAction: 'rollback', Monitor: 90e9, MaxFailureRatio: 0.5, Order: 'start-first' },
      RollbackConfig: { Parallelism: 1, FailureAction: 'pause' },
      Labels: { tier: 'web' },
    });
    assert.deepEqual(p.services[1].spec.Mode, { Global: {} });
    assert.deepEqual(p.services[1].spec.TaskTemplate.ContainerSpec.Env, ['MODE=fast', 'EMPTY=', 'N=3']);
  });

  it('init: true runs an init in each task', () => {
    const p = parseCompose(withWeb('init: true'), 'c.yml');
    assert.equal(p.services.find((s) => s.name === 'web')?.spec.TaskTemplate.ContainerSpec.Init, true);
    assert.deepEqual(p.warnings, []);
  });

  it('warns about keys swarm does not use and ignores them', () => {
    const p = parseCompose(good, 'compose.yml');
    assert.deepEqual(p.warnings, ['networks is not supported by swarm, ignored', 'services.web.build is not supported by swarm, ignored']);
    const q = parseCompose(withWeb('container_name: x\nx-note: fine\ndeploy:\n  endpoint_mode: dnsrr'), 'c.yml');
    assert.deepEqual(q.warnings, ['services.web.container_name is not supported by swarm, ignored', 'services.web.deploy.endpoint_mode is not supported by swarm, ignored']);
  });

  it('refuses each kind of bad value with its path', () => {
    const cases: [string, string][] = [
      [withWeb('deploy:\n  replicas: three'), 'services.web.deploy.replicas: expected integer, got "three"'],
      [withWeb('deploy:\n  replicas: -1'), 'services.web.deploy.replicas: expected integer >= 0, got -1'],
      [withWeb('deploy:\n  mode: everywhere'), 'services.web.deploy.mode: expected one of replicated, global, got "everywhere"'],
      [withWeb('deploy:\n  mode: global\n  replicas: 2'), 'services.web.deploy.replicas: not allowed with mode global'],
      [withWeb('deploy:\n  update_config:\n    delay: 10'), 'services.web.deploy.update_config.delay: expected a duration like 10s or 1m30s, got 10'],
      [withWeb('deploy:\n  update_config:\n    failure_action: explode'), 'services.web.deploy.update_config.failure_action: expected one of pause, continue, rollback, got "explode"'],
      [withWeb('deploy:\n  rollback_config:\n    failure_action: rollback'), 'services.web.deploy.rollback_config.failure_action: expected one of pause, continue, got "rollback"'],
      [withWeb('deploy:\n  resources:\n    limits:\n      memory: lots'), 'services.web.deploy.resources.limits.memory: expected a size like 50M or 1G, got "lots"'],
      [withWeb('deploy:\n  resources:\n    limits:\n      cpus: many'), 'services.web.deploy.resources.limits.cpus: expected a number of CPUs like 0.5, got "many"'],
      [withWeb('deploy:\n  restart_policy:\n    condition: always'), 'services.web.deploy.restart_policy.condition: expected one of none, on-failure, any, got "always"'],
      [withWeb('deploy:\n  placement:\n    constraints: ["node.colour==red"]'), 'services.web.deploy.placement.constraints[0]: "node.colour==red" has unknown key node.colour (node.id, node.hostname, node.role, node.labels.<key>, node.platform.os, node.platform.arch)'],
      [withWeb('ports:\n  - "80:99999"'), 'services.web.ports[0]: expected a port number in 1-65535, got "99999"'],
      [withWeb('ports:\n  - "eighty"'), 'services.web.ports[0]: expected PUBLISHED:TARGET[/PROTOCOL], e.g. "8080:80", got "eighty"'],
      [withWeb('environment: 7'), 'services.web.environment: expected a mapping, got 7'],
      [withWeb('init: yes please'), 'services.web.init: expected true or false, got "yes please"'],
      [withWeb('command: {a: 1}'), 'services.web.command: expected a string or a list of strings, got {"a":1}'],
      ['services:\n  web:\n    command: echo hi\n', 'services.web.image: required (swarm deploys images; build them first and load them on every node)'],
      ['version: "2.4"\nservices:\n  web:\n    image: busybox\n', 'version: expected a Compose file version 3.x, got "2.4"'],
      ['volumes: {}\n', 'services: required (a mapping of service names to services)'],
      ['services: [web]\n', 'services: expected a mapping, got ["web"]'],
    ];
    for (const [text, message] of cases) assert.equal(errorOf(text), message);
    assert.match(errorOf('services:\n  web: [unclosed\n'), /^compose.yml is not valid YAML: /);
  });

  it('names stack services STACK_svc and labels them with the stack, as docker does', () => {
    const web = parseCompose(good, 'compose.yml').services[0];
    const s = stackServiceSpec('shop', web.name, web.spec);
    assert.equal(s.Name, 'shop_web');
    assert.equal(s.Labels?.['com.docker.stack.namespace'], 'shop');
    assert.equal(s.Labels?.tier, 'web');
    assert.equal(s.Labels?.['com.docker.stack.image'], 'busybox:latest');
    assert.deepEqual(s.TaskTemplate, web.spec.TaskTemplate, 'the task spec is the compose file\'s');
  });
});
