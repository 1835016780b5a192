import { InvalidArgumentError } from '../../types/errors';

// Type checks of Docker JSON at the edge: a wrong type is refused with the field's Docker path
// (`Spec.Mode.Replicated.Replicas: expected integer, got "x"`) before anything reaches shoal.
// Go's encoder writes null for empty maps and lists, so null counts as absent throughout.

/** A JSON object as decoded. */
export type JsonObject = Record<string, unknown>;

function fail(path: string, what: string, v: unknown): never {
  throw new InvalidArgumentError(`${path}: expected ${what}, got ${JSON.stringify(v)}`);
}

/** The object at path, or undefined when absent or null. */
export function optObj(v: unknown, path: string): JsonObject | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) fail(path, 'object', v);
  return v as JsonObject;
}

/** The object at path; absent is an empty object. */
export function obj(v: unknown, path: string): JsonObject {
  return optObj(v, path) ?? {};
}

/** The string at path, or undefined when absent or null. */
export function optStr(v: unknown, path: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') fail(path, 'string', v);
  return v;
}

/** The boolean at path, or undefined when absent or null. */
export function optBool(v: unknown, path: string): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') fail(path, 'boolean', v);
  return v;
}

/** An integer at path (Go's int and uint64 fields). */
export function optInt(v: unknown, path: string, min = Number.MIN_SAFE_INTEGER): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) fail(path, 'integer', v);
  if (v < min) fail(path, `integer >= ${min}`, v);
  return v;
}

/** The finite number at path, or undefined when absent or null. */
export function optNum(v: unknown, path: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(path, 'number', v);
  return v;
}

/** A duration in nanoseconds (Docker JSON), as whole milliseconds (shoal). */
export function optDurationMs(v: unknown, path: string): number | undefined {
  const ns = optInt(v, path, 0);
  return ns === undefined ? undefined : Math.round(ns / 1e6);
}

/** The list of strings at path, or undefined when absent or null. */
export function optStrList(v: unknown, path: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) fail(path, 'list of strings', v);
  return v.map((x, i) => { if (typeof x !== 'string') fail(`${path}[${i}]`, 'string', x); return x; });
}

/** The list at path (items unchecked), or undefined when absent or null. */
export function optList(v: unknown, path: string): unknown[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) fail(path, 'list', v);
  return v as unknown[];
}

/** A map of strings (labels). */
export function optStrMap(v: unknown, path: string): Record<string, string> | undefined {
  const o = optObj(v, path);
  if (o === undefined) return undefined;
  for (const [k, x] of Object.entries(o)) if (typeof x !== 'string') fail(`${path}.${k}`, 'string', x);
  return o as Record<string, string>;
}

/** One of the allowed strings. */
export function optEnum<T extends string>(v: unknown, path: string, allowed: readonly T[]): T | undefined {
  const s = optStr(v, path);
  if (s === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(s)) fail(path, `one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`, s);
  return s as T;
}
