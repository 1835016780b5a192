import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from '../types/errors';
import type { ApiBackend } from './backend';
import { AttachHolds } from './attach-holds';
import { LocalEventLog } from './local-events';
import { httpErrorOf } from './http/errors';
import { API_VERSION, MIN_API_VERSION } from './http/version';
import { findRoute, type ApiServerOptions, type RequestContext, type Route } from './http/router';
import { systemRoutes } from './routes/system';
import { swarmRoutes } from './routes/swarm';
import { nodeRoutes } from './routes/nodes';
import { serviceRoutes } from './routes/services';
import { taskRoutes } from './routes/tasks';
import { eventRoutes } from './routes/events';
import { containerRoutes } from './routes/containers';
import { imageRoutes } from './routes/images';
import { handleUpgrade } from './routes/attach';

export type { ApiServerOptions } from './http/router';

export { API_VERSION, MIN_API_VERSION } from './http/version';

/*
 * The Docker Engine API v1.41 subset served (any /v1.24../v1.41 prefix, or none):
 *   /_ping (GET, HEAD)  /version  /info  /events (swarm + local container/image events)
 *   /swarm  /swarm/init|join|leave|update|unlockkey|unlock
 *   /nodes  /nodes/{id}  /nodes/{id}/update  DELETE /nodes/{id}
 *   /services  /services/create  /services/{id}  /services/{id}/update  /services/{id}/logs  DELETE /services/{id}
 *   /tasks  /tasks/{id}  /tasks/{id}/logs
 *   /containers/json|create  /containers/{id}/json|start|stop|wait|logs|attach (output only)  DELETE /containers/{id}
 *   /images/json|load|create (pull, import)  /images/{name}/json  DELETE /images/{name}
 * Not served: networks, volumes, secrets, configs, plugins, exec, build, stdin/TTY attach.
 */
const ROUTES: readonly Route[] = [...systemRoutes, ...swarmRoutes, ...nodeRoutes, ...serviceRoutes, ...taskRoutes, ...eventRoutes, ...containerRoutes, ...imageRoutes];

function compareVersions(a: string, b: string): number {
  const [a1, a2] = a.split('.').map(Number);
  const [b1, b2] = b.split('.').map(Number);
  return a1 - b1 || a2 - b2;
}

/** Splits `/v1.41/services` into the version asked for and the route path; refuses versions outside ours. */
function versionOf(pathname: string): { version: string; rest: string } {
  const m = /^\/v([0-9]+\.[0-9]+)(\/.*)?$/.exec(pathname);
  if (m === null) return { version: API_VERSION, rest: pathname };
  const v = m[1];
  if (compareVersions(v, API_VERSION) > 0) throw new InvalidArgumentError(`client version ${v} is too new. Maximum supported API version is ${API_VERSION}`);
  if (compareVersions(v, MIN_API_VERSION) < 0) throw new InvalidArgumentError(`client version ${v} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`);
  return { version: v, rest: m[2] ?? '/' };
}

function sendError(res: http.ServerResponse, err: unknown): { status: number; message: string } {
  const e = httpErrorOf(err);
  if (res.headersSent) {
    // A stream already under way (logs, events) can only be cut short.
    res.destroy();
    return e;
  }
  const body = JSON.stringify({ message: e.message }) + '\n';
  res.writeHead(e.status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(res.req.method === 'HEAD' ? undefined : body);
  return e;
}

/** The local API (a subset of the Docker Engine API v1.41) over backend; listen with listenUnix. */
export function createApiServer(backend: ApiBackend, options: ApiServerOptions = {}): http.Server {
  const opts: RequestContext['opts'] = {
    engineVersion: options.engineVersion ?? '0.0.0',
    tmpDir: options.tmpDir ?? os.tmpdir(),
    jsonBodyBytesMax: options.jsonBodyBytesMax ?? 4 * 2 ** 20,
    uploadBytesMax: options.uploadBytesMax ?? 8 * 2 ** 30,
  };
  const localEvents = new LocalEventLog();
  const attachHolds = new AttachHolds();
  const server = http.createServer((req, res) => {
    const started = process.hrtime.bigint();
    const ac = new AbortController();
    res.on('close', () => ac.abort());
    res.setHeader('Api-Version', API_VERSION);
    res.setHeader('Docker-Experimental', 'false');
    res.setHeader('Ostype', 'linux');
    res.setHeader('Server', `shoald/${opts.engineVersion} (linux)`);
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    const done = (status: number, error?: string): void => {
      options.onRequest?.({ method, path: url.pathname, status, ms: Number(process.hrtime.bigint() - started) / 1e6, ...(error !== undefined ? { error } : {}) });
    };
    const run = async (): Promise<void> => {
      const { version, rest } = versionOf(url.pathname);
      const found = findRoute(ROUTES, method, rest.length > 1 ? rest.replace(/\/+$/, '') : rest);
      if (found.route === undefined) {
        if (found.pathKnown) throw new InvalidArgumentError(`method ${method} is not allowed on ${rest}`);
        throw new NotFoundError(`page not found: ${method} ${rest}`);
      }
      await found.route.handler({ req, res, params: found.params, query: url.searchParams, apiVersion: version, backend, opts, signal: ac.signal, localEvents, attachHolds });
    };
    run().then(() => done(res.statusCode), (err: unknown) => {
      const e = sendError(res, err);
      done(e.status, e.message);
    });
  });
  // Docker's hijacked endpoints upgrade the connection: attach (output only) is served, others refused.
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket) => {
    const started = process.hrtime.bigint();
    handleUpgrade(backend, req, socket, attachHolds).then(
      (status) => options.onRequest?.({ method: req.method ?? 'POST', path: req.url ?? '/', status, ms: Number(process.hrtime.bigint() - started) / 1e6 }),
      (err: unknown) => {
        socket.destroy();
        options.onRequest?.({ method: req.method ?? 'POST', path: req.url ?? '/', status: 500, ms: Number(process.hrtime.bigint() - started) / 1e6, error: String(err) });
      });
  });
  // Streams (logs --follow, events) stay open for as long as the client wants.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  server.maxConnections = options.connectionsMax ?? 1024;
  return server;
}

/** True when something accepts connections on the unix socket at p. */
function answers(p: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(p);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

/**
 * Listens on a unix socket: creates its directory (0755), removes a stale socket that nobody
 * answers on, refuses when another server answers there, and makes the socket 0660 (root and
 * its group, as Docker's socket).
 */
export async function listenUnix(server: http.Server, socketPath: string): Promise<void> {
  if (!path.isAbsolute(socketPath)) throw new InvalidArgumentError(`socket path must be absolute, got ${JSON.stringify(socketPath)}`);
  fs.mkdirSync(path.dirname(socketPath), { recursive: true, mode: 0o755 });
  const st = fs.lstatSync(socketPath, { throwIfNoEntry: false });
  if (st !== undefined) {
    if (!st.isSocket()) throw new FailedPreconditionError(`${socketPath} exists and is not a socket`, { hint: 'remove it or choose another --host' });
    if (await answers(socketPath)) throw new FailedPreconditionError(`another server is listening on ${socketPath}`, { hint: 'is shoald already running? stop it first' });
    fs.unlinkSync(socketPath);
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  fs.chmodSync(socketPath, 0o660);
}
