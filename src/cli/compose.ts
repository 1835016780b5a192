import { parse as parseYaml } from 'yaml';
import { parseConstraint } from '../types/objects/constraint';
import { InvalidArgumentError, ShoalError } from '../types/errors';
import type { DPortConfig, DServiceSpec, DUpdateConfig } from './docker-types';
import { parseBytes, parseCpus, parseDurationNs } from './units';
import { splitWords } from './service-flags';

// The Compose file v3 subset that matters for swarm (`shoal stack deploy -c`): services with
// image, command, entrypoint, environment, ports, labels and deploy. Keys swarm cannot use are
// warned about and ignored; a bad value is refused with its path, before anything is sent.

/** A compose file read into service specs (names without the stack prefix) and warnings. */
export interface ComposeProject {
  readonly services: { readonly name: string; readonly spec: DServiceSpec }[];
  readonly warnings: string[];
}

type Obj = Record<string, unknown>;

class PathError extends InvalidArgumentError {}

const fail = (path: string, want: string, got: unknown): never => {
  throw new PathError(`${path}: expected ${want}, got ${JSON.stringify(got) ?? String(got)}`);
};

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function obj(path: string, v: unknown): Obj {
  return isObj(v) ? v : fail(path, 'a mapping', v);
}

function str(path: string, v: unknown): string {
  return typeof v === 'string' ? v : fail(path, 'string', v);
}

function int(path: string, v: unknown, min = 0): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) return fail(path, 'integer', v);
  if (v < min) fail(path, `integer >= ${min}`, v);
  return v;
}

function oneOf<T extends string>(path: string, v: unknown, allowed: readonly T[]): T {
  return typeof v === 'string' && (allowed as readonly string[]).includes(v) ? (v as T) : fail(path, `one of ${allowed.join(', ')}`, v);
}

function duration(path: string, v: unknown): number {
  if (typeof v !== 'string') return fail(path, 'a duration like 10s or 1m30s', v);
  try {
    return parseDurationNs(path, v);
  } catch {
    return fail(path, 'a duration like 10s or 1m30s', v);
  }
}

function memory(path: string, v: unknown): number {
  if (typeof v === 'number' && Number.isInteger(v) && v > 0) return v;
  if (typeof v !== 'string') return fail(path, 'a size like 50M or 1G', v);
  try {
    return parseBytes(path, v);
  } catch {
    return fail(path, 'a size like 50M or 1G', v);
  }
}

function cpus(path: string, v: unknown): number {
  const s = typeof v === 'number' ? String(v) : typeof v === 'string' ? v : fail(path, 'a number of CPUs like 0.5', v);
  try {
    return parseCpus(path, s);
  } catch {
    return fail(path, 'a number of CPUs like 0.5', v);
  }
}

/** A string or a list of strings (command, entrypoint): a string is split into words as a shell would. */
function words(path: string, v: unknown): string[] {
  if (typeof v === 'string') {
    try {
      return splitWords(path, v);
    } catch {
      return fail(path, 'a command with balanced quotes', v);
    }
  }
  if (!Array.isArray(v)) return fail(path, 'a string or a list of strings', v);
  return v.map((x, i) => (typeof x === 'number' ? String(x) : str(`${path}[${i}]`, x)));
}

/** A list of KEY=VALUE or a mapping (environment, labels); a mapping's null value is an empty one. */
function keyValues(path: string, v: unknown): [string, string][] {
  if (Array.isArray(v)) {
    return v.map((x, i) => {
      const s = str(`${path}[${i}]`, x);
      const eq = s.indexOf('=');
      return eq < 0 ? [s, ''] : [s.slice(0, eq), s.slice(eq + 1)];
    });
  }
  return Object.entries(obj(path, v)).map(([k, x]) => {
    if (x === null || x === undefined) return [k, ''];
    if (typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean') return [k, String(x)];
    return fail(`${path}.${k}`, 'a string, number or boolean', x);
  });
}

function port(path: string, v: unknown): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN;
  return Number.isInteger(n) && n >= 1 && n <= 65535 ? n : fail(path, 'a port number in 1-65535', v);
}

/** Checks the keys of a mapping: unknown ones are warned about and dropped. */
function known(path: string, o: Obj, keys: readonly string[], warnings: string[]): Obj {
  for (const k of Object.keys(o)) {
    if (!keys.includes(k) && !k.startsWith('x-')) warnings.push(`${path}.${k} is not supported by swarm, ignored`);
  }
  return o;
}

function ports(path: string, v: unknown, warnings: string[]): DPortConfig[] {
  if (!Array.isArray(v)) return fail(path, 'a list of ports', v);
  return v.map((p, i): DPortConfig => {
    const at = `${path}[${i}]`;
    if (typeof p === 'number') return { Protocol: 'tcp', TargetPort: port(at, p), PublishMode: 'ingress' };
    if (typeof p === 'string') {
      const m = /^(?:(\d+):)?(\d+)(?:\/(tcp|udp))?$/.exec(p);
      if (!m) return fail(at, 'PUBLISHED:TARGET[/PROTOCOL], e.g. "8080:80"', p);
      return { Protocol: (m[3] ?? 'tcp') as 'tcp' | 'udp', TargetPort: port(at, m[2]), ...(m[1] === undefined ? {} : { PublishedPort: port(at, m[1]) }), PublishMode: 'ingress' };
    }
    const o = known(at, obj(at, p), ['target', 'published', 'protocol', 'mode'], warnings);
    if (o.target === undefined) fail(`${at}.target`, 'a port number in 1-65535', undefined);
    return {
      Protocol: o.protocol === undefined ? 'tcp' : oneOf(`${at}.protocol`, o.protocol, ['tcp', 'udp'] as const),
      TargetPort: port(`${at}.target`, o.target),
      ...(o.published === undefined ? {} : { PublishedPort: port(`${at}.published`, o.published) }),
      PublishMode: o.mode === undefined ? 'ingress' : oneOf(`${at}.mode`, o.mode, ['ingress', 'host'] as const),
    };
  });
}

function updateConfig(path: string, v: unknown, rollback: boolean, warnings: string[]): DUpdateConfig {
  const o = known(path, obj(path, v), ['parallelism', 'delay', 'failure_action', 'monitor', 'max_failure_ratio', 'order'], warnings);
  const c: DUpdateConfig = {};
  if (o.parallelism !== undefined) c.Parallelism = int(`${path}.parallelism`, o.parallelism);
  if (o.delay !== undefined) c.Delay = duration(`${path}.delay`, o.delay);
  if (o.failure_action !== undefined) c.FailureAction = oneOf(`${path}.failure_action`, o.failure_action, rollback ? ['pause', 'continue'] as const : ['pause', 'continue', 'rollback'] as const);
  if (o.monitor !== undefined) c.Monitor = duration(`${path}.monitor`, o.monitor);
  if (o.max_failure_ratio !== undefined) {
    const r = o.max_failure_ratio;
    c.MaxFailureRatio = typeof r === 'number' && r >= 0 && r <= 1 ? r : fail(`${path}.max_failure_ratio`, 'a number between 0 and 1', r);
  }
  if (o.order !== undefined) c.Order = oneOf(`${path}.order`, o.order, ['stop-first', 'start-first'] as const);
  return c;
}

function resources(path: string, v: unknown, warnings: string[]): NonNullable<DServiceSpec['TaskTemplate']['Resources']> {
  const o = known(path, obj(path, v), ['limits', 'reservations'], warnings);
  const one = (p: string, x: unknown): { NanoCPUs?: number; MemoryBytes?: number } => {
    const r = known(p, obj(p, x), ['cpus', 'memory'], warnings);
    return { ...(r.cpus === undefined ? {} : { NanoCPUs: cpus(`${p}.cpus`, r.cpus) }), ...(r.memory === undefined ? {} : { MemoryBytes: memory(`${p}.memory`, r.memory) }) };
  };
  return { ...(o.limits === undefined ? {} : { Limits: one(`${path}.limits`, o.limits) }), ...(o.reservations === undefined ? {} : { Reservations: one(`${path}.reservations`, o.reservations) }) };
}

function placement(path: string, v: unknown, warnings: string[]): NonNullable<DServiceSpec['TaskTemplate']['Placement']> {
  const o = known(path, obj(path, v), ['constraints', 'preferences', 'max_replicas_per_node'], warnings);
  const out: NonNullable<DServiceSpec['TaskTemplate']['Placement']> = {};
  if (o.constraints !== undefined) {
    if (!Array.isArray(o.constraints)) fail(`${path}.constraints`, 'a list of constraints', o.constraints);
    out.Constraints = (o.constraints as unknown[]).map((c, i) => {
      const s = str(`${path}.constraints[${i}]`, c);
      try {
        return parseConstraint(s).text;
      } catch (err) {
        throw new PathError(`${path}.constraints[${i}]: ${JSON.stringify(s)} ${ShoalError.is(err) ? err.message : String(err)}`);
      }
    });
  }
  if (o.preferences !== undefined) {
    if (!Array.isArray(o.preferences)) fail(`${path}.preferences`, 'a list of preferences', o.preferences);
    out.Preferences = (o.preferences as unknown[]).map((p, i) => {
      const at = `${path}.preferences[${i}]`;
      const po = known(at, obj(at, p), ['spread'], warnings);
      const spread = str(`${at}.spread`, po.spread);
      if (!spread.startsWith('node.labels.')) fail(`${at}.spread`, 'node.labels.KEY', spread);
      return { Spread: { SpreadDescriptor: spread } };
    });
  }
  if (o.max_replicas_per_node !== undefined) out.MaxReplicas = int(`${path}.max_replicas_per_node`, o.max_replicas_per_node);
  return out;
}

/** Applies a service's `deploy` section to its spec. */
function deploy(path: string, v: unknown, spec: DServiceSpec, warnings: string[]): void {
  const o = known(path, obj(path, v), ['mode', 'replicas', 'update_config', 'rollback_config', 'restart_policy', 'resources', 'placement', 'labels'], warnings);
  const mode = o.mode === undefined ? 'replicated' : oneOf(`${path}.mode`, o.mode, ['replicated', 'global'] as const);
  if (mode === 'global' && o.replicas !== undefined) throw new PathError(`${path}.replicas: not allowed with mode global`);
  spec.Mode = mode === 'global' ? { Global: {} } : { Replicated: { Replicas: o.replicas === undefined ? 1 : int(`${path}.replicas`, o.replicas) } };
  if (o.update_config !== undefined) spec.UpdateConfig = updateConfig(`${path}.update_config`, o.update_config, false, warnings);
  if (o.rollback_config !== undefined) spec.RollbackConfig = updateConfig(`${path}.rollback_config`, o.rollback_config, true, warnings);
  const t = spec.TaskTemplate;
  if (o.restart_policy !== undefined) {
    const at = `${path}.restart_policy`;
    const r = known(at, obj(at, o.restart_policy), ['condition', 'delay', 'max_attempts', 'window'], warnings);
    t.RestartPolicy = {
      ...(r.condition === undefined ? {} : { Condition: oneOf(`${at}.condition`, r.condition, ['none', 'on-failure', 'any'] as const) }),
      ...(r.delay === undefined ? {} : { Delay: duration(`${at}.delay`, r.delay) }),
      ...(r.max_attempts === undefined ? {} : { MaxAttempts: int(`${at}.max_attempts`, r.max_attempts) }),
      ...(r.window === undefined ? {} : { Window: duration(`${at}.window`, r.window) }),
    };
  }
  if (o.resources !== undefined) t.Resources = resources(`${path}.resources`, o.resources, warnings);
  if (o.placement !== undefined) t.Placement = placement(`${path}.placement`, o.placement, warnings);
  if (mode === 'global' && (t.Placement?.MaxReplicas ?? 0) > 0) throw new PathError(`${path}.placement.max_replicas_per_node: not allowed with mode global`);
  if (o.labels !== undefined) spec.Labels = Object.fromEntries(keyValues(`${path}.labels`, o.labels));
}

const serviceKeys = ['image', 'command', 'entrypoint', 'environment', 'ports', 'labels', 'deploy', 'hostname', 'working_dir', 'user', 'stop_grace_period', 'init'];

function service(path: string, v: unknown, warnings: string[]): DServiceSpec {
  const o = known(path, obj(path, v), serviceKeys, warnings);
  if (o.image === undefined) throw new PathError(`${path}.image: required (swarm deploys images; build them first and load them on every node)`);
  const image = str(`${path}.image`, o.image);
  if (image === '') fail(`${path}.image`, 'an image reference', image);
  const spec: DServiceSpec = { TaskTemplate: { ContainerSpec: { Image: image } }, Mode: { Replicated: { Replicas: 1 } } };
  const c = spec.TaskTemplate.ContainerSpec;
  if (o.command !== undefined) c.Args = words(`${path}.command`, o.command);
  if (o.entrypoint !== undefined) c.Command = words(`${path}.entrypoint`, o.entrypoint);
  if (o.environment !== undefined) c.Env = keyValues(`${path}.environment`, o.environment).map(([k, x]) => `${k}=${x}`);
  if (o.labels !== undefined) c.Labels = Object.fromEntries(keyValues(`${path}.labels`, o.labels));
  if (o.hostname !== undefined) c.Hostname = str(`${path}.hostname`, o.hostname);
  if (o.working_dir !== undefined) c.Dir = str(`${path}.working_dir`, o.working_dir);
  if (o.user !== undefined) c.User = typeof o.user === 'number' ? String(o.user) : str(`${path}.user`, o.user);
  if (o.stop_grace_period !== undefined) c.StopGracePeriod = duration(`${path}.stop_grace_period`, o.stop_grace_period);
  if (o.init !== undefined) {
    if (typeof o.init !== 'boolean') throw new PathError(`${path}.init: expected true or false, got ${JSON.stringify(o.init)}`);
    c.Init = o.init;
  }
  if (o.ports !== undefined) spec.EndpointSpec = { Ports: ports(`${path}.ports`, o.ports, warnings) };
  if (o.deploy !== undefined) deploy(`${path}.deploy`, o.deploy, spec, warnings);
  return spec;
}

/** Parses a compose file's text; `file` names it in YAML syntax errors. */
export function parseCompose(text: string, file: string): ComposeProject {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new InvalidArgumentError(`${file} is not valid YAML: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]}`);
  }
  const warnings: string[] = [];
  const top = known('', obj('(top level)', doc ?? {}), ['version', 'services', 'networks', 'volumes', 'secrets', 'configs'], warnings);
  for (let i = 0; i < warnings.length; i++) warnings[i] = warnings[i].replace(/^\./, '');
  for (const k of ['networks', 'volumes', 'secrets', 'configs']) if (top[k] !== undefined) warnings.push(`${k} is not supported by swarm, ignored`);
  if (top.version !== undefined) {
    const ver = typeof top.version === 'string' || typeof top.version === 'number' ? String(top.version) : '';
    if (!/^3(\.\d+)?$/.test(ver)) fail('version', 'a Compose file version 3.x', top.version);
  }
  if (top.services === undefined) throw new PathError('services: required (a mapping of service names to services)');
  const services = Object.entries(obj('services', top.services)).map(([name, s]) => {
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) throw new PathError(`services.${name}: a service name has letters, digits, _ . - and starts with a letter or digit`);
    return { name, spec: service(`services.${name}`, s, warnings) };
  });
  if (services.length === 0) throw new PathError('services: the file defines no service');
  return { services, warnings };
}

/** Docker's label of a stack's services: the stack they belong to. */
export const STACK_LABEL = 'com.docker.stack.namespace';

/**
 * A compose service as deployed in a stack: named STACK_svc and labelled with the stack, as docker
 * does (docker also labels the containers; shoal's containers take no labels from a service spec).
 */
export function stackServiceSpec(stack: string, name: string, spec: DServiceSpec): DServiceSpec {
  return {
    ...spec,
    Name: `${stack}_${name}`,
    Labels: { ...spec.Labels, [STACK_LABEL]: stack, 'com.docker.stack.image': spec.TaskTemplate.ContainerSpec.Image },
  };
}
