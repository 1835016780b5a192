import * as os from 'node:os';
import * as path from 'node:path';
import { InvalidArgumentError } from '../types/errors';
import { ResourceLimits, validateLimits } from './cgroups';

/** A mount into the container: a host path, a named volume kept across removal, or a tmpfs. */
export type MountSpec =
  | { type: 'bind'; source: string; target: string; readOnly?: boolean }
  | { type: 'volume'; name: string; target: string; readOnly?: boolean }
  | { type: 'tmpfs'; target: string; sizeBytes?: number };

/** A published port: hostPort on the host reaches containerPort in the container (host-mode publishing). */
export interface PortMapping {
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp';
}

/** How the container is networked: on the node's bridge, alone with loopback, or in the host's stack. */
export type NetworkMode = 'bridge' | 'none' | 'host';

/** What a container runs and with which limits; the image store supplies the layer dirs. */
export interface ContainerConfig {
  /** Command and arguments; args[0] is looked up in the container's PATH. */
  cmd: string[];
  /** KEY=VALUE pairs. PATH defaults to Docker's default when absent. */
  env?: string[];
  workingDir?: string;
  /** Docker's --user: name, uid, name:group or uid:gid, looked up in the image; overrides uid/gid. */
  user?: string;
  /** Numeric user, group and supplementary groups (0 = root). */
  uid?: number;
  gid?: number;
  groups?: number[];
  hostname?: string;
  readOnlyRootfs?: boolean;
  mounts?: MountSpec[];
  limits?: ResourceLimits;
  network?: NetworkMode;
  ports?: PortMapping[];
  /** Run a minimal init as PID 1 that reaps zombies and forwards signals. */
  init?: boolean;
  /** Signal name sent by stop, e.g. SIGTERM (default) or SIGQUIT. */
  stopSignal?: string;
  /** Grace between the stop signal and SIGKILL (default 10 s, as Docker). */
  stopGraceMs?: number;
  /** Log rotation: bytes per file and files kept besides the current one. */
  logMaxBytes?: number;
  logMaxFiles?: number;
  labels?: Record<string, string>;
}

/** The input of create: the image's layer directories (lowest first) and the config. */
export interface CreateOptions {
  layerDirs: string[];
  config: ContainerConfig;
  name?: string;
}

/** Docker's default PATH for containers. */
export const defaultPath = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Docker's default stop grace. */
export const defaultStopGraceMs = 10_000;

const nameRe = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;
const hostnameRe = /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/;

function bad(msg: string): never {
  throw new InvalidArgumentError(msg);
}

/** Field text that goes into the shim's NUL/tab-separated spec may not contain those bytes. */
function plain(field: string, v: string): void {
  if (/[\0\t\n]/.test(v)) bad(`${field} may not contain NUL, tab or newline: ${JSON.stringify(v)}`);
}

function checkTarget(field: string, t: string): void {
  plain(field, t);
  if (!path.isAbsolute(t) || path.normalize(t) !== t || t === '/') bad(`${field} must be a normalized absolute path other than /, got ${JSON.stringify(t)}`);
}

function checkId(field: string, v: number | undefined): void {
  if (v !== undefined && (!Number.isInteger(v) || v < 0 || v > 0xfffffffe)) bad(`${field} must be an integer in [0, 4294967294], got ${v}`);
}

/** Validates every field of a create request; throws InvalidArgumentError naming the field. */
export function validateCreate(opts: CreateOptions): void {
  if (!Array.isArray(opts.layerDirs) || opts.layerDirs.length === 0) bad('layerDirs must list at least one directory');
  for (const d of opts.layerDirs) {
    if (typeof d !== 'string' || !path.isAbsolute(d) || /[,:\0\t\n]/.test(d)) bad(`layer dir must be an absolute path without , or :, got ${JSON.stringify(d)}`);
  }
  if (opts.name !== undefined && !nameRe.test(opts.name)) bad(`container name ${JSON.stringify(opts.name)} must match ${nameRe.source}`);
  const c = opts.config;
  if (!Array.isArray(c.cmd) || c.cmd.length === 0 || c.cmd.some((a) => typeof a !== 'string')) bad('config.cmd must be a non-empty list of strings');
  c.cmd.forEach((a) => { if (a.includes('\0')) bad('config.cmd may not contain NUL'); });
  if (c.cmd.length > 200) bad(`config.cmd has ${c.cmd.length} arguments, at most 200`);
  for (const e of c.env ?? []) {
    if (typeof e !== 'string' || !e.includes('=') || e.startsWith('=') || e.includes('\0')) bad(`config.env entry must be KEY=VALUE, got ${JSON.stringify(e)}`);
  }
  if ((c.env ?? []).length > 200) bad('config.env has more than 200 entries');
  if (c.workingDir !== undefined) { plain('config.workingDir', c.workingDir); if (!path.isAbsolute(c.workingDir)) bad(`config.workingDir must be absolute, got ${JSON.stringify(c.workingDir)}`); }
  if (c.user !== undefined && (typeof c.user !== 'string' || !/^[a-zA-Z0-9_.-]+(:[a-zA-Z0-9_.-]+)?$/.test(c.user))) bad(`config.user must be name, uid, name:group or uid:gid, got ${JSON.stringify(c.user)}`);
  checkId('config.uid', c.uid);
  checkId('config.gid', c.gid);
  (c.groups ?? []).forEach((g) => checkId('config.groups', g));
  if (c.hostname !== undefined && !hostnameRe.test(c.hostname)) bad(`config.hostname ${JSON.stringify(c.hostname)} is not a valid host name`);
  if (c.network !== undefined && !['bridge', 'none', 'host'].includes(c.network)) bad(`config.network must be bridge, none or host, got ${JSON.stringify(c.network)}`);
  validatePorts(c);
  for (const m of c.mounts ?? []) validateMount(m);
  validateLimits(c.limits ?? {});
  if (c.stopSignal !== undefined) signalNumber(c.stopSignal);
  if (c.stopGraceMs !== undefined && (!Number.isInteger(c.stopGraceMs) || c.stopGraceMs < 0)) bad(`config.stopGraceMs must be a non-negative integer, got ${c.stopGraceMs}`);
  if (c.logMaxBytes !== undefined && (!Number.isInteger(c.logMaxBytes) || c.logMaxBytes < 1024)) bad(`config.logMaxBytes must be an integer ≥ 1024, got ${c.logMaxBytes}`);
  if (c.logMaxFiles !== undefined && (!Number.isInteger(c.logMaxFiles) || c.logMaxFiles < 0 || c.logMaxFiles > 100)) bad(`config.logMaxFiles must be in [0, 100], got ${c.logMaxFiles}`);
}

function validatePorts(c: ContainerConfig): void {
  const seen = new Set<string>();
  for (const p of c.ports ?? []) {
    for (const [k, v] of [['hostPort', p.hostPort], ['containerPort', p.containerPort]] as const) {
      if (!Number.isInteger(v) || v < 1 || v > 65535) bad(`port ${k} must be in [1, 65535], got ${v}`);
    }
    if (p.protocol !== 'tcp' && p.protocol !== 'udp') bad(`port protocol must be tcp or udp, got ${JSON.stringify(p.protocol)}`);
    const key = `${p.hostPort}/${p.protocol}`;
    if (seen.has(key)) bad(`host port ${key} is published twice`);
    seen.add(key);
  }
  if ((c.ports ?? []).length > 0 && (c.network ?? 'bridge') !== 'bridge') bad('ports can only be published with network bridge');
}

function validateMount(m: MountSpec): void {
  checkTarget('mount target', m.target);
  if (m.type === 'bind') {
    plain('bind source', m.source);
    if (!path.isAbsolute(m.source)) bad(`bind source must be absolute, got ${JSON.stringify(m.source)}`);
  } else if (m.type === 'volume') {
    if (!nameRe.test(m.name)) bad(`volume name ${JSON.stringify(m.name)} must match ${nameRe.source}`);
  } else if (m.type === 'tmpfs') {
    if (m.sizeBytes !== undefined && (!Number.isInteger(m.sizeBytes) || m.sizeBytes < 4096)) bad(`tmpfs sizeBytes must be an integer ≥ 4096, got ${m.sizeBytes}`);
  } else {
    bad(`mount type must be bind, volume or tmpfs, got ${JSON.stringify((m as { type: unknown }).type)}`);
  }
}

/** The number of a signal given by name (SIGTERM, TERM) or number; throws for unknown ones. */
export function signalNumber(sig: string): number {
  const n = Number(sig);
  if (Number.isInteger(n) && n > 0 && n < 65) return n;
  const name = (sig.startsWith('SIG') ? sig : `SIG${sig}`).toUpperCase() as keyof typeof os.constants.signals;
  const v = os.constants.signals[name];
  if (v === undefined) bad(`unknown signal ${JSON.stringify(sig)}`);
  return v;
}
