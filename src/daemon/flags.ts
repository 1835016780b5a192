import * as fs from 'node:fs';
import * as path from 'node:path';
import * as YAML from 'yaml';
import { parseSubnet } from '../runtime/bridge-network';
import { InvalidArgumentError } from '../types/errors';
import type { DaemonConfig } from './config';

/** Defaults as dockerd's, with shoal's paths (DESIGN.md §10). */
export const DAEMON_DEFAULTS: DaemonConfig = {
  dataRoot: '/var/lib/shoal',
  socketPath: '/run/shoal/shoal.sock',
  runRoot: '/run/shoal',
  listenAddr: '0.0.0.0:2377',
  advertiseAddr: '',
  metricsAddr: '',
  logLevel: 'info',
  eventsNats: '',
  labels: {},
};

/** What shoald was asked to do: run with a configuration, or print its help or version. */
export type DaemonCommand =
  | { readonly kind: 'run'; readonly config: DaemonConfig }
  | { readonly kind: 'help'; readonly text: string }
  | { readonly kind: 'version'; readonly text: string };

/** The environment variables shoald reads: only the config file's location. */
export type DaemonEnv = Readonly<Record<string, string | undefined>>;

type Field = Exclude<keyof DaemonConfig, 'labels'>;
/** Settings the daemon defaults itself when they are not given. */
type OptionalField = 'bridgeName' | 'bridgeSubnet' | 'cgroupParent' | 'eventsNatsBuffer';

/** One value flag: the config field it sets and how its text becomes the value. */
interface ValueFlag {
  readonly flag: string;
  readonly field: Field;
  readonly help: string;
  /** The value's name in --help. */
  readonly arg: string;
  readonly parse: (v: string, flag: string) => string;
}

/** A unix socket path must fit sockaddr_un.sun_path (108 bytes with the terminating NUL). */
const socketPathBytesMax = 107;
const logLevels = ['debug', 'info', 'warn', 'error'] as const;

const valueFlags: readonly ValueFlag[] = [
  { flag: 'data-root', arg: 'DIR', field: 'dataRoot', help: 'where shoal keeps its state (default /var/lib/shoal)', parse: parsePath },
  { flag: 'exec-root', arg: 'DIR', field: 'runRoot', help: 'where the pid file and runtime state live (default /run/shoal)', parse: parsePath },
  { flag: 'host', arg: 'URL', field: 'socketPath', help: 'the local API socket, unix:///path or a path (default unix:///run/shoal/shoal.sock)', parse: parseHost },
  { flag: 'listen-addr', arg: 'HOST:PORT', field: 'listenAddr', help: 'host:port of the cluster gRPC server (default 0.0.0.0:2377)', parse: (v, f) => parseHostPort(v, f, true) },
  { flag: 'advertise-addr', arg: 'HOST[:PORT]', field: 'advertiseAddr', help: 'host[:port] other nodes reach this one at (default: derived)', parse: (v, f) => (v === '' ? '' : parseHostPort(v, f, false)) },
  { flag: 'metrics-addr', arg: 'HOST:PORT', field: 'metricsAddr', help: 'host:port of the Prometheus endpoint (default: off)', parse: (v, f) => (v === '' ? '' : parseHostPort(v, f, true)) },
  { flag: 'log-level', arg: 'LEVEL', field: 'logLevel', help: 'debug, info, warn or error (default info)', parse: parseLogLevel },
  { flag: 'events-nats', arg: 'URL', field: 'eventsNats', help: 'publish cluster events to NATS at nats://host:port (default: off)', parse: parseNatsUrl },
  { flag: 'events-nats-buffer', arg: 'N', field: 'eventsNatsBuffer', help: 'cluster events kept for NATS while it is unreachable; older ones are dropped and counted (default 10000)', parse: parsePositiveInt },
  { flag: 'bridge', arg: 'NAME', field: 'bridgeName', help: "the containers' bridge interface (default shoal0)", parse: parseIfname },
  { flag: 'bridge-subnet', arg: 'CIDR', field: 'bridgeSubnet', help: "the bridge's IPv4 subnet, a CIDR with a prefix of 16 to 29 (default 10.88.0.0/16)", parse: parseCidr },
  { flag: 'cgroup-parent', arg: 'PATH', field: 'cgroupParent', help: 'parent cgroup of every container (default shoal)', parse: parseCgroupParent },
];
const byFlag = new Map(valueFlags.map((f) => [f.flag, f]));

/**
 * Parses shoald's command line into its configuration. Precedence: flags, then the config file
 * (`--config FILE`, or $SHOALD_CONFIG), then the defaults. Every bad value is refused with the
 * flag (or config key) and the value named.
 */
export function parseDaemonArgs(argv: readonly string[], env: DaemonEnv = {}): DaemonConfig {
  const cmd = parseDaemonCommand(argv, env);
  if (cmd.kind !== 'run') throw new InvalidArgumentError(`--${cmd.kind} asks for no configuration`);
  return cmd.config;
}

/** Like parseDaemonArgs, but also recognizes --help and --version. */
export function parseDaemonCommand(argv: readonly string[], env: DaemonEnv = {}): DaemonCommand {
  const set = new Map<Field, string>();
  const labels: string[] = [];
  let configFile = env.SHOALD_CONFIG !== undefined && env.SHOALD_CONFIG !== '' ? env.SHOALD_CONFIG : undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') return { kind: 'help', text: daemonUsage() };
    if (a === '--version' || a === '-v') return { kind: 'version', text: `shoald version ${packageVersion()}` };
    if (!a.startsWith('--')) throw new InvalidArgumentError(`unexpected argument ${JSON.stringify(a)}: shoald takes only flags`, { hint: "see 'shoald --help'" });
    const eq = a.indexOf('=');
    const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
    if (name !== 'label' && name !== 'config' && !byFlag.has(name)) throw new InvalidArgumentError(`unknown flag: --${name}`, { hint: "see 'shoald --help'" });
    let value: string | undefined = eq < 0 ? argv[++i] : a.slice(eq + 1);
    if (value === undefined) throw new InvalidArgumentError(`flag needs an argument: --${name}`, { hint: "see 'shoald --help'" });
    if (name === 'label') labels.push(value);
    else if (name === 'config') configFile = value === '' ? undefined : value;
    else {
      const spec = byFlag.get(name)!;
      value = spec.parse(value, `--${name}`);
      set.set(spec.field, value);
    }
  }
  const file: FileConfig = configFile === undefined ? { values: new Map(), labels: {} } : readConfigFile(configFile);
  const given = (field: Field): string | undefined => set.get(field) ?? file.values.get(field);
  const pick = (field: Exclude<Field, OptionalField>): string => given(field) ?? DAEMON_DEFAULTS[field];
  const optional = Object.fromEntries((['bridgeName', 'bridgeSubnet', 'cgroupParent'] as const).flatMap((f) => (given(f) === undefined ? [] : [[f, given(f)]]))) as Partial<Pick<DaemonConfig, Exclude<OptionalField, 'eventsNatsBuffer'>>>;
  const flagLabels = parseLabels(labels, '--label');
  const natsBuffer = given('eventsNatsBuffer');
  return {
    kind: 'run',
    config: {
      dataRoot: pick('dataRoot'),
      socketPath: pick('socketPath'),
      runRoot: pick('runRoot'),
      listenAddr: pick('listenAddr'),
      advertiseAddr: pick('advertiseAddr'),
      metricsAddr: pick('metricsAddr'),
      logLevel: pick('logLevel') as DaemonConfig['logLevel'],
      eventsNats: pick('eventsNats'),
      labels: { ...file.labels, ...flagLabels },
      ...optional,
      ...(natsBuffer === undefined ? {} : { eventsNatsBuffer: Number(natsBuffer) }),
    },
  };
}

/** shoald --help. */
export function daemonUsage(): string {
  const rows: [string, string][] = [
    ...valueFlags.map((f): [string, string] => [`--${f.flag} ${f.arg}`, f.help]),
    ['--label k=v', "this node's engine labels (repeatable)"],
    ['--config FILE', 'JSON or YAML file with the same settings (flags win; also $SHOALD_CONFIG)'],
    ['--help', 'print this help'],
    ['--version', "print shoald's version"],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  return ['Usage: shoald [OPTIONS]', '', "shoal's node daemon: the local API, the worker agent and, on managers, the control plane.", '', 'Options:', ...rows.map(([k, h]) => `  ${k.padEnd(w)}  ${h}`)].join('\n');
}

/** shoal's version, from its package.json (dist/src/daemon/ is three levels below it). */
export function packageVersion(): string {
  for (const rel of ['../../../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, rel), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'shoal' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      /* try the next place */
    }
  }
  return 'unknown';
}

// ---- the config file ------------------------------------------------------------------------

interface FileConfig {
  readonly values: Map<Field, string>;
  readonly labels: Record<string, string>;
}

/** camelCase and kebab-case keys of a config file, to the flag they stand for. */
function keyToFlag(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function readConfigFile(file: string): FileConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new InvalidArgumentError(`--config: cannot read ${JSON.stringify(file)}: ${(err as Error).message}`, { cause: err });
  }
  let doc: unknown;
  try {
    doc = /\.json$/i.test(file) ? JSON.parse(text) : YAML.parse(text);
  } catch (err) {
    throw new InvalidArgumentError(`--config: ${file} is not valid ${/\.json$/i.test(file) ? 'JSON' : 'YAML'}: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
  if (doc === null || doc === undefined) doc = {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new InvalidArgumentError(`--config: ${file} must hold a mapping of settings, got ${Array.isArray(doc) ? 'a list' : typeof doc}`);
  const values = new Map<Field, string>();
  let labels: Record<string, string> = {};
  for (const [key, raw] of Object.entries(doc as Record<string, unknown>)) {
    const flag = keyToFlag(key);
    const where = `${file}: ${key}`;
    if (flag === 'label' || flag === 'labels') {
      labels = fileLabels(raw, where);
      continue;
    }
    const spec = byFlag.get(flag) ?? (flag === 'socket-path' ? byFlag.get('host') : flag === 'run-root' ? byFlag.get('exec-root') : undefined);
    if (spec === undefined) throw new InvalidArgumentError(`${where}: unknown setting`, { hint: "the settings are shoald's flags without the dashes ('shoald --help')" });
    if (typeof raw !== 'string' && typeof raw !== 'number') throw new InvalidArgumentError(`${where}: expected a string, got ${JSON.stringify(raw)}`);
    values.set(spec.field, spec.parse(String(raw), where));
  }
  return { values, labels };
}

function fileLabels(raw: unknown, where: string): Record<string, string> {
  if (Array.isArray(raw)) {
    if (!raw.every((x) => typeof x === 'string')) throw new InvalidArgumentError(`${where}: expected a list of k=v strings, got ${JSON.stringify(raw)}`);
    return parseLabels(raw, where);
  }
  if (raw === null || typeof raw !== 'object') throw new InvalidArgumentError(`${where}: expected a mapping or a list of k=v, got ${JSON.stringify(raw)}`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') throw new InvalidArgumentError(`${where}.${k}: expected a string, got ${JSON.stringify(v)}`);
    out[k] = String(v);
  }
  return out;
}

// ---- values ---------------------------------------------------------------------------------

function bad(flag: string, expected: string, got: string): InvalidArgumentError {
  return new InvalidArgumentError(`${flag}: expected ${expected}, got ${JSON.stringify(got)}`);
}

function parsePath(v: string, flag: string): string {
  if (v === '' || v.includes('\0')) throw bad(flag, 'a directory path', v);
  return path.resolve(v);
}

function parseHost(v: string, flag: string): string {
  let p = v;
  if (v.startsWith('unix://')) p = v.slice('unix://'.length);
  else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(v)) throw bad(flag, 'unix:///path/to/socket or a path (only unix sockets are served)', v);
  if (p === '' || p.includes('\0') || p.endsWith('/')) throw bad(flag, 'unix:///path/to/socket or a path', v);
  const abs = path.resolve(p);
  if (Buffer.byteLength(abs) > socketPathBytesMax) throw bad(flag, `a socket path of at most ${socketPathBytesMax} bytes`, v);
  return abs;
}

/** host:port with a port from 1 to 65535; `requirePort` false allows a bare host (advertise address). */
function parseHostPort(v: string, flag: string, requirePort: boolean): string {
  const expected = requirePort ? 'host:port' : 'host or host:port';
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]\s/]+)(?::(\d+))?$/.exec(v);
  if (m === null || (requirePort && m[2] === undefined)) throw bad(flag, expected, v);
  if (m[2] !== undefined) {
    const port = Number(m[2]);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw bad(flag, `${expected} with a port from 1 to 65535`, v);
  }
  return v;
}

function parseLogLevel(v: string, flag: string): string {
  if (!(logLevels as readonly string[]).includes(v)) throw bad(flag, logLevels.join(', ').replace(/, (?=[^,]*$)/, ' or '), v);
  return v;
}

function parseNatsUrl(v: string, flag: string): string {
  if (v === '') return '';
  const m = /^nats:\/\/([^/\s:]+|\[[0-9a-fA-F:.]+\]):(\d+)$/.exec(v);
  if (m === null) throw bad(flag, 'nats://host:port', v);
  const port = Number(m[2]);
  if (port < 1 || port > 65535) throw bad(flag, 'nats://host:port with a port from 1 to 65535', v);
  return v;
}

function parsePositiveInt(v: string, flag: string): string {
  if (!/^[1-9]\d{0,8}$/.test(v)) throw bad(flag, 'a positive integer of at most 9 digits', v);
  return v;
}

function parseIfname(v: string, flag: string): string {
  if (!/^[a-zA-Z][a-zA-Z0-9_-]{0,14}$/.test(v)) throw bad(flag, 'an interface name of 1-15 letters, digits, _ or -', v);
  return v;
}

function parseCidr(v: string, flag: string): string {
  try {
    parseSubnet(v);
  } catch {
    throw bad(flag, 'an IPv4 CIDR with a prefix of 16 to 29 and no host bits set', v);
  }
  return v;
}

function parseCgroupParent(v: string, flag: string): string {
  const parts = v.replace(/^\/+/, '').split('/');
  if (v === '' || parts.some((p) => p === '' || p === '.' || p === '..')) throw bad(flag, 'a cgroup path such as shoal or system.slice/shoal', v);
  return parts.join('/');
}

function parseLabels(items: readonly string[], flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw bad(flag, 'k=v', item);
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}
