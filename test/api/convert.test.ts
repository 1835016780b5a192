import assert from 'node:assert/strict';
import { AUTO_REMOVE_LABEL, createRequestFromDocker } from '../../src/api/convert/container';
import { nodeSpecFromDocker, nodeToDocker } from '../../src/api/convert/node';
import { dockerFieldMessage, serviceSpecFromDocker, serviceSpecToDocker, serviceToDocker } from '../../src/api/convert/service';
import { clusterSpecFromDocker, clusterSpecToDocker } from '../../src/api/convert/swarm';
import { taskToDocker } from '../../src/api/convert/task';
import { InvalidArgumentError } from '../../src/types/errors';
import { DEFAULT_CLUSTER_SPEC, serviceSpecWithDefaults, taskSpecWithDefaults, TaskState, validateServiceSpec, type Node, type Task } from '../../src/types/objects';

/** Docker JSON -> shoal (with defaults, validated) -> Docker JSON. */
function roundTrip(spec: unknown): Record<string, unknown> {
  const s = serviceSpecWithDefaults(serviceSpecFromDocker(spec));
  validateServiceSpec(s);
  return serviceSpecToDocker(s);
}

function invalid(fn: () => unknown, message: string): void {
  assert.throws(fn, (err: unknown) => err instanceof InvalidArgumentError && err.message === message);
}

describe('Docker JSON <-> shoal objects', () => {
  const full = {
    Name: 'api',
    Labels: { team: 'a' },
    TaskTemplate: {
      ContainerSpec: { Image: 'busybox:1', Command: ['/bin/sh', '-c'], Args: ['echo hi'], Env: ['X=1'], Dir: '/srv', User: '1000:1000', Hostname: 'api', StopGracePeriod: 2_500_000_000, Init: true, Mounts: [{ Type: 'bind', Source: '/data', Target: '/data', ReadOnly: true }] },
      Resources: { Limits: { NanoCPUs: 1e9, MemoryBytes: 2 ** 27 }, Reservations: { NanoCPUs: 1e8 } },
      RestartPolicy: { Condition: 'none', Delay: 1e9, MaxAttempts: 2, Window: 3e10 },
      Placement: { Constraints: ['node.labels.zone==a'], Preferences: [{ Spread: { SpreadDescriptor: 'node.labels.rack' } }], MaxReplicas: 1 },
      ForceUpdate: 4,
    },
    Mode: { Global: {} },
    UpdateConfig: { Parallelism: 0, Delay: 2e9, FailureAction: 'continue', Monitor: 1e10, MaxFailureRatio: 0.25, Order: 'start-first' },
    RollbackConfig: { Parallelism: 3, Delay: 0, FailureAction: 'pause', Monitor: 5e9, MaxFailureRatio: 0, Order: 'stop-first' },
    EndpointSpec: { Mode: 'vip', Ports: [{ Name: 'http', Protocol: 'udp', TargetPort: 53, PublishedPort: 5353, PublishMode: 'host' }] },
  };

  it('a full service spec survives Docker -> shoal -> Docker unchanged (durations in ns)', () => {
    const back = roundTrip(full) as typeof full & { TaskTemplate: { ContainerSpec: Record<string, unknown> } };
    assert.equal(back.Name, full.Name);
    assert.deepEqual(back.Labels, full.Labels);
    assert.deepEqual(back.Mode, full.Mode);
    assert.deepEqual(back.UpdateConfig, full.UpdateConfig);
    assert.deepEqual(back.RollbackConfig, full.RollbackConfig);
    assert.deepEqual(back.EndpointSpec, full.EndpointSpec);
    assert.deepEqual(back.TaskTemplate.Resources, full.TaskTemplate.Resources);
    assert.deepEqual(back.TaskTemplate.RestartPolicy, full.TaskTemplate.RestartPolicy);
    assert.deepEqual(back.TaskTemplate.Placement, full.TaskTemplate.Placement);
    assert.equal(back.TaskTemplate.ForceUpdate, 4);
    for (const k of Object.keys(full.TaskTemplate.ContainerSpec) as (keyof typeof full.TaskTemplate.ContainerSpec)[]) {
      assert.deepEqual(back.TaskTemplate.ContainerSpec[k], full.TaskTemplate.ContainerSpec[k], k);
    }
  });

  it('what the docker CLI sends for `service create --name web --replicas 3 img sleep 1000` gets Docker\'s defaults', () => {
    const cli = { Name: 'web', Labels: {}, TaskTemplate: { ContainerSpec: { Image: 'img', Args: ['sleep', '1000'], Init: false, DNSConfig: {} }, Resources: { Limits: {}, Reservations: {} }, Placement: {}, ForceUpdate: 0 }, Mode: { Replicated: { Replicas: 3 } }, EndpointSpec: { Mode: 'vip' } };
    const s = serviceSpecWithDefaults(serviceSpecFromDocker(cli));
    assert.deepEqual(s.task.container.args, ['sleep', '1000']);
    assert.deepEqual(s.task.container.command, []);
    assert.equal(s.replicas, 3);
    const back = serviceSpecToDocker(s) as { TaskTemplate: { RestartPolicy: unknown; ContainerSpec: { StopGracePeriod: number } }; UpdateConfig: unknown };
    assert.deepEqual(back.TaskTemplate.RestartPolicy, { Condition: 'any', Delay: 5e9, MaxAttempts: 0, Window: 0 });
    assert.equal(back.TaskTemplate.ContainerSpec.StopGracePeriod, 1e10);
    assert.deepEqual(back.UpdateConfig, { Parallelism: 1, Delay: 0, FailureAction: 'pause', Monitor: 5e9, MaxFailureRatio: 0, Order: 'stop-first' });
    // Replicated without a count is one replica; no Mode at all is replicated too.
    assert.equal(serviceSpecWithDefaults(serviceSpecFromDocker({ Name: 'a', Mode: { Replicated: {} }, TaskTemplate: { ContainerSpec: { Image: 'i' } } })).replicas, 1);
    assert.equal(serviceSpecWithDefaults(serviceSpecFromDocker({ Name: 'a', TaskTemplate: { ContainerSpec: { Image: 'i' } } })).mode, 'replicated');
  });

  it('Init: true runs an init in each task; false or absent leaves the spec as it was before the field existed; a non-boolean is refused', () => {
    const withInit = serviceSpecWithDefaults(serviceSpecFromDocker({ Name: 'a', TaskTemplate: { ContainerSpec: { Image: 'i', Init: true } } }));
    assert.equal(withInit.task.container.init, true);
    const without = serviceSpecWithDefaults(serviceSpecFromDocker({ Name: 'a', TaskTemplate: { ContainerSpec: { Image: 'i', Init: false } } }));
    assert.equal('init' in without.task.container, false, 'no init key: equal to a spec stored before');
    assert.deepEqual(without, serviceSpecWithDefaults(serviceSpecFromDocker({ Name: 'a', TaskTemplate: { ContainerSpec: { Image: 'i' } } })));
    assert.equal((serviceSpecToDocker(without) as { TaskTemplate: { ContainerSpec: { Init: boolean } } }).TaskTemplate.ContainerSpec.Init, false);
    assert.throws(() => serviceSpecFromDocker({ Name: 'a', TaskTemplate: { ContainerSpec: { Image: 'i', Init: 'yes' } } }), /TaskTemplate\.ContainerSpec\.Init/);
  });

  it('treats Go\'s null maps and lists as absent', () => {
    const s = serviceSpecWithDefaults(serviceSpecFromDocker({ Name: 'n', Labels: null, TaskTemplate: { ContainerSpec: { Image: 'i', Env: null, Mounts: null, Args: null }, Placement: { Constraints: null } }, EndpointSpec: { Ports: null } }));
    assert.deepEqual(s.labels, {});
    assert.deepEqual(s.task.container.env, []);
    assert.deepEqual(s.task.placement.constraints, []);
    assert.deepEqual(s.endpoint.ports, []);
  });

  it('refuses wrong types naming the Docker field and the value', () => {
    const base = { Name: 'x', TaskTemplate: { ContainerSpec: { Image: 'i' } } };
    invalid(() => serviceSpecFromDocker({ ...base, Mode: { Replicated: { Replicas: 'x' } } }), 'Spec.Mode.Replicated.Replicas: expected integer, got "x"');
    invalid(() => serviceSpecFromDocker({ ...base, Mode: { Replicated: { Replicas: 1.5 } } }), 'Spec.Mode.Replicated.Replicas: expected integer, got 1.5');
    invalid(() => serviceSpecFromDocker({ ...base, Mode: { Replicated: { Replicas: -1 } } }), 'Spec.Mode.Replicated.Replicas: expected integer >= 0, got -1');
    invalid(() => serviceSpecFromDocker({ ...base, Mode: { Global: {}, Replicated: {} } }), 'Spec.Mode: give either Replicated or Global, not both');
    invalid(() => serviceSpecFromDocker({ ...base, Labels: { a: 1 } }), 'Spec.Labels.a: expected string, got 1');
    invalid(() => serviceSpecFromDocker({ ...base, TaskTemplate: { ContainerSpec: 'busybox' } }), 'Spec.TaskTemplate.ContainerSpec: expected object, got "busybox"');
    invalid(() => serviceSpecFromDocker({ ...base, TaskTemplate: { ContainerSpec: { Image: 'i', Args: ['a', 2] } } }), 'Spec.TaskTemplate.ContainerSpec.Args[1]: expected string, got 2');
    invalid(() => serviceSpecFromDocker({ ...base, TaskTemplate: { ContainerSpec: { Image: 'i' }, RestartPolicy: { Condition: 'always' } } }), 'Spec.TaskTemplate.RestartPolicy.Condition: expected one of "none", "on-failure", "any", got "always"');
    invalid(() => serviceSpecFromDocker({ ...base, TaskTemplate: { ContainerSpec: { Image: 'i' }, Placement: { Preferences: [{ Pack: {} }] } } }), 'Spec.TaskTemplate.Placement.Preferences[0]: only Spread preferences are supported, got {"Pack":{}}');
    invalid(() => serviceSpecFromDocker({ ...base, EndpointSpec: { Ports: [{ TargetPort: '80' }] } }), 'Spec.EndpointSpec.Ports[0].TargetPort: expected integer, got "80"');
    invalid(() => serviceSpecFromDocker({ ...base, EndpointSpec: { Ports: [{ TargetPort: 80, Protocol: 'sctp' }] } }), 'Spec.EndpointSpec.Ports[0].Protocol: expected one of "tcp", "udp", got "sctp"');
    invalid(() => serviceSpecFromDocker({ ...base, UpdateConfig: { MaxFailureRatio: 'half' } }), 'Spec.UpdateConfig.MaxFailureRatio: expected number, got "half"');
    invalid(() => serviceSpecFromDocker(null), 'Spec: expected a service spec object, got null');
  });

  it('says shoal\'s validation errors in Docker\'s field names', () => {
    assert.equal(dockerFieldMessage('task.container.image must not be empty, got ""'), 'Spec.TaskTemplate.ContainerSpec.Image must not be empty, got ""');
    assert.equal(dockerFieldMessage('task.container.workdir must be an absolute path, got "x"'), 'Spec.TaskTemplate.ContainerSpec.Dir must be an absolute path, got "x"');
    assert.equal(dockerFieldMessage('task.restartPolicy.delayMs must be >= 0, got -1'), 'Spec.TaskTemplate.RestartPolicy.Delay must be >= 0, got -1');
    assert.equal(dockerFieldMessage('update.failureAction must be one of pause, continue, rollback, got "x"'), 'Spec.UpdateConfig.FailureAction must be one of pause, continue, rollback, got "x"');
    assert.equal(dockerFieldMessage('replicas must be 0 for a global service, got 3'), 'Spec.Mode.Replicated.Replicas must be 0 for a global service, got 3');
    assert.equal(dockerFieldMessage('task.forceUpdate must be >= 0, got -1'), 'Spec.TaskTemplate.ForceUpdate must be >= 0, got -1');
    assert.equal(dockerFieldMessage('something else'), 'something else');
  });

  it('a task becomes Docker\'s Task with lower-case state names, its container status and ISO times', () => {
    const task: Task = {
      id: 't'.repeat(25), meta: { version: 9, createdAt: 1_700_000_000_000, updatedAt: 1_700_000_001_000 }, serviceId: 's'.repeat(25), slot: 2, nodeId: 'n'.repeat(25),
      spec: taskSpecWithDefaults({ container: { image: 'busybox' } }), hostPorts: [], desiredState: TaskState.RUNNING,
      status: { state: TaskState.FAILED, timestamp: 1_700_000_002_000, message: 'started', err: 'task: non-zero exit (2)', exitCode: 2, containerId: 'c1', pid: 0 }, restartHistoryMs: [],
    };
    const d = taskToDocker(task) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.equal(d.ID, task.id);
    assert.deepEqual(d.Version, { Index: 9 });
    assert.equal(d.CreatedAt, '2023-11-14T22:13:20.000Z');
    assert.equal(d.Slot, 2);
    assert.equal(d.NodeID, task.nodeId);
    assert.equal(d.DesiredState, 'running');
    assert.deepEqual(d.Status, { Timestamp: '2023-11-14T22:13:22.000Z', State: 'failed', Message: 'started', Err: 'task: non-zero exit (2)', PortStatus: {}, ContainerStatus: { ContainerID: 'c1', PID: 0, ExitCode: 2 } });
    assert.equal((d.Spec as { ContainerSpec: { Image: string } }).ContainerSpec.Image, 'busybox');
    const names = Object.values(TaskState).map((s) => (taskToDocker({ ...task, status: { ...task.status, state: s } }) as { Status: { State: string } }).Status.State);
    assert.deepEqual(names, ['new', 'pending', 'assigned', 'accepted', 'preparing', 'ready', 'starting', 'running', 'complete', 'shutdown', 'failed', 'rejected', 'remove', 'orphaned']);
    const global = taskToDocker({ ...task, slot: 0, nodeId: '' });
    assert.equal('Slot' in global || 'NodeID' in global, false);
  });

  it('a node becomes Docker\'s Node; a Docker NodeSpec is checked field by field', () => {
    const n: Node = {
      id: 'n'.repeat(25), meta: { version: 4, createdAt: 0, updatedAt: 0 }, spec: { name: 'h1', labels: { a: 'b' }, role: 'manager', availability: 'pause' },
      description: { hostname: 'h1', platform: { os: 'linux', architecture: 'x86_64' }, resources: { nanoCPUs: 2e9, memoryBytes: 2 ** 30 } },
      status: { state: 'ready', addr: '10.0.0.2:4789', message: '' }, managerStatus: { raftId: 7, addr: '10.0.0.2:2377', leader: false, reachability: 'reachable' },
    };
    assert.deepEqual(nodeToDocker(n, { version: '1.2.3' }), {
      ID: n.id, Version: { Index: 4 }, CreatedAt: '0001-01-01T00:00:00Z', UpdatedAt: '0001-01-01T00:00:00Z',
      Spec: { Name: 'h1', Labels: { a: 'b' }, Role: 'manager', Availability: 'pause' },
      Description: { Hostname: 'h1', Platform: { Architecture: 'x86_64', OS: 'linux' }, Resources: { NanoCPUs: 2e9, MemoryBytes: 2 ** 30 }, Engine: { EngineVersion: '1.2.3', Labels: {} } },
      Status: { State: 'ready', Addr: '10.0.0.2' },
      ManagerStatus: { Leader: false, Reachability: 'reachable', Addr: '10.0.0.2:2377' },
    });
    // Status.Addr is the IP alone, as Docker's (shoal keeps the agent's port with it).
    const v6 = nodeToDocker({ ...n, status: { ...n.status, addr: '[fd00::2]:4789' } }) as { Status: { Addr: string } };
    assert.equal(v6.Status.Addr, 'fd00::2');
    assert.deepEqual(nodeSpecFromDocker({ Name: 'h1', Labels: null, Role: 'worker', Availability: 'drain' }), { name: 'h1', labels: {}, role: 'worker', availability: 'drain' });
    invalid(() => nodeSpecFromDocker({ Role: 'boss' }), 'Spec.Role: expected one of "worker", "manager", got "boss"');
    invalid(() => nodeSpecFromDocker('x'), 'Spec: expected object, got "x"');
  });

  it('a swarm spec keeps the current value for fields given as zero or absent, as Docker\'s init does', () => {
    assert.deepEqual(clusterSpecFromDocker({ Dispatcher: { HeartbeatPeriod: 0 }, Orchestration: {} }), DEFAULT_CLUSTER_SPEC);
    const changed = clusterSpecFromDocker({ Orchestration: { TaskHistoryRetentionLimit: 0 }, Dispatcher: { HeartbeatPeriod: 2e9 }, CAConfig: { NodeCertExpiry: 3600e9 * 48 } });
    assert.deepEqual(changed, { name: 'default', orchestration: { taskHistoryRetentionLimit: 0 }, dispatcher: { heartbeatPeriodMs: 2000 }, caConfig: { nodeCertExpiryMs: 48 * 3600e3 } });
    assert.deepEqual(clusterSpecFromDocker(clusterSpecToDocker(changed)), changed);
    invalid(() => clusterSpecFromDocker({ EncryptionConfig: { AutoLockManagers: true } }), 'Spec.EncryptionConfig.AutoLockManagers: autolock is not supported by shoal');
  });

  it('a service shows its update status and previous spec as Docker does', () => {
    const spec = serviceSpecWithDefaults({ name: 'w', task: { container: { image: 'a' } } });
    const d = serviceToDocker({ id: 'i', meta: { version: 3, createdAt: 1000, updatedAt: 2000 }, spec, previousSpec: { ...spec, replicas: 2 }, updateStatus: { state: 'rollback_completed', startedAt: 1000, completedAt: 3000, message: 'rollback completed' } }, { RunningTasks: 1, DesiredTasks: 1, CompletedTasks: 0 });
    assert.deepEqual(d.UpdateStatus, { State: 'rollback_completed', StartedAt: '1970-01-01T00:00:01.000Z', CompletedAt: '1970-01-01T00:00:03.000Z', Message: 'rollback completed' });
    assert.deepEqual((d.PreviousSpec as { Mode: unknown }).Mode, { Replicated: { Replicas: 2 } });
    assert.deepEqual(d.ServiceStatus, { RunningTasks: 1, DesiredTasks: 1, CompletedTasks: 0 });
  });

  it('a container create body becomes the runtime\'s request (strslice Cmd, port bindings, binds, --rm)', () => {
    const r = createRequestFromDocker({ Image: 'busybox', Cmd: 'true', Entrypoint: ['/bin/sh', '-c'], Env: ['A=1'], HostConfig: { Memory: 1024, NanoCpus: 1e9, AutoRemove: true, PortBindings: { '80/tcp': [{ HostIp: '', HostPort: '8080' }], '53/udp': [{ HostPort: '' }] }, Binds: ['/srv:/srv:ro', 'vol:/data'], NetworkMode: 'host' } }, '/web');
    assert.equal(r.name, 'web');
    assert.deepEqual(r.cmd, ['true']);
    assert.deepEqual(r.entrypoint, ['/bin/sh', '-c']);
    assert.deepEqual(r.config.limits, { memoryBytes: 1024, nanoCpus: 1e9 });
    assert.deepEqual(r.config.ports, [{ containerPort: 80, hostPort: 8080, protocol: 'tcp' }, { containerPort: 53, hostPort: 0, protocol: 'udp' }]);
    assert.deepEqual(r.config.mounts, [{ type: 'bind', source: '/srv', target: '/srv', readOnly: true }, { type: 'volume', name: 'vol', target: '/data', readOnly: false }]);
    assert.equal(r.config.network, 'host');
    assert.equal(r.config.labels?.[AUTO_REMOVE_LABEL], 'true');
    invalid(() => createRequestFromDocker({ Image: 'b', HostConfig: { NetworkMode: 'overlay' } }, undefined), 'HostConfig.NetworkMode: expected one of "bridge", "host", "none", got "overlay"');
    invalid(() => createRequestFromDocker({ Image: 'b', HostConfig: { PortBindings: { http: [] } } }, undefined), 'HostConfig.PortBindings: invalid port "http": expected <port>[/tcp|udp]');
  });
});
