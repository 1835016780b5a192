import { InvalidArgumentError } from '../errors';
import type { ClusterSpec } from './cluster';
import type { NodeSpec } from './node';
import type { PortConfig, ServiceSpec, TaskSpec, UpdateConfig } from './service';
import { parseConstraint } from './constraint';

/** Names follow Docker: letters, digits, '-', '_' and '.', starting with a letter or digit, at most 63. */
const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/;
const INT32_MAX = 2 ** 31 - 1;

function fail(field: string, what: string, value: unknown): never {
  throw new InvalidArgumentError(`${field} ${what}, got ${JSON.stringify(value)}`);
}

function int(field: string, v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (typeof v !== 'number' || !Number.isInteger(v)) fail(field, 'must be an integer', v);
  if (v < min) fail(field, `must be >= ${min}`, v);
  if (v > max) fail(field, `must be <= ${max}`, v);
}

function oneOf(field: string, v: unknown, allowed: readonly string[]): void {
  if (typeof v !== 'string' || !allowed.includes(v)) fail(field, `must be one of ${allowed.join(', ')}`, v);
}

function str(field: string, v: unknown): void {
  if (typeof v !== 'string') fail(field, 'must be a string', v);
}

function strings(field: string, v: unknown): void {
  if (!Array.isArray(v)) fail(field, 'must be a list of strings', v);
  v.forEach((x, i) => str(`${field}[${i}]`, x));
}

function labels(field: string, v: unknown): void {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(field, 'must be a map of strings', v);
  for (const [k, x] of Object.entries(v)) {
    if (k === '') fail(field, 'must not have an empty key', v);
    str(`${field}.${k}`, x);
  }
}

function validateTaskSpec(t: TaskSpec): void {
  const c = t.container;
  if (typeof c.image !== 'string' || c.image.trim() === '') fail('task.container.image', 'must not be empty', c.image);
  if (/\s/.test(c.image)) fail('task.container.image', 'must not contain whitespace', c.image);
  strings('task.container.command', c.command);
  strings('task.container.args', c.args);
  strings('task.container.env', c.env);
  c.env.forEach((e, i) => { if (!/^[^=]+=/.test(e) && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(e)) fail(`task.container.env[${i}]`, 'must be NAME=value', e); });
  str('task.container.user', c.user);
  str('task.container.workdir', c.workdir);
  if (c.workdir !== '' && !c.workdir.startsWith('/')) fail('task.container.workdir', 'must be an absolute path', c.workdir);
  str('task.container.hostname', c.hostname);
  int('task.container.stopGraceMs', c.stopGraceMs, 0);
  if (c.init !== undefined && c.init !== true) fail('task.container.init', 'must be true or absent', c.init);
  c.mounts.forEach((m, i) => {
    oneOf(`task.container.mounts[${i}].type`, m.type, ['bind', 'volume', 'tmpfs']);
    if (typeof m.target !== 'string' || !m.target.startsWith('/')) fail(`task.container.mounts[${i}].target`, 'must be an absolute path', m.target);
    if (m.type === 'bind' && (typeof m.source !== 'string' || !m.source.startsWith('/'))) fail(`task.container.mounts[${i}].source`, 'must be an absolute path for a bind mount', m.source);
  });
  for (const kind of ['limits', 'reservations'] as const) {
    int(`task.resources.${kind}.nanoCPUs`, t.resources[kind].nanoCPUs, 0);
    int(`task.resources.${kind}.memoryBytes`, t.resources[kind].memoryBytes, 0);
  }
  const rp = t.restartPolicy;
  oneOf('task.restartPolicy.condition', rp.condition, ['none', 'on-failure', 'any']);
  int('task.restartPolicy.delayMs', rp.delayMs, 0);
  int('task.restartPolicy.maxAttempts', rp.maxAttempts, 0);
  int('task.restartPolicy.windowMs', rp.windowMs, 0);
  t.placement.constraints.forEach((c2, i) => {
    try { parseConstraint(c2); } catch (err) { fail(`task.placement.constraints[${i}]`, (err as Error).message, c2); }
  });
  t.placement.preferences.forEach((p, i) => {
    if (typeof p.spread !== 'string' || !/^node\.labels\.[^\s]+$/.test(p.spread)) fail(`task.placement.preferences[${i}].spread`, 'must be node.labels.<key>', p.spread);
  });
  int('task.placement.maxReplicas', t.placement.maxReplicas, 0);
  int('task.forceUpdate', t.forceUpdate, 0);
}

function validateUpdateConfig(field: string, u: UpdateConfig): void {
  int(`${field}.parallelism`, u.parallelism, 0);
  int(`${field}.delayMs`, u.delayMs, 0);
  oneOf(`${field}.failureAction`, u.failureAction, field === 'rollback' ? ['pause', 'continue'] : ['pause', 'continue', 'rollback']);
  int(`${field}.monitorMs`, u.monitorMs, 0);
  if (typeof u.maxFailureRatio !== 'number' || !(u.maxFailureRatio >= 0 && u.maxFailureRatio <= 1)) fail(`${field}.maxFailureRatio`, 'must be between 0 and 1', u.maxFailureRatio);
  oneOf(`${field}.order`, u.order, ['stop-first', 'start-first']);
}

function validatePorts(ports: readonly PortConfig[]): void {
  const seen = new Set<string>();
  ports.forEach((p, i) => {
    oneOf(`endpoint.ports[${i}].protocol`, p.protocol, ['tcp', 'udp']);
    int(`endpoint.ports[${i}].targetPort`, p.targetPort, 1, 65535);
    int(`endpoint.ports[${i}].publishedPort`, p.publishedPort, 0, 65535);
    oneOf(`endpoint.ports[${i}].publishMode`, p.publishMode, ['ingress', 'host']);
    const key = `${p.protocol}/${p.publishedPort}`;
    if (p.publishedPort !== 0 && seen.has(key)) fail(`endpoint.ports[${i}].publishedPort`, 'is published twice', p.publishedPort);
    seen.add(key);
  });
}

/** Checks every field of a (defaulted) service spec; throws InvalidArgumentError naming the first bad field and value. */
export function validateServiceSpec(s: ServiceSpec): void {
  for (const part of ['task', 'update', 'rollback', 'endpoint'] as const) {
    if (typeof s[part] !== 'object' || s[part] === null) fail(part, 'must be an object', s[part]);
  }
  if (!Array.isArray(s.endpoint.ports)) fail('endpoint.ports', 'must be a list', s.endpoint.ports);
  if (typeof s.name !== 'string' || !NAME_RE.test(s.name)) fail('name', 'must be 1-63 letters, digits, "-", "_" or "." starting with a letter or digit', s.name);
  labels('labels', s.labels);
  oneOf('mode', s.mode, ['replicated', 'global']);
  if (s.mode === 'replicated') int('replicas', s.replicas, 0, INT32_MAX);
  else if (s.replicas !== 0) fail('replicas', 'must be 0 for a global service', s.replicas);
  validateTaskSpec(s.task);
  validateUpdateConfig('update', s.update);
  validateUpdateConfig('rollback', s.rollback);
  validatePorts(s.endpoint.ports);
}

/** Checks a node spec from an operator's update. */
export function validateNodeSpec(s: NodeSpec): void {
  if (typeof s.name !== 'string') fail('name', 'must be a string', s.name);
  labels('labels', s.labels);
  oneOf('role', s.role, ['worker', 'manager']);
  oneOf('availability', s.availability, ['active', 'pause', 'drain']);
}

/** Checks cluster settings. */
export function validateClusterSpec(s: ClusterSpec): void {
  if (typeof s !== 'object' || s === null) fail('spec', 'must be an object', s);
  for (const part of ['orchestration', 'dispatcher', 'caConfig'] as const) {
    if (typeof s[part] !== 'object' || s[part] === null) fail(part, 'must be an object', s[part]);
  }
  if (typeof s.name !== 'string' || s.name === '') fail('name', 'must not be empty', s.name);
  int('orchestration.taskHistoryRetentionLimit', s.orchestration.taskHistoryRetentionLimit, 0, 1000);
  int('dispatcher.heartbeatPeriodMs', s.dispatcher.heartbeatPeriodMs, 100, 3_600_000);
  int('caConfig.nodeCertExpiryMs', s.caConfig.nodeCertExpiryMs, 3600 * 1000);
}
