import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InvalidArgumentError } from '../../types/errors';
import { imageInspectToDocker, imageRowToDocker } from '../convert/container';
import { sendJson, spoolBody } from '../http/io';
import type { RequestContext, Route } from '../http/router';
import { startStream } from '../http/stream';

/** A request body spooled to a private temp file for the duration of fn. */
async function withUpload<T>(ctx: RequestContext, fn: (file: string) => Promise<T>): Promise<T> {
  const file = path.join(ctx.opts.tmpDir, `shoal-load-${crypto.randomUUID()}.tar`);
  await spoolBody(ctx.req, file, ctx.opts.uploadBytesMax);
  try {
    return await fn(file);
  } finally {
    fs.rmSync(file, { force: true });
  }
}

/** Docker's progress stream of JSON messages (load, pull, import), sent once the work is done. */
function sendMessages(ctx: RequestContext, messages: readonly object[]): void {
  startStream(ctx.res, 'application/json');
  for (const m of messages) ctx.res.write(JSON.stringify(m) + '\n');
  ctx.res.end();
}

async function list(ctx: RequestContext): Promise<void> {
  sendJson(ctx.res, 200, (await ctx.backend.containers.listImages()).map(imageRowToDocker));
}

async function load(ctx: RequestContext): Promise<void> {
  const loaded = await withUpload(ctx, (file) => ctx.backend.containers.loadImages(file));
  const messages: object[] = [];
  for (const img of loaded) {
    for (const r of img.references.length > 0 ? img.references : [img.id]) ctx.localEvents.emit('image', 'load', img.id, { name: r });
    for (const r of img.references) messages.push({ stream: `Loaded image: ${r}\n` });
    if (img.references.length === 0) messages.push({ stream: `Loaded image ID: ${img.id}\n` });
  }
  sendMessages(ctx, messages);
}

/** `docker pull` (fromImage, tag) and `docker import` (fromSrc=- with the tarball as body, repo, tag). */
async function create(ctx: RequestContext): Promise<void> {
  const q = ctx.query;
  const tag = q.get('tag') ?? '';
  const fromImage = q.get('fromImage') ?? '';
  const fromSrc = q.get('fromSrc') ?? '';
  const withTag = (name: string): string => (tag === '' ? name : tag.startsWith('sha256:') ? `${name}@${tag}` : `${name}:${tag}`);
  if (fromImage !== '') {
    const ref = withTag(fromImage);
    const img = await ctx.backend.containers.pullImage(ref);
    ctx.localEvents.emit('image', 'pull', img.id, { name: ref });
    sendMessages(ctx, [{ status: `Pulling from ${fromImage}`, id: tag === '' ? 'latest' : tag }, { status: `Digest: ${img.id}` }, { status: `Status: Downloaded newer image for ${ref}` }]);
    return;
  }
  if (fromSrc === '-') {
    const repo = q.get('repo') ?? '';
    if (repo === '') throw new InvalidArgumentError('repo: docker import needs a repository name here (shoal keeps no unnamed images)');
    const ref = withTag(repo);
    const img = await withUpload(ctx, (file) => ctx.backend.containers.importImage(file, ref));
    ctx.localEvents.emit('image', 'import', img.id, { name: ref });
    sendMessages(ctx, [{ status: img.id }]);
    return;
  }
  throw new InvalidArgumentError(fromSrc !== '' ? 'fromSrc: only "-" (the tarball in the request body) is supported' : 'fromImage or fromSrc is required');
}

async function inspect(ctx: RequestContext): Promise<void> {
  const c = ctx.backend.containers;
  const ref = ctx.params[0];
  const raw = await c.inspectImage(ref);
  const row = (await c.listImages()).find((i) => i.id === (raw as { id?: string }).id);
  sendJson(ctx.res, 200, imageInspectToDocker(raw, row));
}

async function remove(ctx: RequestContext): Promise<void> {
  const ref = ctx.params[0];
  const r = await ctx.backend.containers.removeImage(ref);
  const out: object[] = r.untagged.map((u) => ({ Untagged: u }));
  if (r.deleted !== undefined) {
    out.push({ Deleted: r.deleted.startsWith('sha256:') ? r.deleted : `sha256:${r.deleted}` });
    ctx.localEvents.emit('image', 'delete', r.deleted, { name: ref });
  } else {
    ctx.localEvents.emit('image', 'untag', ref, { name: ref });
  }
  sendJson(ctx.res, 200, out);
}

/** Images on this host: list, load, pull and import, inspect, remove. */
export const imageRoutes: readonly Route[] = [
  { method: 'GET', path: /^\/images\/json$/, handler: list },
  { method: 'POST', path: /^\/images\/load$/, handler: load },
  { method: 'POST', path: /^\/images\/create$/, handler: create },
  { method: 'GET', path: /^\/images\/(.+)\/json$/, handler: inspect },
  { method: 'DELETE', path: /^\/images\/(.+)$/, handler: remove },
];
