// Profiles the 3 member processes under the benchmark's loads (node --cpu-prof); prints where
// each process spends its time, by function and by category. Usage: node dist/bench/raft-profile.js DIR
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { call, ProcCluster } from '../test/raft/node/proc-cluster';

interface ProfNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number; children?: number[] }
interface Profile { nodes: ProfNode[]; samples: number[]; timeDeltas: number[] }

/** Self time per function and per source area, as shares of all samples. */
function summarize(file: string): Record<string, unknown> {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const counts = new Map<number, number>();
  for (const s of p.samples) counts.set(s, (counts.get(s) ?? 0) + 1);
  const total = p.samples.length;
  const fn = new Map<string, number>();
  const area = new Map<string, number>();
  for (const [id, n] of counts) {
    const f = byId.get(id)?.callFrame;
    if (f === undefined) continue;
    const key = `${f.functionName || '(anonymous)'} ${path.basename(f.url)}:${f.lineNumber + 1}`;
    fn.set(key, (fn.get(key) ?? 0) + n);
    const a = f.url === '' ? f.functionName : /grpc-js/.test(f.url) ? 'grpc-js' : /protobufjs|@protobufjs/.test(f.url) ? 'protobufjs'
      : /classic-level|abstract-level/.test(f.url) ? 'level' : /src\/raft\/core/.test(f.url) ? 'raft core' : /src\/raft/.test(f.url) ? 'raft node/storage/transport'
        : f.url.startsWith('node:') ? `node:${f.url.split(':')[1].split('/')[0]}` : 'other';
    area.set(a, (area.get(a) ?? 0) + n);
  }
  const top = (m: Map<string, number>, k: number): Record<string, string> =>
    Object.fromEntries([...m].sort((x, y) => y[1] - x[1]).slice(0, k).map(([name, n]) => [name, `${((100 * n) / total).toFixed(1)}%`]));
  return { file: path.basename(file), samples: total, areas: top(area, 12), functions: top(fn, 15) };
}

async function main(): Promise<void> {
  const dir = path.resolve(process.argv[2] ?? 'raft-profile');
  const load = process.argv[3] ?? 'clients=256';
  const c = await ProcCluster.create({ size: 3, quiet: true, sourceMaps: false, nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`] });
  try {
    await Promise.all(c.ids().map((id) => c.start(id)));
    const leader = await c.waitForLeader();
    const r = await call(c.configs.get(leader)?.httpPort ?? 0, `/bench?${load}&seconds=8`, 70_000);
    console.log(JSON.stringify({ leader, load, result: r.body }));
    for (const id of c.ids()) await c.terminate(id);
  } finally {
    await c.destroy();
  }
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.cpuprofile'))) console.log(JSON.stringify(summarize(path.join(dir, f))));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
