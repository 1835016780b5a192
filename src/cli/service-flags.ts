import { parseConstraint } from '../types/objects/constraint';
import { ShoalError } from '../types/errors';
import type { DPortConfig, DServiceSpec, DUpdateConfig } from './docker-types';
import { FlagError, FlagSpec, ParsedFlags } from './flags';
import { parseBytes, parseCount, parseCpus, parseDurationNs, parseEnv } from './units';

// `service create` and `service update` flags, as docker's, turned into a Docker ServiceSpec.
// Every bad value is refused here, before a request is sent.

const updateKinds = (prefix: 'update' | 'rollback'): FlagSpec[] => [
  { name: `${prefix}-parallelism`, kind: 'value' },
  { name: `${prefix}-delay`, kind: 'value' },
  { name: `${prefix}-failure-action`, kind: 'value' },
  { name: `${prefix}-monitor`, kind: 'value' },
  { name: `${prefix}-max-failure-ratio`, kind: 'value' },
  { name: `${prefix}-order`, kind: 'value' },
];

/** Flags both create and update take. */
const commonFlags: FlagSpec[] = [
  { name: 'replicas', kind: 'value' },
  { name: 'replicas-max-per-node', kind: 'value' },
  { name: 'limit-cpu', kind: 'value' },
  { name: 'limit-memory', kind: 'value' },
  { name: 'reserve-cpu', kind: 'value' },
  { name: 'reserve-memory', kind: 'value' },
  { name: 'restart-condition', kind: 'value' },
  { name: 'restart-delay', kind: 'value' },
  { name: 'restart-max-attempts', kind: 'value' },
  { name: 'restart-window', kind: 'value' },
  ...updateKinds('update'),
  ...updateKinds('rollback'),
  { name: 'stop-grace-period', kind: 'value' },
  { name: 'hostname', kind: 'value' },
  { name: 'init', kind: 'bool' },
  { name: 'workdir', short: 'w', kind: 'value' },
  { name: 'user', short: 'u', kind: 'value' },
  { name: 'entrypoint', kind: 'value' },
  { name: 'detach', short: 'd', kind: 'bool' },
  { name: 'quiet', short: 'q', kind: 'bool' },
  { name: 'with-registry-auth', kind: 'bool' },
];

/** `service create` flags. */
export const createFlags: FlagSpec[] = [
  { name: 'name', kind: 'value' },
  { name: 'mode', kind: 'value' },
  { name: 'env', short: 'e', kind: 'list' },
  { name: 'label', short: 'l', kind: 'list' },
  { name: 'container-label', kind: 'list' },
  { name: 'constraint', kind: 'list' },
  { name: 'placement-pref', kind: 'list' },
  { name: 'publish', short: 'p', kind: 'list' },
  ...commonFlags,
];

/** `service update` flags. */
export const updateFlags: FlagSpec[] = [
  { name: 'image', kind: 'value' },
  { name: 'args', kind: 'value' },
  { name: 'force', kind: 'bool' },
  { name: 'rollback', kind: 'bool' },
  { name: 'env-add', kind: 'list' },
  { name: 'env-rm', kind: 'list' },
  { name: 'label-add', kind: 'list' },
  { name: 'label-rm', kind: 'list' },
  { name: 'container-label-add', kind: 'list' },
  { name: 'container-label-rm', kind: 'list' },
  { name: 'constraint-add', kind: 'list' },
  { name: 'constraint-rm', kind: 'list' },
  { name: 'placement-pref-add', kind: 'list' },
  { name: 'placement-pref-rm', kind: 'list' },
  { name: 'publish-add', kind: 'list' },
  { name: 'publish-rm', kind: 'list' },
  ...commonFlags,
];

const bad = (flag: string, value: string, why: string): FlagError => new FlagError(`invalid ${flag} ${JSON.stringify(value)}: ${why}`);

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) throw bad(flag, value, `expected ${allowed.join(', ')}`);
  return value as T;
}

/** Flag errors keep the flag's name: units.ts errors already say `invalid --x "v"`, others are wrapped. */
function flagCheck<T>(flag: string, value: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof FlagError) throw err;
    if (ShoalError.is(err)) throw bad(flag, value, err.message);
    throw err;
  }
}

/** KEY=VALUE labels (a bare KEY is an empty value), as docker's --label. */
export function parseLabels(values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of values) {
    const eq = l.indexOf('=');
    const k = eq < 0 ? l : l.slice(0, eq);
    if (k === '') throw bad('--label', l, 'expected KEY=VALUE');
    out[k] = eq < 0 ? '' : l.slice(eq + 1);
  }
  return out;
}

/** Docker's --publish: `8080:80`, `8080:80/udp`, `80`, or `published=8080,target=80,protocol=udp,mode=host`. */
export function parsePublish(flag: string, value: string): DPortConfig {
  const port = (p: string): number => {
    const n = Number(p);
    if (!/^\d+$/.test(p) || n < 1 || n > 65535) throw bad(flag, value, `port ${JSON.stringify(p)} must be a number in 1-65535`);
    return n;
  };
  if (value.includes('=')) {
    const kv = Object.fromEntries(value.split(',').map((part) => {
      const eq = part.indexOf('=');
      if (eq <= 0) throw bad(flag, value, `expected key=value, got ${JSON.stringify(part)}`);
      return [part.slice(0, eq).trim(), part.slice(eq + 1).trim()];
    })) as Record<string, string>;
    for (const k of Object.keys(kv)) if (!['published', 'target', 'protocol', 'mode'].includes(k)) throw bad(flag, value, `unknown key ${JSON.stringify(k)} (published, target, protocol, mode)`);
    if (kv.target === undefined) throw bad(flag, value, 'target= is required');
    return {
      Protocol: oneOf(flag, kv.protocol ?? 'tcp', ['tcp', 'udp'] as const),
      TargetPort: port(kv.target),
      ...(kv.published === undefined ? {} : { PublishedPort: port(kv.published) }),
      PublishMode: oneOf(flag, kv.mode ?? 'ingress', ['ingress', 'host'] as const),
    };
  }
  const [ports, proto = 'tcp', extra] = value.split('/');
  if (extra !== undefined) throw bad(flag, value, 'expected PUBLISHED:TARGET[/PROTOCOL]');
  const protocol = oneOf(flag, proto, ['tcp', 'udp'] as const);
  const parts = ports.split(':');
  if (parts.length > 2) throw bad(flag, value, 'expected PUBLISHED:TARGET, e.g. 8080:80');
  if (parts.length === 1) return { Protocol: protocol, TargetPort: port(parts[0]), PublishMode: 'ingress' };
  return { Protocol: protocol, TargetPort: port(parts[1]), PublishedPort: port(parts[0]), PublishMode: 'ingress' };
}

/** Docker's --placement-pref: only `spread=node.labels.KEY`. */
export function parsePlacementPref(flag: string, value: string): { Spread: { SpreadDescriptor: string } } {
  const m = /^spread=(node\.labels\.\S+)$/.exec(value);
  if (!m) throw bad(flag, value, 'expected spread=node.labels.KEY');
  return { Spread: { SpreadDescriptor: m[1] } };
}

function parseRatio(flag: string, value: string): number {
  const n = Number(value);
  if (!/^\d*\.?\d+$/.test(value) || n < 0 || n > 1) throw bad(flag, value, 'expected a number between 0 and 1');
  return n;
}

function updateConfig(f: ParsedFlags, prefix: 'update' | 'rollback', base: DUpdateConfig | undefined): DUpdateConfig | undefined {
  const v = (n: string): string | undefined => f.values.get(`${prefix}-${n}`);
  const c: DUpdateConfig = { ...base };
  let touched = false;
  const set = <K extends keyof DUpdateConfig>(key: K, name: string, parse: (flag: string, value: string) => DUpdateConfig[K]): void => {
    const value = v(name);
    if (value === undefined) return;
    c[key] = parse(`--${prefix}-${name}`, value);
    touched = true;
  };
  set('Parallelism', 'parallelism', (fl, x) => parseCount(fl, x));
  set('Delay', 'delay', parseDurationNs);
  set('FailureAction', 'failure-action', (fl, x) => oneOf(fl, x, prefix === 'update' ? ['pause', 'continue', 'rollback'] as const : ['pause', 'continue'] as const));
  set('Monitor', 'monitor', parseDurationNs);
  set('MaxFailureRatio', 'max-failure-ratio', parseRatio);
  set('Order', 'order', (fl, x) => oneOf(fl, x, ['stop-first', 'start-first'] as const));
  return touched ? c : base;
}

/** The fields create and update set the same way; returns a new spec. */
function applyCommon(spec: DServiceSpec, f: ParsedFlags): DServiceSpec {
  const v = (n: string): string | undefined => f.values.get(n);
  const t = { ...spec.TaskTemplate, ContainerSpec: { ...spec.TaskTemplate.ContainerSpec } };
  const c = t.ContainerSpec;
  if (v('hostname') !== undefined) c.Hostname = v('hostname');
  if (f.bools.has('init')) c.Init = true;
  else if (f.offs?.has('init') === true) c.Init = false;
  if (v('workdir') !== undefined) {
    if (!v('workdir')!.startsWith('/') && v('workdir') !== '') throw bad('--workdir', v('workdir')!, 'must be an absolute path');
    c.Dir = v('workdir');
  }
  if (v('user') !== undefined) c.User = v('user');
  if (v('entrypoint') !== undefined) c.Command = v('entrypoint') === '' ? [] : splitWords('--entrypoint', v('entrypoint')!);
  if (v('stop-grace-period') !== undefined) c.StopGracePeriod = parseDurationNs('--stop-grace-period', v('stop-grace-period')!);
  const res = { Limits: { ...t.Resources?.Limits }, Reservations: { ...t.Resources?.Reservations } };
  if (v('limit-cpu') !== undefined) res.Limits.NanoCPUs = parseCpus('--limit-cpu', v('limit-cpu')!);
  if (v('limit-memory') !== undefined) res.Limits.MemoryBytes = parseBytes('--limit-memory', v('limit-memory')!);
  if (v('reserve-cpu') !== undefined) res.Reservations.NanoCPUs = parseCpus('--reserve-cpu', v('reserve-cpu')!);
  if (v('reserve-memory') !== undefined) res.Reservations.MemoryBytes = parseBytes('--reserve-memory', v('reserve-memory')!);
  if (Object.keys(res.Limits).length + Object.keys(res.Reservations).length > 0) t.Resources = res;
  const rp = { ...t.RestartPolicy };
  if (v('restart-condition') !== undefined) rp.Condition = oneOf('--restart-condition', v('restart-condition')!, ['none', 'on-failure', 'any'] as const);
  if (v('restart-delay') !== undefined) rp.Delay = parseDurationNs('--restart-delay', v('restart-delay')!);
  if (v('restart-max-attempts') !== undefined) rp.MaxAttempts = parseCount('--restart-max-attempts', v('restart-max-attempts')!);
  if (v('restart-window') !== undefined) rp.Window = parseDurationNs('--restart-window', v('restart-window')!);
  if (Object.keys(rp).length > 0) t.RestartPolicy = rp;
  if (v('replicas-max-per-node') !== undefined) {
    if (spec.Mode?.Global !== undefined) throw new FlagError('--replicas-max-per-node can only be used with replicated mode');
    t.Placement = { ...t.Placement, MaxReplicas: parseCount('--replicas-max-per-node', v('replicas-max-per-node')!) };
  }
  const out: DServiceSpec = { ...spec, TaskTemplate: t };
  if (v('replicas') !== undefined) {
    if (spec.Mode?.Global !== undefined) throw new FlagError('--replicas can only be used with replicated mode');
    out.Mode = { Replicated: { Replicas: parseCount('--replicas', v('replicas')!) } };
  }
  const uc = updateConfig(f, 'update', spec.UpdateConfig);
  if (uc !== undefined) out.UpdateConfig = uc;
  const rc = updateConfig(f, 'rollback', spec.RollbackConfig);
  if (rc !== undefined) out.RollbackConfig = rc;
  return out;
}

function checkConstraint(flag: string, value: string): string {
  return flagCheck(flag, value, () => parseConstraint(value).text);
}

/** Splits --args / --entrypoint into words, honouring single and double quotes, as docker does. */
export function splitWords(flag: string, s: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (quote === undefined && /\s/.test(ch)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (quote === undefined && (ch === '"' || ch === "'")) {
      quote = ch;
      word ??= '';
    } else if (ch === quote) {
      quote = undefined;
    } else if (ch === '\\' && quote !== "'" && i + 1 < s.length) {
      word = (word ?? '') + s[++i];
    } else {
      word = (word ?? '') + ch;
    }
  }
  if (quote !== undefined) throw bad(flag, s, 'unterminated quote');
  if (word !== undefined) words.push(word);
  return words;
}

/** `service create [OPTIONS] IMAGE [COMMAND] [ARG...]` as a Docker ServiceSpec. */
export function createSpec(f: ParsedFlags, env: NodeJS.ProcessEnv): DServiceSpec {
  const [image, ...args] = f.args;
  const mode = oneOf('--mode', f.values.get('mode') ?? 'replicated', ['replicated', 'global'] as const);
  const name = f.values.get('name');
  if (name !== undefined && !/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/.test(name)) throw bad('--name', name, 'a name has letters, digits, _ . - and starts with a letter or digit (at most 63)');
  const envList = (f.lists.get('env') ?? []).map((e) => parseEnv('--env', e, env)).filter((e): e is string => e !== undefined);
  const constraints = (f.lists.get('constraint') ?? []).map((c) => checkConstraint('--constraint', c));
  const prefs = (f.lists.get('placement-pref') ?? []).map((p) => parsePlacementPref('--placement-pref', p));
  const containerLabels = parseLabels(f.lists.get('container-label') ?? []);
  const spec: DServiceSpec = {
    ...(name === undefined ? {} : { Name: name }),
    Labels: parseLabels(f.lists.get('label') ?? []),
    TaskTemplate: {
      ContainerSpec: { Image: image, ...(args.length > 0 ? { Args: args } : {}), ...(envList.length > 0 ? { Env: envList } : {}), ...(Object.keys(containerLabels).length > 0 ? { Labels: containerLabels } : {}) },
      ...(constraints.length + prefs.length > 0 ? { Placement: { ...(constraints.length > 0 ? { Constraints: constraints } : {}), ...(prefs.length > 0 ? { Preferences: prefs } : {}) } } : {}),
    },
    Mode: mode === 'global' ? { Global: {} } : { Replicated: { Replicas: 1 } },
  };
  const ports = (f.lists.get('publish') ?? []).map((p) => parsePublish('--publish', p));
  if (ports.length > 0) spec.EndpointSpec = { Ports: ports };
  return applyCommon(spec, f);
}

const envKey = (e: string): string => (e.includes('=') ? e.slice(0, e.indexOf('=')) : e);
const portKey = (p: DPortConfig): string => `${p.PublishedPort ?? ''}:${p.TargetPort}/${p.Protocol ?? 'tcp'}`;

/** `service update` flags applied to the service's current spec; returns the new spec. */
export function updateSpec(current: DServiceSpec, f: ParsedFlags, env: NodeJS.ProcessEnv): DServiceSpec {
  const list = (n: string): string[] => f.lists.get(n) ?? [];
  const s = applyCommon(current, f);
  const t = { ...s.TaskTemplate, ContainerSpec: { ...s.TaskTemplate.ContainerSpec } };
  const c = t.ContainerSpec;
  if (f.values.get('image') !== undefined) {
    if (f.values.get('image') === '') throw bad('--image', '', 'an image is required');
    c.Image = f.values.get('image')!;
  }
  if (f.values.get('args') !== undefined) c.Args = splitWords('--args', f.values.get('args')!);
  if (list('env-add').length + list('env-rm').length > 0) {
    const rm = new Set(list('env-rm').map(envKey));
    const add = list('env-add').map((e) => parseEnv('--env-add', e, env)).filter((e): e is string => e !== undefined);
    const addKeys = new Set(add.map(envKey));
    c.Env = [...(c.Env ?? []).filter((e) => !rm.has(envKey(e)) && !addKeys.has(envKey(e))), ...add];
  }
  if (list('container-label-add').length + list('container-label-rm').length > 0) {
    const labels = { ...c.Labels, ...parseLabels(list('container-label-add')) };
    for (const k of list('container-label-rm')) delete labels[k];
    c.Labels = labels;
  }
  if (list('constraint-add').length + list('constraint-rm').length + list('placement-pref-add').length + list('placement-pref-rm').length > 0) {
    const rmC = new Set(list('constraint-rm').map((x) => checkConstraint('--constraint-rm', x)));
    const addC = list('constraint-add').map((x) => checkConstraint('--constraint-add', x));
    const rmP = new Set(list('placement-pref-rm').map((p) => parsePlacementPref('--placement-pref-rm', p).Spread.SpreadDescriptor));
    const addP = list('placement-pref-add').map((p) => parsePlacementPref('--placement-pref-add', p));
    const constraints = [...(t.Placement?.Constraints ?? []).filter((x) => !rmC.has(x) && !addC.includes(x)), ...addC];
    const prefs = [...(t.Placement?.Preferences ?? []).filter((p) => !rmP.has(p.Spread.SpreadDescriptor)), ...addP];
    t.Placement = { ...t.Placement, Constraints: constraints, Preferences: prefs };
  }
  if (f.bools.has('force')) t.ForceUpdate = (t.ForceUpdate ?? 0) + 1;
  const out: DServiceSpec = { ...s, TaskTemplate: t };
  if (list('label-add').length + list('label-rm').length > 0) {
    const labels = { ...out.Labels, ...parseLabels(list('label-add')) };
    for (const k of list('label-rm')) delete labels[k.includes('=') ? k.slice(0, k.indexOf('=')) : k];
    out.Labels = labels;
  }
  if (list('publish-add').length + list('publish-rm').length > 0) {
    const add = list('publish-add').map((p) => parsePublish('--publish-add', p));
    const rmTargets = new Set(list('publish-rm').map((p) => (/^\d+(\/(tcp|udp))?$/.test(p) ? p.split('/')[0] : String(parsePublish('--publish-rm', p).TargetPort))));
    const addKeys = new Set(add.map(portKey));
    const ports = [...(out.EndpointSpec?.Ports ?? []).filter((p) => !rmTargets.has(String(p.TargetPort)) && !addKeys.has(portKey(p))), ...add];
    out.EndpointSpec = { ...out.EndpointSpec, Ports: ports };
  }
  return out;
}
