import { toDockerEvent } from '../../events/docker';
import { parseFilters, type EventFilter } from '../../events/filter';
import { InvalidArgumentError } from '../../types/errors';
import { matchesLocal, type LocalEventFilter } from '../local-events';
import { qFilters } from '../http/io';
import type { RequestContext, Route } from '../http/router';
import { startStream, writeChunk } from '../http/stream';

// Docker's event filter keys. Swarm events (services, tasks, nodes, the cluster) come from the
// backend's bus; local ones (containers and images handled through this API) from the server's log.
const EVENT_FILTERS = ['type', 'event', 'id', 'service', 'node', 'scope', 'container', 'image', 'label', 'network', 'volume', 'daemon', 'plugin', 'config', 'secret'];
const SWARM_TYPES = ['service', 'task', 'node', 'cluster'];
const LOCAL_TYPES = ['container', 'image'];
const NOT_SWARM_KEYS = ['container', 'image', 'network', 'volume', 'daemon', 'plugin', 'config', 'secret', 'label'];
const NOT_LOCAL_KEYS = ['id', 'service', 'node', 'network', 'volume', 'daemon', 'plugin', 'config', 'secret', 'label'];

function unixMs(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  if (!/^-?\d+(\.\d+)?$/.test(v)) throw new InvalidArgumentError(`invalid value for ${name}: ${JSON.stringify(v)}: expected unix seconds`);
  return Math.floor(Number(v) * 1000);
}

function scopes(f: Map<string, string[]>): string[] {
  const s = f.get('scope') ?? [];
  for (const x of s) if (x !== 'local' && x !== 'swarm') throw new InvalidArgumentError(`invalid filter 'scope=${x}': expected local or swarm`);
  return s;
}

/** Docker's filters as shoal's; undefined when they exclude every swarm event. */
export function swarmEventFilter(f: Map<string, string[]>): EventFilter | undefined {
  const s = scopes(f);
  if (s.length > 0 && !s.includes('swarm')) return undefined;
  if (NOT_SWARM_KEYS.some((k) => (f.get(k) ?? []).length > 0)) return undefined;
  const types = f.get('type') ?? [];
  const swarmTypes = types.filter((t) => SWARM_TYPES.includes(t));
  if (types.length > 0 && swarmTypes.length === 0) return undefined;
  const args: string[] = swarmTypes.map((t) => `type=${t}`);
  for (const key of ['event', 'id', 'service', 'node']) for (const v of f.get(key) ?? []) args.push(`${key}=${v}`);
  return parseFilters(args);
}

/** The filter of local events; undefined when Docker's filters exclude every one. */
export function localEventFilter(f: Map<string, string[]>): LocalEventFilter | undefined {
  const s = scopes(f);
  if (s.length > 0 && !s.includes('local')) return undefined;
  if (NOT_LOCAL_KEYS.some((k) => (f.get(k) ?? []).length > 0)) return undefined;
  const types = f.get('type') ?? [];
  const localTypes = types.filter((t) => LOCAL_TYPES.includes(t));
  if (types.length > 0 && localTypes.length === 0) return undefined;
  return { type: localTypes, event: f.get('event') ?? [], container: f.get('container') ?? [], image: f.get('image') ?? [] };
}

/** Resolves at untilMs (never when undefined) or when the client goes away. */
function endOfStream(untilMs: number | undefined, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const timer = untilMs === undefined ? undefined : setTimeout(resolve, Math.max(0, untilMs - Date.now()));
    signal.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}

async function events(ctx: RequestContext): Promise<void> {
  const f = qFilters(ctx.query, EVENT_FILTERS);
  const sinceMs = unixMs(ctx.query, 'since');
  const untilMs = unixMs(ctx.query, 'until');
  if (sinceMs !== undefined && untilMs !== undefined && untilMs < sinceMs) throw new InvalidArgumentError('until must not be before since');
  const swarm = swarmEventFilter(f);
  const local = localEventFilter(f);
  const source = swarm === undefined || ctx.backend.swarmState().state !== 'active' ? undefined
    : ctx.backend.events({ filter: swarm, ...(sinceMs !== undefined ? { sinceMs } : {}), ...(untilMs !== undefined ? { untilMs } : {}) }, ctx.signal);
  startStream(ctx.res, 'application/json');
  let unsubscribe = (): void => undefined;
  if (local !== undefined) {
    // As Docker: past events only when `since` asks for them, then the live ones.
    if (sinceMs !== undefined) for (const e of ctx.localEvents.history(sinceMs, untilMs)) if (matchesLocal(e, local)) ctx.res.write(JSON.stringify(e) + '\n');
    if (untilMs === undefined || untilMs > Date.now()) {
      unsubscribe = ctx.localEvents.subscribe((e) => {
        if (matchesLocal(e, local) && (untilMs === undefined || e.timeNano / 1e6 <= untilMs)) ctx.res.write(JSON.stringify(e) + '\n');
      });
    }
  }
  try {
    if (source !== undefined) {
      for await (const e of source) {
        if (ctx.signal.aborted) break;
        await writeChunk(ctx.res, JSON.stringify(toDockerEvent(e)) + '\n', ctx.signal);
      }
      if (untilMs !== undefined) await endOfStream(untilMs, ctx.signal);
    } else if (untilMs === undefined || untilMs > Date.now()) {
      // Keep the stream open as Docker does, until `until` or the client leaves.
      await endOfStream(untilMs, ctx.signal);
    }
  } finally {
    unsubscribe();
  }
  ctx.res.end();
}

/** `/events`: the cluster's events and this host's container and image events in Docker's shape, newline-delimited JSON. */
export const eventRoutes: readonly Route[] = [
  { method: 'GET', path: /^\/events$/, handler: events },
];
