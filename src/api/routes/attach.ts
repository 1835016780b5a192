import type * as http from 'node:http';
import type * as net from 'node:net';
import type { ApiBackend } from '../backend';
import { httpErrorOf } from '../http/errors';
import { qBool } from '../http/io';
import { API_VERSION } from '../http/version';
import type { AttachHolds } from '../attach-holds';
import { ShoalError } from '../../types/errors';
import { logFrame } from './logs-format';
import { summaryOf } from './containers';

/** How long an attach waits for its container to be started (docker run attaches before it starts). */
const ATTACH_START_WAIT_MS_MAX = 10 * 60_000;
const ATTACH_POLL_MS = 50;

function refuse(socket: net.Socket, status: number, message: string): void {
  const body = JSON.stringify({ message }) + '\n';
  socket.end(`HTTP/1.1 ${status} ${status === 404 ? 'Not Found' : status === 400 ? 'Bad Request' : 'Not Implemented'}\r\nContent-Type: application/json\r\nApi-Version: ${API_VERSION}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

/**
 * Docker's hijacked attach (`POST /containers/{id}/attach?stream=1&stdout=1&stderr=1`), output only:
 * switches protocols, waits for the container to start, then sends its output in the multiplexed
 * format until it exits. No stdin and no TTY (create refuses those). Other upgrades (exec) get 501.
 */
export function handleUpgrade(backend: ApiBackend, req: http.IncomingMessage, socket: net.Socket, holds: AttachHolds): Promise<number> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const m = /^(?:\/v[0-9]+\.[0-9]+)?\/containers\/([^/]+)\/attach$/.exec(url.pathname);
  if (m === null || req.method !== 'POST') {
    refuse(socket, 501, `${url.pathname} is not supported by shoal (no exec or interactive sessions)`);
    return Promise.resolve(501);
  }
  if (qBool(url.searchParams, 'stdin')) {
    refuse(socket, 501, 'attaching stdin is not supported by shoal: run the container without -i');
    return Promise.resolve(501);
  }
  const ref = decodeURIComponent(m[1]);
  const done = attach(backend, ref, url.searchParams, socket);
  // Registered at once: docker run attaches before it starts the container, and --rm must wait for this.
  holds.hold(ref.replace(/^\//, ''), done);
  return done;
}

async function attach(backend: ApiBackend, ref: string, q: URLSearchParams, socket: net.Socket): Promise<number> {
  const c = backend.containers;
  let closed = false;
  socket.on('close', () => { closed = true; });
  socket.on('error', () => { closed = true; });
  let s;
  try {
    s = await summaryOf(c, ref);
  } catch (err) {
    const e = httpErrorOf(err);
    refuse(socket, e.status, e.message);
    return e.status;
  }
  socket.write(`HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nApi-Version: ${API_VERSION}\r\n\r\n`);
  const stream = qBool(q, 'stream');
  const wants = { stdout: qBool(q, 'stdout'), stderr: qBool(q, 'stderr'), follow: true, timestamps: false, details: false };
  try {
    // docker run attaches first and starts after: wait (bounded) until the container has run.
    const end = Date.now() + ATTACH_START_WAIT_MS_MAX;
    while (stream && !closed && s.status === 'created' && Date.now() < end) {
      await new Promise((r) => setTimeout(r, ATTACH_POLL_MS));
      s = await summaryOf(c, s.id);
    }
    if (!closed && s.status !== 'created') {
      const it = c.containerLogs(s.id, { follow: stream })[Symbol.asyncIterator]();
      try {
        for (let next = await it.next(); next.done !== true && !closed; next = await it.next()) {
          const f = logFrame(next.value, wants, {});
          if (f !== undefined && !socket.write(f)) await new Promise((r) => socket.once('drain', r));
        }
      } finally {
        await it.return?.();
      }
    }
  } catch (err) {
    // The container went away meanwhile (removed by force): the stream just ends.
    if (!ShoalError.is(err, 'NotFound')) throw err;
  } finally {
    socket.end();
  }
  return 101;
}
