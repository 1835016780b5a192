import { FlagError } from './flags';
import { table } from './human';

// Output formats of list and inspect commands, as docker's --format: a table by default, `json`
// (one JSON object a line), or a Go-template-like string such as '{{.Name}}\t{{.Image}}' or
// 'table {{.ID}}\t{{.Name}}'. Only field paths, `json`, `upper`, `lower` and `index` are understood.

/** One column of a table: the row field it shows and docker's header for it. */
export interface Column { key: string; header: string }

const actionRe = /\{\{-?\s*(.*?)\s*-?\}\}/g;

function escapes(s: string): string {
  return s.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
}

function lookup(obj: unknown, path: string, template: string): unknown {
  if (path === '.') return obj;
  if (!/^(\.[A-Za-z_][A-Za-z0-9_]*)+$/.test(path)) throw new FlagError(`template ${JSON.stringify(template)}: cannot evaluate ${JSON.stringify(path)}`, { hint: 'fields are written like {{.Name}} or {{.Spec.Name}}' });
  let v: unknown = obj;
  for (const part of path.slice(1).split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

/** Prints a value as Go's text/template does for the common cases: maps and slices as Go prints them. */
function show(v: unknown): string {
  if (v === undefined || v === null) return '<no value>';
  if (Array.isArray(v)) return `[${v.map(show).join(' ')}]`;
  if (typeof v === 'object') return `map[${Object.entries(v).sort(([a], [b]) => a.localeCompare(b)).map(([k, x]) => `${k}:${show(x)}`).join(' ')}]`;
  return typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint' ? String(v) : typeof v;
}

function evaluate(action: string, obj: unknown, template: string): string {
  const words = action.match(/"[^"]*"|\S+/g) ?? [];
  const arg = (w: string): unknown => (w.startsWith('"') ? w.slice(1, -1) : lookup(obj, w, template));
  const [fn, ...rest] = words;
  if (fn === 'json' && rest.length === 1) return JSON.stringify(arg(rest[0]) ?? null);
  if ((fn === 'upper' || fn === 'lower') && rest.length === 1) {
    const s = show(arg(rest[0]));
    return fn === 'upper' ? s.toUpperCase() : s.toLowerCase();
  }
  if (fn === 'index' && rest.length === 2) {
    const m = arg(rest[0]);
    const k = arg(rest[1]);
    const v = m !== null && typeof m === 'object' ? (m as Record<string, unknown>)[String(k)] : undefined;
    return v === undefined ? '' : show(v);
  }
  if (words.length === 1 && fn !== undefined && fn.startsWith('.')) return show(lookup(obj, fn, template));
  throw new FlagError(`template ${JSON.stringify(template)}: unsupported action {{${action}}}`, { hint: 'supported: {{.Field}}, {{.A.B}}, {{json .X}}, {{upper .X}}, {{lower .X}}, {{index .Map "key"}}' });
}

/** Renders a Go-template-like string against one object. */
export function renderTemplate(template: string, obj: unknown): string {
  return escapes(template).replace(actionRe, (_m, action: string) => evaluate(action, obj, template));
}

/** Checks a template once before any request is sent, so a typo fails fast. */
export function checkTemplate(template: string): void {
  renderTemplate(template, {});
}

/**
 * Prints list rows: a table (default), `json` lines, or a template per row ('table ...' adds the
 * headers). `quiet` prints only the quietKey field.
 */
export function formatRows(rows: Record<string, unknown>[], columns: Column[], opts: { format?: string; quiet?: boolean; quietKey?: string }): string {
  if (opts.quiet === true) return rows.map((r) => `${String(r[opts.quietKey ?? 'ID'])}\n`).join('');
  const format = opts.format ?? '';
  if (format === '' || format === 'table') return table(columns.map((c) => c.header), rows.map((r) => columns.map((c) => show(r[c.key] ?? ''))));
  if (format === 'json') return rows.map((r) => `${JSON.stringify(r)}\n`).join('');
  if (format.startsWith('table ')) {
    const tpl = format.slice('table '.length);
    const headerOf = (key: string): string => columns.find((c) => c.key === key)?.header ?? key.toUpperCase();
    const header = renderTemplate(tpl.replace(actionRe, (_m, a: string) => (/^\.[A-Za-z0-9_]+$/.test(a) ? headerOf(a.slice(1)) : a.toUpperCase())), {});
    const cells = rows.map((r) => renderTemplate(tpl, r).split('\t'));
    return table(header.split('\t'), cells.map((c) => header.split('\t').map((_h, i) => c[i] ?? '')));
  }
  return rows.map((r) => `${renderTemplate(format, r)}\n`).join('');
}

/** Prints inspected objects: docker's indented JSON array, one template line per object, or json lines. */
export function formatInspect(objects: unknown[], format: string | undefined): string {
  if (format === undefined || format === '') return `${JSON.stringify(objects, null, 4)}\n`;
  if (format === 'json') return objects.map((o) => `${JSON.stringify(o)}\n`).join('');
  return objects.map((o) => `${renderTemplate(format, o)}\n`).join('');
}
