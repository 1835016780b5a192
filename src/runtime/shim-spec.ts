import { ContainerConfig, defaultPath } from './container-config';
import { ContainerPaths } from './container-state';

/** Where a named volume's data lives under the data root. */
export function volumeDataDir(root: string, name: string): string {
  return `${root}/volumes/${name}/_data`;
}

/**
 * Encodes what the C shim needs as NUL-separated key=value records (see shoal-shim.c's
 * parse_spec): simple to write here and to read there, with no JSON parser in C.
 */
export function encodeShimSpec(p: ContainerPaths, layerDirs: string[], c: ContainerConfig, cg: { procsFiles: string[]; cloneInto?: string }): Buffer {
  const rec: string[] = [];
  const add = (k: string, v: string | number): void => { rec.push(`${k}=${v}`); };
  add('rootfs', p.rootfs);
  // overlayfs lists lower dirs top first; ours come lowest first.
  add('overlay', `lowerdir=${[...layerDirs].reverse().join(':')},upperdir=${p.upper},workdir=${p.work}`);
  if (c.readOnlyRootfs) add('readonly', 1);
  add('hostname', c.hostname ?? p.id.slice(0, 12));
  add('cwd', c.workingDir ?? '/');
  add('netns', c.network === 'host' ? 'host' : 'new');
  if (c.init) add('init', 1);
  add('uid', c.uid ?? 0);
  add('gid', c.gid ?? 0);
  for (const g of c.groups ?? []) add('group', g);
  for (const a of c.cmd) add('arg', a);
  const env = c.env ?? [];
  if (!env.some((e) => e.startsWith('PATH='))) add('env', defaultPath);
  for (const e of env) add('env', e);
  if (!env.some((e) => e.startsWith('HOSTNAME='))) add('env', `HOSTNAME=${c.hostname ?? p.id.slice(0, 12)}`);
  // v2: cloned straight into the cgroup (the shim falls back to writing cgroup.procs).
  if (cg.cloneInto !== undefined) add('cgroup-into', cg.cloneInto);
  else for (const f of cg.procsFiles) add('cgroup', f);
  for (const m of c.mounts ?? []) {
    if (m.type === 'bind') add('mount', `bind\t${m.source}\t${m.target}\t${m.readOnly ? 'ro' : 'rw'}`);
    else if (m.type === 'volume') add('mount', `bind\t${volumeDataDir(p.root, m.name)}\t${m.target}\t${m.readOnly ? 'ro' : 'rw'}`);
    else add('mount', `tmpfs\ttmpfs\t${m.target}\t${m.sizeBytes ? `size=${m.sizeBytes}` : 'size=65536k'}`);
  }
  add('log-max', c.logMaxBytes ?? 10 * 1024 * 1024);
  add('log-files', c.logMaxFiles ?? 2);
  return Buffer.from(rec.map((r) => `${r}\0`).join(''), 'utf8');
}
