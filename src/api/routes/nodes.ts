import { InvalidArgumentError } from '../../types/errors';
import type { Node } from '../../types/objects';
import type { ControlOps } from '../backend';
import { engineLabelsOf, nodeSpecFromDocker, nodeToDocker } from '../convert/node';
import { qBool, qFilters, qInt, readJson, sendJson, sendNoContent } from '../http/io';
import type { RequestContext, Route } from '../http/router';
import { resolveRef } from './resolve';
import { controlOf } from './swarm';

const NODE_FILTERS = ['id', 'name', 'role', 'membership', 'node.label', 'label'];

/** A node by id, name, hostname or unique id prefix. */
export function findNode(ops: ControlOps, ref: string): Promise<Node> {
  return resolveRef(ref, 'node', (r) => ops.getNode(r), () => ops.listNodes({ roles: [], names: [] }));
}

function labelMatch(labels: Readonly<Record<string, string>>, wanted: string): boolean {
  const eq = wanted.indexOf('=');
  return eq < 0 ? Object.hasOwn(labels, wanted) : labels[wanted.slice(0, eq)] === wanted.slice(eq + 1);
}

async function list(ctx: RequestContext): Promise<void> {
  const f = qFilters(ctx.query, NODE_FILTERS);
  const roles = f.get('role') ?? [];
  for (const r of roles) if (r !== 'worker' && r !== 'manager') throw new InvalidArgumentError(`invalid filter 'role=${r}': expected worker or manager`);
  for (const m of f.get('membership') ?? []) if (m !== 'accepted' && m !== 'pending') throw new InvalidArgumentError(`invalid filter 'membership=${m}': expected accepted or pending`);
  const nodes = await controlOf(ctx.backend).listNodes({ roles, names: [] });
  const ids = f.get('id') ?? [];
  const names = f.get('name') ?? [];
  const membership = f.get('membership') ?? [];
  const nodeLabels = f.get('node.label') ?? [];
  const out = nodes.filter((n) =>
    (ids.length === 0 || ids.some((p) => n.id.startsWith(p))) &&
    (names.length === 0 || names.some((p) => n.spec.name.startsWith(p) || n.description.hostname.startsWith(p))) &&
    (membership.length === 0 || membership.includes('accepted')) &&
    nodeLabels.every((l) => labelMatch(n.spec.labels, l)) &&
    (f.get('label') ?? []).every((l) => labelMatch(engineLabelsOf(n), l)));
  sendJson(ctx.res, 200, out.map((n) => nodeToDocker(n, { version: ctx.opts.engineVersion })));
}

async function inspect(ctx: RequestContext): Promise<void> {
  const n = await findNode(controlOf(ctx.backend), ctx.params[0]);
  sendJson(ctx.res, 200, nodeToDocker(n, { version: ctx.opts.engineVersion }));
}

async function update(ctx: RequestContext): Promise<void> {
  const version = qInt(ctx.query, 'version', 0);
  if (version === undefined) throw new InvalidArgumentError(`invalid node version '${ctx.query.get('version') ?? ''}': a version is required`);
  const spec = nodeSpecFromDocker(await readJson(ctx.req, ctx.opts.jsonBodyBytesMax));
  const ops = controlOf(ctx.backend);
  const n = await findNode(ops, ctx.params[0]);
  await ops.updateNode(n.id, version, spec);
  ctx.res.writeHead(200, { 'Content-Length': 0 });
  ctx.res.end();
}

async function remove(ctx: RequestContext): Promise<void> {
  const ops = controlOf(ctx.backend);
  const n = await findNode(ops, ctx.params[0]);
  await ops.removeNode(n.id, qBool(ctx.query, 'force'));
  sendNoContent(ctx.res, 200);
}

/** `/nodes`: list with filters, inspect, update (with version), remove. */
export const nodeRoutes: readonly Route[] = [
  { method: 'GET', path: /^\/nodes$/, handler: list },
  { method: 'GET', path: /^\/nodes\/([^/]+)$/, handler: inspect },
  { method: 'POST', path: /^\/nodes\/([^/]+)\/update$/, handler: update },
  { method: 'DELETE', path: /^\/nodes\/([^/]+)$/, handler: remove },
];
