import * as fs from 'node:fs';
import * as path from 'node:path';
import { InvalidArgumentError } from '../types/errors';

/** Numeric identity the container's process runs with. */
export interface ResolvedUser {
  uid: number;
  gid: number;
  groups: number[];
}

/**
 * Reads /etc/<name> from the topmost layer that has it, as a regular file only: an image's
 * symlink must never make us read a file of the host.
 */
function readImageFile(layerDirs: string[], name: string): string | undefined {
  for (const dir of [...layerDirs].reverse()) {
    const etc = path.join(dir, 'etc');
    const file = path.join(etc, name);
    const etcSt = fs.lstatSync(etc, { throwIfNoEntry: false });
    const st = fs.lstatSync(file, { throwIfNoEntry: false });
    if (etcSt?.isDirectory() && st?.isFile()) return st.size > 4 * 1024 * 1024 ? undefined : fs.readFileSync(file, 'utf8');
    if (st !== undefined) return undefined;
  }
  return undefined;
}

function entries(text: string | undefined): string[][] {
  return (text ?? '').split('\n').filter((l) => l !== '' && !l.startsWith('#')).map((l) => l.split(':'));
}

const numeric = (s: string): boolean => /^\d+$/.test(s) && Number(s) <= 0xfffffffe;

/**
 * Resolves Docker's `--user` forms (name, uid, name:group, uid:gid) against the image's
 * /etc/passwd and /etc/group; supplementary groups are those listing the user, as Docker does.
 */
export function resolveUser(layerDirs: string[], user: string): ResolvedUser {
  const [u, g, ...rest] = user.split(':');
  if (!u || rest.length > 0 || g === '') throw new InvalidArgumentError(`user must be name, uid, name:group or uid:gid, got ${JSON.stringify(user)}`);
  const passwd = entries(readImageFile(layerDirs, 'passwd'));
  const groupFile = entries(readImageFile(layerDirs, 'group'));
  const pw = passwd.find((e) => e[0] === u) ?? (numeric(u) ? passwd.find((e) => e[2] === u) : undefined);
  let uid: number;
  let gid: number;
  if (pw) {
    uid = Number(pw[2]);
    gid = Number(pw[3]);
  } else if (numeric(u)) {
    uid = Number(u);
    gid = 0;
  } else {
    throw new InvalidArgumentError(`user ${JSON.stringify(u)} is not in the image's /etc/passwd`, { hint: 'use a numeric uid' });
  }
  if (g !== undefined) {
    const gr = groupFile.find((e) => e[0] === g);
    if (gr) gid = Number(gr[2]);
    else if (numeric(g)) gid = Number(g);
    else throw new InvalidArgumentError(`group ${JSON.stringify(g)} is not in the image's /etc/group`, { hint: 'use a numeric gid' });
  }
  const name = pw?.[0];
  const groups = name === undefined ? [] : groupFile.filter((e) => (e[3] ?? '').split(',').includes(name)).map((e) => Number(e[2])).filter((n) => n !== gid);
  if (![uid, gid, ...groups].every((n) => Number.isInteger(n) && n >= 0)) throw new InvalidArgumentError(`the image's /etc/passwd or /etc/group has a bad entry for ${JSON.stringify(user)}`);
  return { uid, gid, groups };
}
