import { InvalidArgumentError, NotFoundError } from '../../types/errors';
import type { Backend as ContainerBackend, ContainerSummary } from '../container-backend';
import { AUTO_REMOVE_LABEL, containerInspectToDocker, containerRowToDocker, createRequestFromDocker } from '../convert/container';
import { qBool, qInt, readJson, sendJson, sendNoContent } from '../http/io';
import type { RequestContext, Route } from '../http/router';
import { startStream, writeChunk } from '../http/stream';
import { logFrame, parseLogQuery } from './logs-format';
import type { LocalEvent } from '../local-events';

/** The container a reference (id, name, unique id prefix) names. */
export async function summaryOf(c: ContainerBackend, ref: string): Promise<ContainerSummary> {
  const all = await c.listContainers();
  const name = ref.replace(/^\//, '');
  const hit = all.find((x) => x.id === ref || x.name === name) ?? (() => {
    const p = all.filter((x) => x.id.startsWith(ref));
    return p.length === 1 ? p[0] : undefined;
  })();
  if (hit === undefined) throw new NotFoundError(`No such container: ${ref}`);
  return hit;
}

/** A container event for /events, with Docker's attributes (name, image, and extra ones such as exitCode). */
function emit(ctx: RequestContext, action: string, s: ContainerSummary, extra: Record<string, string> = {}): void {
  ctx.localEvents.emit('container', action, s.id, { name: s.name, image: s.image, ...extra });
}

/** Reports the container's exit as Docker's `die` event, then removes it when it was created with AutoRemove. */
function watchExit(ctx: RequestContext, s: ContainerSummary, autoRemove: boolean): void {
  const c = ctx.backend.containers;
  void c.waitContainer(s.id).then(async (done) => {
    emit(ctx, 'die', s, { exitCode: String(done.exitCode ?? -1) });
    if (autoRemove) {
      await ctx.attachHolds.released([s.id, s.name]);
      await c.removeContainer(s.id, true);
      emit(ctx, 'destroy', s);
    }
  }).catch(() => undefined);
}

async function create(ctx: RequestContext): Promise<void> {
  const req = createRequestFromDocker(await readJson(ctx.req, ctx.opts.jsonBodyBytesMax), ctx.query.get('name') ?? undefined);
  const id = await ctx.backend.containers.createContainer(req);
  emit(ctx, 'create', await summaryOf(ctx.backend.containers, id));
  sendJson(ctx.res, 201, { Id: id, Warnings: [] });
}

async function start(ctx: RequestContext): Promise<void> {
  const c = ctx.backend.containers;
  const s = await summaryOf(c, ctx.params[0]);
  if (s.status === 'running') return sendNoContent(ctx.res, 304);
  await c.startContainer(s.id);
  emit(ctx, 'start', s);
  // Docker's --rm: the daemon removes the container once it has exited.
  const raw = (await c.inspectContainer(s.id)) as { config?: { labels?: Record<string, string> } };
  watchExit(ctx, s, raw.config?.labels?.[AUTO_REMOVE_LABEL] === 'true');
  sendNoContent(ctx.res);
}

async function stop(ctx: RequestContext): Promise<void> {
  const c = ctx.backend.containers;
  const s = await summaryOf(c, ctx.params[0]);
  if (s.status !== 'running') return sendNoContent(ctx.res, 304);
  const t = qInt(ctx.query, 't', -1);
  await c.stopContainer(s.id, t === undefined || t < 0 ? undefined : t * 1000);
  emit(ctx, 'stop', s);
  sendNoContent(ctx.res);
}

/** Resolves with the first local event of the container (by id or name) with one of the actions, or undefined when the client leaves. */
function nextEvent(ctx: RequestContext, ref: string, actions: readonly string[]): { event: Promise<LocalEvent | undefined>; cancel: () => void } {
  let cancel = (): void => undefined;
  const event = new Promise<LocalEvent | undefined>((resolve) => {
    const name = ref.replace(/^\//, '');
    const off = ctx.localEvents.subscribe((e) => {
      if (e.Type === 'container' && actions.includes(e.Action) && (e.Actor.ID === ref || e.Actor.ID.startsWith(ref) || e.Actor.Attributes.name === name)) done(e);
    });
    const onAbort = (): void => done(undefined);
    const done = (e: LocalEvent | undefined): void => { off(); ctx.signal.removeEventListener('abort', onAbort); resolve(e); };
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    cancel = () => done(undefined);
  });
  return { event, cancel };
}

async function wait(ctx: RequestContext): Promise<void> {
  const c = ctx.backend.containers;
  const condition = ctx.query.get('condition') || 'not-running';
  if (!['not-running', 'next-exit', 'removed'].includes(condition)) throw new InvalidArgumentError(`invalid condition ${JSON.stringify(condition)}: expected not-running, next-exit or removed`);
  // Listen before looking: docker run waits before it starts the container, which may exit (and,
  // with --rm, be removed) at once. The API's own die and destroy events carry what is needed.
  const died = nextEvent(ctx, ctx.params[0], ['die']);
  const destroyed = nextEvent(ctx, ctx.params[0], ['destroy']);
  try {
    const s = await summaryOf(c, ctx.params[0]);
    // Docker sends the headers at once and the body when the condition is met.
    startStream(ctx.res, 'application/json');
    let code = s.exitCode ?? 0;
    if (!(condition === 'not-running' && s.status !== 'running')) {
      if (s.status === 'running') {
        // Running already (perhaps started elsewhere, without a die event here): the runtime says when it exits.
        code = (await c.waitContainer(s.id)).exitCode ?? 0;
      } else if (s.status === 'created' || condition === 'next-exit') {
        const e = await died.event;
        if (e !== undefined) code = Number(e.Actor.Attributes.exitCode ?? 0);
      }
      if (condition === 'removed' && (await c.listContainers()).some((x) => x.id === s.id)) await destroyed.event;
    }
    ctx.res.end(JSON.stringify({ StatusCode: code, Error: null }) + '\n');
  } finally {
    died.cancel();
    destroyed.cancel();
  }
}

async function logs(ctx: RequestContext): Promise<void> {
  const q = parseLogQuery(ctx.query);
  const c = ctx.backend.containers;
  const s = await summaryOf(c, ctx.params[0]);
  const it = c.containerLogs(s.id, { follow: q.follow, ...(q.tail !== undefined ? { tail: q.tail } : {}), ...(q.sinceMs !== undefined ? { sinceMs: q.sinceMs } : {}) })[Symbol.asyncIterator]();
  try {
    // Without follow the first line (or the end) comes before the headers, so a failure is still a proper
    // error answer; with follow the headers go at once, as a quiet task may print nothing for long.
    if (q.follow) startStream(ctx.res, 'application/vnd.docker.raw-stream');
    let next = await it.next();
    if (!q.follow) startStream(ctx.res, 'application/vnd.docker.raw-stream');
    while (next.done !== true && !ctx.signal.aborted) {
      const f = logFrame(next.value, { ...q, details: false }, {});
      if (f !== undefined) await writeChunk(ctx.res, f, ctx.signal);
      next = await it.next();
    }
  } finally {
    await it.return?.();
  }
  ctx.res.end();
}

async function inspect(ctx: RequestContext): Promise<void> {
  const c = ctx.backend.containers;
  const s = await summaryOf(c, ctx.params[0]);
  sendJson(ctx.res, 200, containerInspectToDocker(await c.inspectContainer(s.id), s));
}

async function list(ctx: RequestContext): Promise<void> {
  const all = qBool(ctx.query, 'all');
  const rows = (await ctx.backend.containers.listContainers()).filter((c) => all || c.status === 'running');
  sendJson(ctx.res, 200, rows.map((r) => containerRowToDocker(r)));
}

async function remove(ctx: RequestContext): Promise<void> {
  const c = ctx.backend.containers;
  const s = await summaryOf(c, ctx.params[0]);
  await c.removeContainer(s.id, qBool(ctx.query, 'force'));
  emit(ctx, 'destroy', s);
  sendNoContent(ctx.res);
}

/** Docker's exec: shoal's containers run one process tree from their command, and nothing is exec'ed into them. */
function exec(ctx: RequestContext): Promise<void> {
  sendJson(ctx.res, 501, { message: 'exec is not supported by shoal: run the command in its own container (docker run)' });
  return Promise.resolve();
}

/** Single containers on this host: what `docker run`, `ps`, `logs`, `wait`, `stop` and `rm` need. */
export const containerRoutes: readonly Route[] = [
  { method: 'POST', path: /^\/containers\/create$/, handler: create },
  { method: 'GET', path: /^\/containers\/json$/, handler: list },
  { method: 'POST', path: /^\/containers\/([^/]+)\/start$/, handler: start },
  { method: 'POST', path: /^\/containers\/([^/]+)\/stop$/, handler: stop },
  { method: 'POST', path: /^\/containers\/([^/]+)\/wait$/, handler: wait },
  { method: 'GET', path: /^\/containers\/([^/]+)\/logs$/, handler: logs },
  { method: 'GET', path: /^\/containers\/([^/]+)\/json$/, handler: inspect },
  { method: 'DELETE', path: /^\/containers\/([^/]+)$/, handler: remove },
  { method: 'POST', path: /^\/containers\/([^/]+)\/exec$/, handler: exec },
];
