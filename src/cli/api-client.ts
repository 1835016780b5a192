import * as http from 'node:http';
import { ErrorCode, ShoalError } from '../types/errors';

/** The API version the CLI speaks; every path is prefixed with it, as Docker's clients do. */
export const API_VERSION = '1.41';

/** Where shoald serves its local API unless -H or SHOAL_HOST says otherwise (DESIGN.md §1). */
export const DEFAULT_SOCKET = '/run/shoal/shoal.sock';

/** Query parameters; undefined ones are left out. */
export type Query = Record<string, string | number | boolean | undefined>;

/** Docker's status codes back to our error codes, so the CLI treats API errors like its own. */
const codeByStatus: Record<number, ErrorCode> = {
  400: 'InvalidArgument', 401: 'Unauthenticated', 403: 'PermissionDenied', 404: 'NotFound', 406: 'FailedPrecondition',
  409: 'Conflict', 412: 'FailedPrecondition', 503: 'Unavailable',
};

/** Bounds of one request: a response within this (not for streams), and at most this many bytes of body. */
const requestTimeoutMs = 120_000;
const bodyBytesMax = 64 * 1024 * 1024;

/** Parses `-H/--host` or SHOAL_HOST: `unix:///path` or a plain absolute path; nothing else is served. */
export function socketFromHost(host: string | undefined): string {
  if (host === undefined || host === '') return DEFAULT_SOCKET;
  if (host.startsWith('unix://')) {
    const p = host.slice('unix://'.length);
    if (p.startsWith('/')) return p;
  } else if (host.startsWith('/')) {
    return host;
  }
  throw new ShoalError('InvalidArgument', `invalid --host ${JSON.stringify(host)}: expected unix:///path/to/shoal.sock`, { hint: `shoald listens on a unix socket, by default unix://${DEFAULT_SOCKET}` });
}

/** Encodes Docker's `filters` query parameter as the docker CLI does: {"key":{"value":true}}. */
export function filtersParam(filters: Record<string, readonly string[]>): string | undefined {
  const out: Record<string, Record<string, boolean>> = {};
  for (const [k, values] of Object.entries(filters)) {
    if (values.length === 0) continue;
    out[k] = Object.fromEntries(values.map((v) => [v, true]));
  }
  return Object.keys(out).length === 0 ? undefined : JSON.stringify(out);
}

function pathWithQuery(path: string, query: Query | undefined): string {
  const q = Object.entries(query ?? {}).filter(([, v]) => v !== undefined).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  return `/v${API_VERSION}${path}${q.length === 0 ? '' : `?${q.join('&')}`}`;
}

/** An HTTP client of shoald's local API (Docker Engine API v1.41) over its unix socket. */
export class ApiClient {
  constructor(readonly socketPath: string) {}

  /** GET, resolving with the parsed JSON body. */
  get<T>(path: string, query?: Query): Promise<T> {
    return this.request<T>('GET', path, query, undefined);
  }

  /** POST with an optional JSON body, resolving with the parsed JSON body (undefined when empty). */
  post<T>(path: string, body?: unknown, query?: Query): Promise<T> {
    return this.request<T>('POST', path, query, body);
  }

  /** DELETE. */
  async delete(path: string, query?: Query): Promise<void> {
    await this.request<unknown>('DELETE', path, query, undefined);
  }

  /**
   * Sends a request and reads the whole answer; a non-2xx answer rejects with its `message`.
   * `waitLong` drops the idle timeout, for answers that come when something ends (container wait).
   */
  async request<T>(method: string, path: string, query: Query | undefined, body: unknown, waitLong = false): Promise<T> {
    const res = await this.open(method, path, query, body, undefined, waitLong ? undefined : requestTimeoutMs);
    const text = (await readAll(res, this.socketPath)).toString('utf8');
    if (text.trim() === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      return text as T;
    }
  }

  /** POSTs a file (an image tarball) as the body; resolves with the answer's text. */
  async upload(path: string, body: NodeJS.ReadableStream, contentType: string, query?: Query): Promise<string> {
    const res = await this.open('POST', path, query, { stream: body, contentType }, undefined, requestTimeoutMs);
    return (await readAll(res, this.socketPath)).toString('utf8');
  }

  /** True when shoald answers on the socket (GET /_ping). */
  async ping(): Promise<boolean> {
    try {
      await this.open('GET', '/_ping', undefined, undefined, undefined, 5000).then((res) => readAll(res, this.socketPath));
      return true;
    } catch {
      return false;
    }
  }

  /** Opens a streaming request (logs, events); resolves once the headers say it succeeded. */
  async stream(path: string, query: Query | undefined, signal: AbortSignal): Promise<AsyncIterable<Buffer>> {
    const res = await this.open('GET', path, query, undefined, signal, undefined);
    return res as AsyncIterable<Buffer>;
  }

  private open(method: string, path: string, query: Query | undefined, body: unknown, signal: AbortSignal | undefined, timeoutMs: number | undefined): Promise<http.IncomingMessage> {
    const upload = isUpload(body) ? body : undefined;
    const payload = body === undefined || upload !== undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = http.request({
        socketPath: this.socketPath,
        method,
        path: pathWithQuery(path, query),
        headers: {
          Host: 'shoald', 'User-Agent': 'shoal-cli',
          ...(payload === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': payload.length }),
          ...(upload === undefined ? {} : { 'Content-Type': upload.contentType }),
        },
        signal,
      });
      if (timeoutMs !== undefined) {
        req.setTimeout(timeoutMs, () => req.destroy(new ShoalError('DeadlineExceeded', `shoald at ${this.socketPath} did not answer ${method} ${path} within ${timeoutMs / 1000} s`, { hint: 'check its log; it may be waiting for a quorum of managers' })));
      }
      req.on('error', (err) => reject(connectionError(err, this.socketPath)));
      req.on('response', (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) { resolve(res); return; }
        readAll(res, this.socketPath).then((buf) => reject(apiError(status, buf.toString('utf8'))), reject);
      });
      if (upload !== undefined) {
        upload.stream.on('error', (err: Error) => req.destroy(err));
        upload.stream.pipe(req);
      } else {
        req.end(payload);
      }
    });
  }
}

function isUpload(body: unknown): body is { stream: NodeJS.ReadableStream; contentType: string } {
  return typeof body === 'object' && body !== null && 'stream' in body && 'contentType' in body;
}

function readAll(res: http.IncomingMessage, socketPath: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    res.on('data', (c: Buffer) => {
      bytes += c.length;
      if (bytes > bodyBytesMax) { res.destroy(new ShoalError('Internal', `answer of shoald larger than ${bodyBytesMax} bytes`)); return; }
      chunks.push(c);
    });
    res.on('error', (err) => reject(connectionError(err, socketPath)));
    res.on('end', () => resolve(Buffer.concat(chunks)));
  });
}

/** An API error answer as a ShoalError carrying Docker's `message`. */
export function apiError(status: number, body: string): ShoalError {
  let message = body.trim();
  try {
    const j = JSON.parse(body) as { message?: unknown };
    if (typeof j.message === 'string') message = j.message;
  } catch { /* not JSON: the text is the message */ }
  if (message === '') message = `shoald answered with HTTP status ${status}`;
  return new ShoalError(codeByStatus[status] ?? 'Internal', message);
}

/** A failure to talk to shoald at all, said the way a user can act on. */
export function connectionError(err: unknown, socketPath: string): ShoalError {
  if (ShoalError.is(err)) return err;
  const code = (err as { code?: unknown }).code;
  if (code === 'ECONNREFUSED' || code === 'ENOENT' || code === 'ENOTSOCK') {
    return new ShoalError('Unavailable', `cannot reach shoald at ${socketPath}: is it running?`, { hint: 'start it with: shoald &' });
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return new ShoalError('PermissionDenied', `permission denied connecting to shoald at ${socketPath}`, { hint: 'run the command as root' });
  }
  if (code === 'ABORT_ERR') return new ShoalError('Unavailable', 'request cancelled', { cause: err });
  const message = err instanceof Error ? err.message : String(err);
  return new ShoalError('Unavailable', `lost the connection to shoald at ${socketPath}: ${message}`, { hint: 'check that shoald is still running' });
}
