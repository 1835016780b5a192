import { toDockerEvent } from '../../events/docker';
import { parseFilters, type EventFilter } from '../../events/filter';
import { InvalidArgumentError } from '../../types/errors';
import { qFilters } from '../http/io';
import type { RequestContext, Route } from '../http/router';
import { startStream, writeChunk } from '../http/stream';

// Docker's event filter keys; those of local objects (container, image, ...) match no swarm event.
const EVENT_FILTERS = ['type', 'event', 'id', 'service', 'node', 'scope', 'container', 'image', 'label', 'network', 'volume', 'daemon', 'plugin', 'config', 'secret'];
const SWARM_TYPES = ['service', 'task', 'node', 'cluster'];
const LOCAL_KEYS = ['container', 'image', 'network', 'volume', 'daemon', 'plugin', 'config', 'secret', 'label'];

function unixMs(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  if (!/^-?\d+(\.\d+)?$/.test(v)) throw new InvalidArgumentError(`invalid value for ${name}: ${JSON.stringify(v)}: expected unix seconds`);
  return Math.floor(Number(v) * 1000);
}

/** Docker's filters as shoal's; undefined when they exclude every swarm event. */
export function swarmEventFilter(f: Map<string, string[]>): EventFilter | undefined {
  const scopes = f.get('scope') ?? [];
  for (const s of scopes) if (s !== 'local' && s !== 'swarm') throw new InvalidArgumentError(`invalid filter 'scope=${s}': expected local or swarm`);
  if (scopes.length > 0 && !scopes.includes('swarm')) return undefined;
  if (LOCAL_KEYS.some((k) => (f.get(k) ?? []).length > 0)) return undefined;
  const types = f.get('type') ?? [];
  const swarmTypes = types.filter((t) => SWARM_TYPES.includes(t));
  if (types.length > 0 && swarmTypes.length === 0) return undefined;
  const args: string[] = swarmTypes.map((t) => `type=${t}`);
  for (const key of ['event', 'id', 'service', 'node']) for (const v of f.get(key) ?? []) args.push(`${key}=${v}`);
  return parseFilters(args);
}

async function events(ctx: RequestContext): Promise<void> {
  const f = qFilters(ctx.query, EVENT_FILTERS);
  const sinceMs = unixMs(ctx.query, 'since');
  const untilMs = unixMs(ctx.query, 'until');
  if (sinceMs !== undefined && untilMs !== undefined && untilMs < sinceMs) throw new InvalidArgumentError('until must not be before since');
  const filter = swarmEventFilter(f);
  const source = filter === undefined || ctx.backend.swarmState().state !== 'active' ? undefined
    : ctx.backend.events({ filter, ...(sinceMs !== undefined ? { sinceMs } : {}), ...(untilMs !== undefined ? { untilMs } : {}) }, ctx.signal);
  startStream(ctx.res, 'application/json');
  if (source !== undefined) {
    for await (const e of source) {
      if (ctx.signal.aborted) break;
      await writeChunk(ctx.res, JSON.stringify(toDockerEvent(e)) + '\n', ctx.signal);
    }
  } else if (untilMs === undefined || untilMs > Date.now()) {
    // Nothing will ever match; keep the stream open as Docker does, until `until` or the client leaves.
    await new Promise<void>((resolve) => {
      const timer = untilMs === undefined ? undefined : setTimeout(resolve, untilMs - Date.now());
      ctx.signal.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
    });
  }
  ctx.res.end();
}

/** `/events`: the cluster's events in Docker's shape, newline-delimited JSON. */
export const eventRoutes: readonly Route[] = [
  { method: 'GET', path: /^\/events$/, handler: events },
];
