import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { FailedPreconditionError } from '../types/errors';

/** What a node remembers of its swarm between restarts, next to its certificates. */
export interface SwarmFile {
  readonly nodeId: string;
  readonly clusterId: string;
  /** host:port the cluster server listens on (the port actually bound). */
  readonly listenAddr: string;
  /** host:port other nodes reach this one at. */
  readonly advertiseAddr: string;
  /** This manager's Raft member id; 0 on a worker. */
  readonly raftId: number;
  /** host:port of the managers last known. */
  readonly managers: readonly string[];
}

/** <data-root>/swarm.json */
export const swarmFileName = 'swarm.json';

/** How to recover a data root that is half-written or damaged (DESIGN.md §7). */
export function recoveryHintFor(dataRoot: string): string {
  return `if this node should leave the swarm, stop shoald and remove ${path.join(dataRoot, 'certificates')}, ${path.join(dataRoot, 'raft')}, ${path.join(dataRoot, 'worker')} and ${path.join(dataRoot, swarmFileName)}, then join again`;
}

/** Reads swarm.json, or undefined if there is none; a damaged file is an error naming it. */
export async function readSwarmFile(dataRoot: string): Promise<SwarmFile | undefined> {
  const file = path.join(dataRoot, swarmFileName);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let v: Partial<SwarmFile>;
  try {
    v = JSON.parse(text) as Partial<SwarmFile>;
  } catch (cause) {
    throw new FailedPreconditionError(`${file} is damaged: ${(cause as Error).message}`, { cause, hint: recoveryHintFor(dataRoot) });
  }
  const ok = typeof v.nodeId === 'string' && typeof v.clusterId === 'string' && typeof v.listenAddr === 'string' &&
    typeof v.advertiseAddr === 'string' && typeof v.raftId === 'number' && Array.isArray(v.managers);
  if (!ok) throw new FailedPreconditionError(`${file} is damaged: a field is missing or has the wrong type`, { hint: recoveryHintFor(dataRoot) });
  return v as SwarmFile;
}

/** Writes swarm.json atomically (temp file, fsync, rename, fsync of the directory). */
export async function writeSwarmFile(dataRoot: string, s: SwarmFile): Promise<void> {
  const file = path.join(dataRoot, swarmFileName);
  const tmp = `${file}.tmp`;
  const fh = await fs.open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(`${JSON.stringify(s, null, 2)}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.rename(tmp, file);
  const dh = await fs.open(dataRoot, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

/** Forgets the swarm: swarm.json, certificates, Raft log and the worker's task records. */
export async function wipeSwarmState(dataRoot: string): Promise<void> {
  // swarm.json first: a crash midway leaves certificates without it, which start refuses with a hint.
  await fs.rm(path.join(dataRoot, swarmFileName), { force: true });
  for (const d of ['raft', 'worker', 'certificates']) await fs.rm(path.join(dataRoot, d), { recursive: true, force: true });
}
