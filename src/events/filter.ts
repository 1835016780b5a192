import { InvalidArgumentError } from '../types/errors';
import type { EventType, ShoalEvent } from './event';

/** Parsed `--filter key=value` arguments: an event passes when, for every key given, it matches one of its values. */
export interface EventFilter {
  readonly type?: ReadonlySet<string>;
  readonly event?: ReadonlySet<string>;
  readonly id?: ReadonlySet<string>;
  readonly service?: ReadonlySet<string>;
  readonly node?: ReadonlySet<string>;
}

const TYPES: readonly EventType[] = ['service', 'task', 'node', 'cluster'];
const KEYS = ['type', 'event', 'id', 'service', 'node'] as const;

/** Parses docker-style filters (`type=service`, `event=create`, `id=...`, `service=...`, `node=...`). */
export function parseFilters(args: readonly string[]): EventFilter {
  const out: Partial<Record<(typeof KEYS)[number], Set<string>>> = {};
  for (const arg of args) {
    const eq = arg.indexOf('=');
    if (eq <= 0 || eq === arg.length - 1) throw new InvalidArgumentError(`bad event filter ${JSON.stringify(arg)}: expected key=value`, { hint: `keys: ${KEYS.join(', ')}` });
    const key = arg.slice(0, eq);
    const value = arg.slice(eq + 1);
    if (!(KEYS as readonly string[]).includes(key)) throw new InvalidArgumentError(`unknown event filter key ${JSON.stringify(key)}`, { hint: `keys: ${KEYS.join(', ')}` });
    if (key === 'type' && !(TYPES as readonly string[]).includes(value)) throw new InvalidArgumentError(`unknown event type ${JSON.stringify(value)} in filter`, { hint: `types: ${TYPES.join(', ')}` });
    (out[key as (typeof KEYS)[number]] ??= new Set()).add(value);
  }
  return out;
}

/** True when the event passes the filter. */
export function matches(e: ShoalEvent, f: EventFilter): boolean {
  if (f.type !== undefined && !f.type.has(e.type)) return false;
  if (f.event !== undefined && !f.event.has(e.action)) return false;
  if (f.id !== undefined && !f.id.has(e.objectId)) return false;
  if (f.service !== undefined && !(e.type === 'service' ? f.service.has(e.objectId) || f.service.has(e.attributes.name) : f.service.has(e.attributes.service ?? ''))) return false;
  if (f.node !== undefined && !(e.type === 'node' ? f.node.has(e.objectId) || f.node.has(e.attributes.name) : f.node.has(e.attributes.node ?? ''))) return false;
  return true;
}
