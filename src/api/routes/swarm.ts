import { FailedPreconditionError, InvalidArgumentError } from '../../types/errors';
import type { ApiBackend, ControlOps } from '../backend';
import { obj, optBool, optStr, optStrList } from '../convert/check';
import { clusterSpecFromDocker, swarmToDocker } from '../convert/swarm';
import { NOT_IN_SWARM } from '../http/errors';
import { qBool, qInt, readJson, sendJson } from '../http/io';
import type { RequestContext, Route } from '../http/router';

/** The control operations; Docker's 503 messages when this node is not in a swarm or not a manager. */
export function controlOf(backend: ApiBackend): ControlOps {
  if (backend.swarmState().state === 'inactive') throw new FailedPreconditionError(NOT_IN_SWARM);
  return backend.control();
}

/**
 * The docker CLI always sends ListenAddr, 0.0.0.0:2377 when the user gave none; shoald has its own
 * --listen-addr, so that default (or nothing) means "shoald's setting" (an empty address to the backend).
 */
function listenAddrOf(v: unknown): string {
  const a = optStr(v, 'ListenAddr') ?? '';
  return a === '0.0.0.0:2377' ? '' : a;
}

async function inspect(ctx: RequestContext): Promise<void> {
  sendJson(ctx.res, 200, swarmToDocker(await controlOf(ctx.backend).getCluster()));
}

async function init(ctx: RequestContext): Promise<void> {
  const b = obj(await readJson(ctx.req, ctx.opts.jsonBodyBytesMax), 'body');
  const listenAddr = listenAddrOf(b.ListenAddr);
  const advertiseAddr = optStr(b.AdvertiseAddr, 'AdvertiseAddr') ?? '';
  const forceNewCluster = optBool(b.ForceNewCluster, 'ForceNewCluster') ?? false;
  optStr(b.Availability, 'Availability');
  const spec = clusterSpecFromDocker(b.Spec);
  const nodeId = await ctx.backend.swarmInit({ listenAddr, advertiseAddr, forceNewCluster, spec });
  sendJson(ctx.res, 200, nodeId);
}

async function join(ctx: RequestContext): Promise<void> {
  const b = obj(await readJson(ctx.req, ctx.opts.jsonBodyBytesMax), 'body');
  const remoteAddrs = optStrList(b.RemoteAddrs, 'RemoteAddrs') ?? [];
  if (remoteAddrs.length === 0) throw new InvalidArgumentError('RemoteAddrs: at least 1 RemoteAddr is required to join');
  const joinToken = optStr(b.JoinToken, 'JoinToken') ?? '';
  if (joinToken === '') throw new InvalidArgumentError('JoinToken: a join token is required');
  await ctx.backend.swarmJoin({
    remoteAddrs, joinToken,
    listenAddr: listenAddrOf(b.ListenAddr),
    advertiseAddr: optStr(b.AdvertiseAddr, 'AdvertiseAddr') ?? '',
  });
  ctx.res.writeHead(200, { 'Content-Length': 0 });
  ctx.res.end();
}

async function leave(ctx: RequestContext): Promise<void> {
  if (ctx.backend.swarmState().state === 'inactive') throw new FailedPreconditionError(NOT_IN_SWARM);
  await ctx.backend.swarmLeave(qBool(ctx.query, 'force'));
  ctx.res.writeHead(200, { 'Content-Length': 0 });
  ctx.res.end();
}

async function update(ctx: RequestContext): Promise<void> {
  const version = qInt(ctx.query, 'version', 0);
  if (version === undefined) throw new InvalidArgumentError(`invalid swarm version '${ctx.query.get('version') ?? ''}': a version is required`);
  if (qBool(ctx.query, 'rotateManagerUnlockKey')) throw new InvalidArgumentError('rotateManagerUnlockKey: autolock is not supported by shoal');
  const body = await readJson(ctx.req, ctx.opts.jsonBodyBytesMax);
  const ops = controlOf(ctx.backend);
  const current = await ops.getCluster();
  const spec = body === undefined ? null : clusterSpecFromDocker(body, current.spec);
  await ops.updateCluster(version, spec, { worker: qBool(ctx.query, 'rotateWorkerToken'), manager: qBool(ctx.query, 'rotateManagerToken') });
  ctx.res.writeHead(200, { 'Content-Length': 0 });
  ctx.res.end();
}

async function unlockKey(ctx: RequestContext): Promise<void> {
  await controlOf(ctx.backend).getCluster();
  sendJson(ctx.res, 200, { UnlockKey: '' });
}

function unlock(): Promise<void> {
  return Promise.reject(new FailedPreconditionError('swarm is not locked', { hint: 'shoal does not support autolock' }));
}

/** `/swarm`: inspect, init, join, leave, update, unlock key. */
export const swarmRoutes: readonly Route[] = [
  { method: 'GET', path: /^\/swarm$/, handler: inspect },
  { method: 'POST', path: /^\/swarm\/init$/, handler: init },
  { method: 'POST', path: /^\/swarm\/join$/, handler: join },
  { method: 'POST', path: /^\/swarm\/leave$/, handler: leave },
  { method: 'POST', path: /^\/swarm\/update$/, handler: update },
  { method: 'GET', path: /^\/swarm\/unlockkey$/, handler: unlockKey },
  { method: 'POST', path: /^\/swarm\/unlock$/, handler: unlock },
];
