import * as path from 'node:path';
import { MountSpec, PortMapping } from '../runtime/container-config';
import { FlagError } from './flags';

const bad = (flag: string, value: string, why: string): FlagError => new FlagError(`invalid ${flag} ${JSON.stringify(value)}: ${why}`);

const sizeUnits: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** Docker's byte sizes: 64m, 1g, 512k, 1024 (bytes); units are powers of 1024. */
export function parseBytes(flag: string, value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([bkmgt]?)b?$/i.exec(value.trim());
  if (!m) throw bad(flag, value, 'expected a size like 64m, 1g or 1048576');
  const n = Math.round(Number(m[1]) * sizeUnits[m[2].toLowerCase()]);
  if (!Number.isSafeInteger(n) || n <= 0) throw bad(flag, value, 'must be a positive size');
  return n;
}

/** Docker's --cpus: a decimal number of CPUs, stored as nano CPUs. */
export function parseCpus(flag: string, value: string): number {
  if (!/^\d+(\.\d+)?$/.test(value)) throw bad(flag, value, 'expected a decimal number of CPUs like 0.5 or 2');
  const n = Math.round(Number(value) * 1e9);
  if (n <= 0) throw bad(flag, value, 'must be more than 0');
  return n;
}

/** A non-negative integer flag (--pids-limit, --tail, -t). */
export function parseCount(flag: string, value: string, min = 0): number {
  if (!/^\d+$/.test(value) || Number(value) < min || !Number.isSafeInteger(Number(value))) throw bad(flag, value, `expected an integer ≥ ${min}`);
  return Number(value);
}

function portNumber(flag: string, value: string, p: string): number {
  const n = Number(p);
  if (!/^\d+$/.test(p) || n < 1 || n > 65535) throw bad(flag, value, `port ${JSON.stringify(p)} must be a number in 1-65535`);
  return n;
}

/** -p HOST:CONTAINER[/tcp|/udp]; only host-mode publishing on every address (no host IP, no ranges). */
export function parsePort(flag: string, value: string): PortMapping {
  const [ports, proto = 'tcp', extra] = value.split('/');
  if (extra !== undefined || (proto !== 'tcp' && proto !== 'udp')) throw bad(flag, value, 'protocol must be tcp or udp');
  const parts = ports.split(':');
  if (parts.length !== 2) throw bad(flag, value, 'expected HOST:CONTAINER, e.g. 8080:80 or 5353:53/udp');
  return { hostPort: portNumber(flag, value, parts[0]), containerPort: portNumber(flag, value, parts[1]), protocol: proto };
}

/** -v SRC:DST[:ro|rw]: an absolute SRC is a bind mount, a plain name a named volume. */
export function parseVolume(flag: string, value: string, cwd: string): MountSpec {
  const parts = value.split(':');
  if (parts.length < 2 || parts.length > 3) throw bad(flag, value, 'expected SRC:DST or SRC:DST:ro');
  const [src, target, mode = 'rw'] = parts;
  if (mode !== 'ro' && mode !== 'rw') throw bad(flag, value, `mode ${JSON.stringify(mode)} must be ro or rw`);
  if (!path.isAbsolute(target)) throw bad(flag, value, 'the container path must be absolute');
  const readOnly = mode === 'ro';
  if (src.startsWith('/') || src.startsWith('.')) return { type: 'bind', source: path.resolve(cwd, src), target: path.normalize(target), readOnly };
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(src)) throw bad(flag, value, `volume name ${JSON.stringify(src)} may hold only letters, digits, _ . -`);
  return { type: 'volume', name: src, target: path.normalize(target), readOnly };
}

/** -e K=V, or -e K to pass the CLI's own value of K, as docker does. */
export function parseEnv(flag: string, value: string, env: NodeJS.ProcessEnv): string | undefined {
  if (value === '' || value.startsWith('=')) throw bad(flag, value, 'expected KEY=VALUE');
  if (value.includes('=')) return value;
  return env[value] === undefined ? undefined : `${value}=${env[value]}`;
}

const durationUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** --since: an RFC 3339 time, a Unix timestamp, or a duration back from now (10m, 1h30m). */
export function parseSince(flag: string, value: string, nowMs: number): number {
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000);
  if (/^(\d+(ms|s|m|h))+$/.test(value)) {
    let ms = 0;
    for (const m of value.matchAll(/(\d+)(ms|s|m|h)/g)) ms += Number(m[1]) * durationUnits[m[2]];
    return nowMs - ms;
  }
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw bad(flag, value, 'expected a time (2026-01-02T03:04:05Z), a Unix timestamp or a duration (10m)');
  return t;
}

const goDurationNs: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** A Go duration (10s, 1m30s, 500ms, 1.5h, or 0) in nanoseconds, as docker's duration flags take. */
export function parseDurationNs(what: string, value: string): number {
  const v = value.trim();
  if (v === '0') return 0;
  if (!/^((\d+(\.\d+)?|\.\d+)(ns|us|µs|ms|s|m|h))+$/.test(v)) throw bad(what, value, 'expected a duration like 10s, 1m30s or 500ms');
  let ns = 0;
  for (const m of v.matchAll(/(\d+(?:\.\d+)?|\.\d+)(ns|us|µs|ms|s|m|h)/g)) ns += Number(m[1]) * goDurationNs[m[2]];
  return Math.round(ns);
}

/** Nanoseconds back as the shortest Go duration text (90s -> 1m30s), for inspect --pretty. */
export function formatDurationNs(ns: number): string {
  if (ns === 0) return '0s';
  if (ns < 1e6) return `${ns}ns`;
  if (ns < 1e9) return `${ns / 1e6}ms`;
  let s = ns / 1e9;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  return `${h > 0 ? `${h}h` : ''}${h > 0 || m > 0 ? `${m}m` : ''}${Number(s.toFixed(9))}s`;
}
