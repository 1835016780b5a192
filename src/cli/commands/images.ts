import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { InvalidArgumentError, ShoalError } from '../../types/errors';
import { ImageRow } from '../../api/container-backend';
import { Command, CommandContext } from '../command';
import { ago, humanSize, table } from '../human';

/** Splits a stored reference (`docker.io/library/busybox:latest`) into docker's REPOSITORY and TAG columns. */
export function repoAndTag(ref: string): [string, string] {
  const at = ref.indexOf('@');
  if (at >= 0) return [shortName(ref.slice(0, at)), '<none>'];
  const colon = ref.lastIndexOf(':');
  if (colon > ref.lastIndexOf('/')) return [shortName(ref.slice(0, colon)), ref.slice(colon + 1)];
  return [shortName(ref), 'latest'];
}

function shortName(name: string): string {
  return name.replace(/^docker\.io\/library\//, '').replace(/^docker\.io\//, '');
}

const shortId = (id: string): string => id.replace(/^sha256:/, '').slice(0, 12);

/** `shoal images` (and `image ls`): one row per reference, dangling images as <none>. */
export const imagesCommand: Command = {
  name: 'images',
  usage: 'shoal images [OPTIONS]',
  summary: 'List images',
  flags: [{ name: 'quiet', short: 'q', kind: 'bool' }, { name: 'no-trunc', kind: 'bool' }, { name: 'all', short: 'a', kind: 'bool' }],
  minArgs: 0,
  maxArgs: 0,
  async run(ctx, f) {
    const images = await (await ctx.backend()).listImages();
    const id = (i: ImageRow): string => (f.bools.has('no-trunc') ? i.id : shortId(i.id));
    if (f.bools.has('quiet')) {
      ctx.stdout.write([...new Set(images.map(id))].map((i) => `${i}\n`).join(''));
      return 0;
    }
    const now = ctx.now();
    const rows = images.flatMap((i) => {
      const names = i.references.length === 0 ? [['<none>', '<none>']] : i.references.map(repoAndTag);
      return names.map(([repo, tag]) => [repo, tag, id(i), ago(i.created, now), humanSize(i.size)]);
    });
    ctx.stdout.write(table(['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE'], rows));
    return 0;
  },
};

/** `shoal rmi`: untag, and delete an image with its last reference; refused while a container uses it. */
export const rmiCommand: Command = {
  name: 'rmi',
  usage: 'shoal rmi IMAGE [IMAGE...]',
  summary: 'Remove one or more images',
  flags: [],
  minArgs: 1,
  async run(ctx, f) {
    const backend = await ctx.backend();
    let failed = false;
    for (const ref of f.args) {
      try {
        const r = await backend.removeImage(ref);
        for (const u of r.untagged) ctx.stdout.write(`Untagged: ${u}\n`);
        if (r.deleted !== undefined) ctx.stdout.write(`Deleted: ${r.deleted}\n`);
      } catch (err) {
        if (!ShoalError.is(err)) throw err;
        failed = true;
        ctx.stderr.write(`Error: ${err.message}\n${err.hint === undefined ? '' : `${err.hint}\n`}`);
      }
    }
    return failed ? 1 : 0;
  },
};

/** Copies stdin to a temp file (the store reads archives by path); the caller removes the dir. */
async function spoolStdin(ctx: CommandContext, what: string): Promise<{ file: string; dir: string }> {
  if (ctx.stdin.isTTY) throw new InvalidArgumentError(`requested ${what} from stdin, but stdin is a terminal`, { hint: `give a file (-i FILE), or pipe the tarball in: shoal ${what} < image.tar` });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-stdin-'));
  const file = path.join(dir, 'archive.tar');
  await pipeline(ctx.stdin, fs.createWriteStream(file));
  if (fs.statSync(file).size === 0) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw new InvalidArgumentError(`requested ${what} from stdin, but stdin is empty`, { hint: `pipe the tarball in: shoal ${what} < image.tar` });
  }
  return { file, dir };
}

async function withArchive<T>(ctx: CommandContext, given: string | undefined, what: string, fn: (file: string) => Promise<T>): Promise<T> {
  if (given !== undefined && given !== '-') {
    if (!fs.existsSync(given)) throw new InvalidArgumentError(`open ${given}: no such file`);
    return fn(path.resolve(ctx.cwd, given));
  }
  const { file, dir } = await spoolStdin(ctx, what);
  try {
    return await fn(file);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** `shoal load`: a `docker save` or OCI tarball from -i FILE or stdin. */
export const loadCommand: Command = {
  name: 'load',
  usage: 'shoal load [-i FILE] [< FILE]',
  summary: 'Load images from a docker save or OCI tarball',
  flags: [{ name: 'input', short: 'i', kind: 'value' }, { name: 'quiet', short: 'q', kind: 'bool' }],
  minArgs: 0,
  maxArgs: 0,
  async run(ctx, f) {
    const loaded = await withArchive(ctx, f.values.get('input'), 'load', async (file) => (await ctx.backend()).loadImages(file));
    for (const img of loaded) {
      if (img.references.length === 0) ctx.stdout.write(`Loaded image ID: ${img.id}\n`);
      for (const r of img.references) ctx.stdout.write(`Loaded image: ${repoAndTag(r).join(':')}\n`);
    }
    return 0;
  },
};

/** `shoal import`: a root filesystem tarball (FILE or - for stdin) as a one-layer image named REF. */
export const importCommand: Command = {
  name: 'import',
  usage: 'shoal import FILE|- REPOSITORY[:TAG]',
  summary: 'Import a root filesystem tarball as an image',
  flags: [],
  minArgs: 2,
  maxArgs: 2,
  async run(ctx, f) {
    const img = await withArchive(ctx, f.args[0], 'import', async (file) => (await ctx.backend()).importImage(file, f.args[1]));
    ctx.stdout.write(`${img.id}\n`);
    return 0;
  },
};

/** `shoal pull`: from an OCI distribution registry. */
export const pullCommand: Command = {
  name: 'pull',
  usage: 'shoal pull NAME[:TAG|@DIGEST]',
  summary: 'Pull an image from a registry',
  flags: [],
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, f) {
    const img = await (await ctx.backend()).pullImage(f.args[0]);
    ctx.stdout.write(`Image ID: ${img.id}\nStatus: Downloaded image for ${f.args[0]}\n${img.references.map((r) => `${r}\n`).join('')}`);
    return 0;
  },
};
