import type * as http from 'node:http';
import type { ApiBackend } from '../backend';
import type { AttachHolds } from '../attach-holds';
import type { LocalEventLog } from '../local-events';

/** Settings of the local API server. */
export interface ApiServerOptions {
  /** shoald's version, reported by /version, /info and each node's engine. */
  readonly engineVersion?: string;
  /** Where request bodies that are files (image tarballs) are spooled (default: the OS temp dir). */
  readonly tmpDir?: string;
  /** Largest JSON body accepted (default 4 MiB). */
  readonly jsonBodyBytesMax?: number;
  /** Largest image tarball accepted (default 8 GiB). */
  readonly uploadBytesMax?: number;
  /** Open connections accepted at once (streams included); more are closed at once (default 1024). */
  readonly connectionsMax?: number;
  /** Called once per request after it has been answered (or failed), for the daemon's log. */
  readonly onRequest?: (r: { method: string; path: string; status: number; ms: number; error?: string }) => void;
}

/** What a route handler gets: the request, the parsed URL, the backend and a signal aborted when the client goes away. */
export interface RequestContext {
  readonly req: http.IncomingMessage;
  readonly res: http.ServerResponse;
  /** The regular expression's groups, URL-decoded. */
  readonly params: readonly string[];
  readonly query: URLSearchParams;
  /** The API version the client asked for (from the /v1.XX/ prefix), or the server's. */
  readonly apiVersion: string;
  readonly backend: ApiBackend;
  readonly opts: Required<Omit<ApiServerOptions, 'onRequest' | 'connectionsMax'>>;
  readonly signal: AbortSignal;
  /** Container and image events of this host, for /events. */
  readonly localEvents: LocalEventLog;
  /** Attached output streams that a --rm removal waits for. */
  readonly attachHolds: AttachHolds;
}

/** A handler answers the request itself; a thrown error becomes Docker's `{"message": ...}`. */
export type Handler = (ctx: RequestContext) => Promise<void>;

/** One route: an HTTP method and a path pattern (without the version prefix). */
export interface Route {
  readonly method: 'GET' | 'HEAD' | 'POST' | 'DELETE' | 'PUT';
  readonly path: RegExp;
  readonly handler: Handler;
}

/** The route for method and path, with its params; pathKnown says whether the path matched under another method. */
export function findRoute(routes: readonly Route[], method: string, path: string): { route?: Route; params: string[]; pathKnown: boolean } {
  let pathKnown = false;
  for (const r of routes) {
    const m = r.path.exec(path);
    if (m === null) continue;
    pathKnown = true;
    if (r.method === method || (method === 'HEAD' && r.method === 'GET')) {
      return { route: r, params: m.slice(1).map((p) => decodeURIComponent(p)), pathKnown };
    }
  }
  return { params: [], pathKnown };
}
