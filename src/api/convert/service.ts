import type { Mount, PlacementPreference, PortConfig, Service, ServiceSpec, SpecInput, TaskSpec, UpdateConfig } from '../../types/objects';
import { InvalidArgumentError } from '../../types/errors';
import {
  obj, optBool, optDurationMs, optEnum, optInt, optList, optNum, optObj, optStr, optStrList, optStrMap, type JsonObject,
} from './check';
import { dockerVersion, isoTime, ns } from './time';

// Docker's ServiceSpec JSON (API v1.41) <-> shoal's ServiceSpec. Durations are nanoseconds in
// Docker JSON and milliseconds in shoal. Unknown Docker fields (Networks, Secrets, ...) are ignored.

function mountFrom(v: unknown, path: string): Mount {
  const m = obj(v, path);
  const type = optEnum(m.Type, `${path}.Type`, ['bind', 'volume', 'tmpfs'] as const) ?? 'volume';
  return { type, source: optStr(m.Source, `${path}.Source`) ?? '', target: optStr(m.Target, `${path}.Target`) ?? '', readOnly: optBool(m.ReadOnly, `${path}.ReadOnly`) ?? false };
}

function resourcesFrom(v: unknown, path: string): { nanoCPUs?: number; memoryBytes?: number } {
  const r = obj(v, path);
  const out: { nanoCPUs?: number; memoryBytes?: number } = {};
  const cpus = optInt(r.NanoCPUs, `${path}.NanoCPUs`, 0);
  const mem = optInt(r.MemoryBytes, `${path}.MemoryBytes`, 0);
  if (cpus !== undefined) out.nanoCPUs = cpus;
  if (mem !== undefined) out.memoryBytes = mem;
  return out;
}

function preferenceFrom(v: unknown, path: string): PlacementPreference {
  const p = obj(v, path);
  const spread = optObj(p.Spread, `${path}.Spread`);
  if (spread === undefined) throw new InvalidArgumentError(`${path}: only Spread preferences are supported, got ${JSON.stringify(v)}`);
  return { spread: optStr(spread.SpreadDescriptor, `${path}.Spread.SpreadDescriptor`) ?? '' };
}

/** Only the fields given, so shoal's defaults fill the rest. */
function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** Docker's TaskTemplate as a shoal task spec input. `path` names it in messages. */
export function taskSpecFromDocker(v: unknown, path: string): SpecInput<TaskSpec> {
  const t = obj(v, path);
  const cp = `${path}.ContainerSpec`;
  const c = obj(t.ContainerSpec, cp);
  const res = obj(t.Resources, `${path}.Resources`);
  const rp = obj(t.RestartPolicy, `${path}.RestartPolicy`);
  const pl = obj(t.Placement, `${path}.Placement`);
  return {
    forceUpdate: optInt(t.ForceUpdate, `${path}.ForceUpdate`, 0),
    container: defined({
      image: optStr(c.Image, `${cp}.Image`),
      command: optStrList(c.Command, `${cp}.Command`),
      args: optStrList(c.Args, `${cp}.Args`),
      env: optStrList(c.Env, `${cp}.Env`),
      workdir: optStr(c.Dir, `${cp}.Dir`),
      user: optStr(c.User, `${cp}.User`),
      hostname: optStr(c.Hostname, `${cp}.Hostname`),
      mounts: optList(c.Mounts, `${cp}.Mounts`)?.map((m, i) => mountFrom(m, `${cp}.Mounts[${i}]`)),
      stopGraceMs: optDurationMs(c.StopGracePeriod, `${cp}.StopGracePeriod`),
      init: optBool(c.Init, `${cp}.Init`) === true ? (true as const) : undefined,
    }),
    resources: { limits: resourcesFrom(res.Limits, `${path}.Resources.Limits`), reservations: resourcesFrom(res.Reservations, `${path}.Resources.Reservations`) },
    restartPolicy: defined({
      condition: optEnum(rp.Condition, `${path}.RestartPolicy.Condition`, ['none', 'on-failure', 'any'] as const),
      delayMs: optDurationMs(rp.Delay, `${path}.RestartPolicy.Delay`),
      maxAttempts: optInt(rp.MaxAttempts, `${path}.RestartPolicy.MaxAttempts`, 0),
      windowMs: optDurationMs(rp.Window, `${path}.RestartPolicy.Window`),
    }),
    placement: defined({
      constraints: optStrList(pl.Constraints, `${path}.Placement.Constraints`),
      preferences: optList(pl.Preferences, `${path}.Placement.Preferences`)?.map((p, i) => preferenceFrom(p, `${path}.Placement.Preferences[${i}]`)),
      maxReplicas: optInt(pl.MaxReplicas, `${path}.Placement.MaxReplicas`, 0),
    }),
  };
}

function updateConfigFrom(v: unknown, path: string): SpecInput<UpdateConfig> | undefined {
  const u = optObj(v, path);
  if (u === undefined) return undefined;
  return defined({
    parallelism: optInt(u.Parallelism, `${path}.Parallelism`, 0),
    delayMs: optDurationMs(u.Delay, `${path}.Delay`),
    failureAction: optEnum(u.FailureAction, `${path}.FailureAction`, ['pause', 'continue', 'rollback'] as const),
    monitorMs: optDurationMs(u.Monitor, `${path}.Monitor`),
    maxFailureRatio: optNum(u.MaxFailureRatio, `${path}.MaxFailureRatio`),
    order: optEnum(u.Order, `${path}.Order`, ['stop-first', 'start-first'] as const),
  });
}

function portFrom(v: unknown, path: string): PortConfig {
  const p = obj(v, path);
  return {
    name: optStr(p.Name, `${path}.Name`) ?? '',
    protocol: optEnum(p.Protocol, `${path}.Protocol`, ['tcp', 'udp'] as const) ?? 'tcp',
    targetPort: optInt(p.TargetPort, `${path}.TargetPort`, 0) ?? 0,
    publishedPort: optInt(p.PublishedPort, `${path}.PublishedPort`, 0) ?? 0,
    publishMode: optEnum(p.PublishMode, `${path}.PublishMode`, ['ingress', 'host'] as const) ?? 'ingress',
  };
}

function modeFrom(v: unknown, path: string): { mode: 'replicated' | 'global'; replicas?: number } {
  const m = optObj(v, path);
  if (m === undefined) return { mode: 'replicated' };
  for (const k of ['ReplicatedJob', 'GlobalJob']) {
    if (m[k] !== undefined && m[k] !== null) throw new InvalidArgumentError(`${path}.${k}: job services are not supported`);
  }
  const global = optObj(m.Global, `${path}.Global`);
  const replicated = optObj(m.Replicated, `${path}.Replicated`);
  if (global !== undefined && replicated !== undefined) throw new InvalidArgumentError(`${path}: give either Replicated or Global, not both`);
  if (global !== undefined) return { mode: 'global' };
  return { mode: 'replicated', replicas: optInt(replicated?.Replicas, `${path}.Replicated.Replicas`, 0) };
}

/** A Docker ServiceSpec (request body) as shoal's spec input; wrong types are refused naming the Docker field. */
export function serviceSpecFromDocker(body: unknown, path = 'Spec'): SpecInput<ServiceSpec> {
  const s = optObj(body, path);
  if (s === undefined) throw new InvalidArgumentError(`${path}: expected a service spec object, got ${JSON.stringify(body)}`);
  const mode = modeFrom(s.Mode, `${path}.Mode`);
  const ep = obj(s.EndpointSpec, `${path}.EndpointSpec`);
  optEnum(ep.Mode, `${path}.EndpointSpec.Mode`, ['vip', 'dnsrr'] as const);
  return defined({
    name: optStr(s.Name, `${path}.Name`) ?? '',
    labels: optStrMap(s.Labels, `${path}.Labels`),
    task: taskSpecFromDocker(s.TaskTemplate, `${path}.TaskTemplate`),
    mode: mode.mode,
    replicas: mode.replicas,
    update: updateConfigFrom(s.UpdateConfig, `${path}.UpdateConfig`),
    rollback: updateConfigFrom(s.RollbackConfig, `${path}.RollbackConfig`),
    endpoint: { ports: optList(ep.Ports, `${path}.EndpointSpec.Ports`)?.map((p, i) => portFrom(p, `${path}.EndpointSpec.Ports[${i}]`)) ?? [] },
  });
}

// Shoal's validation names fields in shoal's terms; the API answers in Docker's.
const FIELD_NAMES: readonly [RegExp, string][] = [
  [/^task\.container\.workdir/, 'TaskTemplate.ContainerSpec.Dir'],
  [/^task\.container\.stopGraceMs/, 'TaskTemplate.ContainerSpec.StopGracePeriod'],
  [/^task\.container\./, 'TaskTemplate.ContainerSpec.'],
  [/^task\.resources\.limits\./, 'TaskTemplate.Resources.Limits.'],
  [/^task\.resources\.reservations\./, 'TaskTemplate.Resources.Reservations.'],
  [/^task\.restartPolicy\./, 'TaskTemplate.RestartPolicy.'],
  [/^task\.placement\./, 'TaskTemplate.Placement.'],
  [/^task\.forceUpdate\b/, 'TaskTemplate.ForceUpdate'],
  [/^update\./, 'UpdateConfig.'],
  [/^rollback\./, 'RollbackConfig.'],
  [/^endpoint\.ports/, 'EndpointSpec.Ports'],
  [/^replicas\b/, 'Mode.Replicated.Replicas'],
  [/^name\b/, 'Name'],
  [/^labels\b/, 'Labels'],
  [/^mode\b/, 'Mode'],
];

/** Rewrites the leading shoal field name of a validation message into Docker's path under `Spec.`. */
export function dockerFieldMessage(message: string): string {
  for (const [re, name] of FIELD_NAMES) {
    const m = re.exec(message);
    if (m !== null) {
      const rest = message.slice(m[0].length);
      // restartPolicy.delayMs -> RestartPolicy.Delay: Docker's names carry no unit.
      const field = name.endsWith('.') ? name + rest.replace(/^(\w+?)(Ms)?\b/, (_m, id: string) => id[0].toUpperCase() + id.slice(1)) : name + rest;
      return `Spec.${field}`;
    }
  }
  return message;
}

function resourcesTo(r: { nanoCPUs: number; memoryBytes: number }): JsonObject {
  const out: JsonObject = {};
  if (r.nanoCPUs !== 0) out.NanoCPUs = r.nanoCPUs;
  if (r.memoryBytes !== 0) out.MemoryBytes = r.memoryBytes;
  return out;
}

/** shoal's task spec as Docker's TaskTemplate. */
export function taskSpecToDocker(t: TaskSpec): JsonObject {
  const c = t.container;
  const container: JsonObject = { Image: c.image, Init: c.init === true, StopGracePeriod: ns(c.stopGraceMs), Isolation: 'default' };
  if (c.command.length > 0) container.Command = [...c.command];
  if (c.args.length > 0) container.Args = [...c.args];
  if (c.env.length > 0) container.Env = [...c.env];
  if (c.workdir !== '') container.Dir = c.workdir;
  if (c.user !== '') container.User = c.user;
  if (c.hostname !== '') container.Hostname = c.hostname;
  if (c.mounts.length > 0) container.Mounts = c.mounts.map((m) => ({ Type: m.type, Source: m.source, Target: m.target, ReadOnly: m.readOnly }));
  const placement: JsonObject = {};
  if (t.placement.constraints.length > 0) placement.Constraints = [...t.placement.constraints];
  if (t.placement.preferences.length > 0) placement.Preferences = t.placement.preferences.map((p) => ({ Spread: { SpreadDescriptor: p.spread } }));
  if (t.placement.maxReplicas !== 0) placement.MaxReplicas = t.placement.maxReplicas;
  const rp = t.restartPolicy;
  return {
    ContainerSpec: container,
    Resources: { Limits: resourcesTo(t.resources.limits), Reservations: resourcesTo(t.resources.reservations) },
    RestartPolicy: { Condition: rp.condition, Delay: ns(rp.delayMs), MaxAttempts: rp.maxAttempts, Window: ns(rp.windowMs) },
    Placement: placement,
    ForceUpdate: t.forceUpdate,
    Runtime: 'container',
  };
}

function updateConfigTo(u: UpdateConfig): JsonObject {
  return { Parallelism: u.parallelism, Delay: ns(u.delayMs), FailureAction: u.failureAction, Monitor: ns(u.monitorMs), MaxFailureRatio: u.maxFailureRatio, Order: u.order };
}

function portTo(p: PortConfig): JsonObject {
  const out: JsonObject = { Protocol: p.protocol, TargetPort: p.targetPort, PublishedPort: p.publishedPort, PublishMode: p.publishMode };
  if (p.name !== '') out.Name = p.name;
  return out;
}

/** shoal's service spec as Docker's ServiceSpec. */
export function serviceSpecToDocker(s: ServiceSpec): JsonObject {
  const endpoint: JsonObject = { Mode: 'vip' };
  if (s.endpoint.ports.length > 0) endpoint.Ports = s.endpoint.ports.map(portTo);
  return {
    Name: s.name,
    Labels: { ...s.labels },
    TaskTemplate: taskSpecToDocker(s.task),
    Mode: s.mode === 'global' ? { Global: {} } : { Replicated: { Replicas: s.replicas } },
    UpdateConfig: updateConfigTo(s.update),
    RollbackConfig: updateConfigTo(s.rollback),
    EndpointSpec: endpoint,
  };
}

/** Running, desired and completed task counts (`GET /services?status=true`). */
export interface ServiceStatusCounts { RunningTasks: number; DesiredTasks: number; CompletedTasks: number }

/** shoal's service as Docker's Service object. */
export function serviceToDocker(s: Service, status?: ServiceStatusCounts): JsonObject {
  const spec = serviceSpecToDocker(s.spec);
  const out: JsonObject = {
    ID: s.id,
    Version: dockerVersion(s.meta.version),
    CreatedAt: isoTime(s.meta.createdAt),
    UpdatedAt: isoTime(s.meta.updatedAt),
    Spec: spec,
  };
  if (s.previousSpec !== undefined) out.PreviousSpec = serviceSpecToDocker(s.previousSpec);
  const ports = s.spec.endpoint.ports.map(portTo);
  out.Endpoint = ports.length > 0 ? { Spec: spec.EndpointSpec, Ports: ports } : { Spec: {} };
  if (s.updateStatus !== undefined) {
    const u = s.updateStatus;
    const st: JsonObject = { State: u.state, StartedAt: isoTime(u.startedAt), Message: u.message };
    if (u.completedAt > 0) st.CompletedAt = isoTime(u.completedAt);
    out.UpdateStatus = st;
  }
  if (status !== undefined) out.ServiceStatus = status;
  return out;
}
