import { InvalidArgumentError, NotFoundError, PermissionDeniedError, ShoalError, UnauthenticatedError, UnavailableError } from '../../types/errors';
import { defaultRegistry } from './reference';

/** A login for a registry (Basic auth, or the credentials traded for a bearer token). */
export interface RegistryCredentials {
  username: string;
  password: string;
}

/** How to reach registries. */
export interface RegistryOptions {
  credentials?: RegistryCredentials;
  /** Registries spoken to over plain HTTP; loopback ones always are, as Docker does. */
  insecureRegistries?: string[];
  /** Limit on one request, body included. */
  requestTimeoutMs?: number;
}

/** The base URL of a registry host; Docker Hub's API lives on its own host. */
export function registryBaseUrl(registry: string, insecure: readonly string[] = []): string {
  if (registry === defaultRegistry) return 'https://registry-1.docker.io';
  const host = registry.replace(/:\d+$/, '');
  const loopback = host === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(host) || host === '[::1]';
  return `${loopback || insecure.includes(registry) ? 'http' : 'https'}://${registry}`;
}

/** One parameter list of a WWW-Authenticate challenge. */
export function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const sp = header.indexOf(' ');
  const scheme = (sp < 0 ? header : header.slice(0, sp)).toLowerCase();
  const params: Record<string, string> = {};
  for (const m of header.slice(sp + 1).matchAll(/(\w+)="([^"]*)"/g)) params[m[1].toLowerCase()] = m[2];
  return { scheme, params };
}

/** Node's web streams hand out Uint8Arrays; the store wants Buffers. */
async function* buffers(body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): AsyncGenerator<Buffer> {
  for await (const c of body) yield Buffer.from(c.buffer, c.byteOffset, c.byteLength);
}

/**
 * Talks the OCI distribution API to one repository, answering the registry's auth
 * challenge once: Basic with the credentials, or Bearer with a token fetched from the realm
 * the registry names (with the credentials, if any, as Basic auth to the token server).
 */
export class RegistryClient {
  private authorization: string | undefined;
  private readonly timeoutMs: number;

  constructor(private readonly base: string, private readonly repository: string, private readonly opts: RegistryOptions = {}) {
    this.timeoutMs = opts.requestTimeoutMs ?? 10 * 60_000;
  }

  /** GETs a path under /v2/<repository>/, authenticating on a 401; non-2xx answers become typed errors. */
  async get(sub: string, accept?: string): Promise<Response> {
    const url = `${this.base}/v2/${this.repository}/${sub}`;
    let res = await this.fetch(url, accept);
    if (res.status === 401) {
      const challenge = res.headers.get('www-authenticate');
      await res.body?.cancel();
      if (challenge === null) throw new UnauthenticatedError(`registry ${this.base} refused ${url} without saying how to authenticate`);
      this.authorization = await this.authenticate(challenge);
      res = await this.fetch(url, accept);
    }
    if (!res.ok) {
      const text = (await res.text().catch(() => '')).slice(0, 300);
      const msg = `registry ${this.base}: GET ${url} answered ${res.status} ${text}`;
      await res.body?.cancel().catch(() => undefined);
      if (res.status === 401) throw new UnauthenticatedError(msg, { hint: 'check the registry login' });
      if (res.status === 403) throw new PermissionDeniedError(msg);
      if (res.status === 404) throw new NotFoundError(msg);
      throw new UnavailableError(msg);
    }
    return res;
  }

  /** The body of a response as a stream of Buffers. */
  static stream(res: Response): AsyncIterable<Buffer> {
    if (res.body === null) return buffers([]);
    return buffers(res.body);
  }

  private async fetch(url: string, accept?: string, authorization = this.authorization): Promise<Response> {
    const headers: Record<string, string> = {};
    if (accept !== undefined) headers.accept = accept;
    if (authorization !== undefined) headers.authorization = authorization;
    try {
      return await fetch(url, { headers, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      throw new UnavailableError(`registry ${this.base} could not be reached for ${url}: ${(err as Error).message}`, { cause: err });
    }
  }

  private basic(): string | undefined {
    const c = this.opts.credentials;
    return c === undefined ? undefined : `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
  }

  private async authenticate(header: string): Promise<string> {
    const { scheme, params } = parseChallenge(header);
    if (scheme === 'basic') {
      const b = this.basic();
      if (b === undefined) throw new UnauthenticatedError(`registry ${this.base} needs a login (Basic auth)`, { hint: 'give a username and password for it' });
      return b;
    }
    if (scheme !== 'bearer' || params.realm === undefined) throw new UnauthenticatedError(`registry ${this.base} asks for unsupported auth: ${header}`);
    let realm: URL;
    try {
      realm = new URL(params.realm);
    } catch {
      throw new InvalidArgumentError(`registry ${this.base} names a token realm that is not a URL: ${params.realm}`);
    }
    if (realm.protocol !== 'https:' && realm.protocol !== 'http:') throw new InvalidArgumentError(`token realm ${params.realm} is not http(s)`);
    if (params.service !== undefined) realm.searchParams.set('service', params.service);
    realm.searchParams.set('scope', params.scope ?? `repository:${this.repository}:pull`);
    const res = await this.fetch(realm.toString(), 'application/json', this.basic());
    if (!res.ok) {
      await res.body?.cancel();
      const msg = `token server ${realm.origin} refused a ${this.repository} pull token (${res.status})`;
      throw res.status === 401 || res.status === 403 ? new UnauthenticatedError(msg, { hint: 'check the registry login' }) : new UnavailableError(msg);
    }
    const body = (await res.json().catch(() => ({}))) as { token?: unknown; access_token?: unknown };
    const token = typeof body.token === 'string' ? body.token : body.access_token;
    if (typeof token !== 'string' || token === '') throw new ShoalError('Unauthenticated', `token server ${realm.origin} answered without a token`);
    return `Bearer ${token}`;
  }
}
