import * as fs from 'node:fs';
import type * as http from 'node:http';
import { InvalidArgumentError } from '../../types/errors';

/** Sends a JSON body (Docker's content type, no caching). */
export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body) + '\n';
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(res.req.method === 'HEAD' ? undefined : text);
}

/** Answers 204 No Content (Docker's reply to start/stop/delete). */
export function sendNoContent(res: http.ServerResponse, status = 204): void {
  res.writeHead(status);
  res.end();
}

/** Reads the whole body, refusing more than maxBytes. */
export async function readBody(req: http.IncomingMessage, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > maxBytes) throw new InvalidArgumentError(`request body is larger than ${maxBytes} bytes`);
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

/** The JSON body; an empty body is undefined. Invalid JSON is a 400. */
export async function readJson(req: http.IncomingMessage, maxBytes: number): Promise<unknown> {
  const buf = await readBody(req, maxBytes);
  const text = buf.toString('utf8').trim();
  if (text === '') return undefined;
  const ct = req.headers['content-type'];
  // Docker's check: a JSON body must say so (a client sending a form or a tarball by mistake is told).
  if (ct !== undefined && ct !== '' && !/^application\/(json|[\w.+-]*\+json)\s*(;|$)/i.test(ct)) throw new InvalidArgumentError(`unsupported Content-Type header (${ct}): must be 'application/json'`);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new InvalidArgumentError(`invalid JSON in request body: ${(err as Error).message}`);
  }
}

/** Writes the body to a new file (mode 0600), refusing more than maxBytes; removes the file on failure. */
export async function spoolBody(req: http.IncomingMessage, file: string, maxBytes: number): Promise<void> {
  const out = fs.createWriteStream(file, { flags: 'wx', mode: 0o600 });
  let size = 0;
  try {
    for await (const chunk of req) {
      const b = chunk as Buffer;
      size += b.length;
      if (size > maxBytes) throw new InvalidArgumentError(`request body is larger than ${maxBytes} bytes`);
      if (!out.write(b)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
    }
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  } catch (err) {
    out.destroy();
    fs.rmSync(file, { force: true });
    throw err;
  }
}

/** Docker's boolean query values: empty, 0, no, false and none are false; anything else is true. */
export function qBool(q: URLSearchParams, name: string, dflt = false): boolean {
  const v = q.get(name);
  if (v === null) return dflt;
  return !['', '0', 'no', 'false', 'none'].includes(v.trim().toLowerCase());
}

/** An integer query value, or undefined when absent or empty. */
export function qInt(q: URLSearchParams, name: string, min = Number.MIN_SAFE_INTEGER): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  if (!/^-?\d+$/.test(v) || Number(v) < min) throw new InvalidArgumentError(`invalid value for ${name}: ${JSON.stringify(v)}: expected an integer${min > Number.MIN_SAFE_INTEGER ? ` >= ${min}` : ''}`);
  return Number(v);
}

/**
 * Docker's `filters` query: JSON `{"key": ["v", ...]}` or the older `{"key": {"v": true}}`.
 * Keys outside `allowed` are refused as Docker does (`invalid filter 'x'`).
 */
export function qFilters(q: URLSearchParams, allowed: readonly string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const text = q.get('filters');
  if (text === null || text === '') return out;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new InvalidArgumentError(`invalid filters ${JSON.stringify(text)}: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new InvalidArgumentError(`invalid filters ${JSON.stringify(text)}: expected a JSON object`);
  for (const [key, v] of Object.entries(parsed as Record<string, unknown>)) {
    if (!allowed.includes(key)) throw new InvalidArgumentError(`invalid filter '${key}'`);
    let values: unknown[];
    if (Array.isArray(v)) values = v;
    else if (typeof v === 'object' && v !== null) values = Object.entries(v).filter(([, on]) => on === true).map(([k]) => k);
    else throw new InvalidArgumentError(`invalid filter '${key}': expected a list of strings, got ${JSON.stringify(v)}`);
    for (const x of values) if (typeof x !== 'string') throw new InvalidArgumentError(`invalid filter '${key}': expected strings, got ${JSON.stringify(x)}`);
    out.set(key, values as string[]);
  }
  return out;
}
