// `npm run bench:runtime`: start latency, 100 concurrent starts and per-container memory of the
// runtime (issue 9). Prints one JSON line per figure; not a test, nothing asserted.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ContainerRuntime } from '../src/runtime/container-runtime';
import { ContainerConfig } from '../src/runtime/container-config';
import { busyboxLayer } from '../test/runtime/helpers';

const limits = { memoryBytes: 64 * 1024 * 1024, nanoCpus: 1_000_000_000, pidsLimit: 100 };

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function rssKb(pid: number, field: 'VmRSS' | 'Pss'): number {
  const file = field === 'VmRSS' ? `/proc/${pid}/status` : `/proc/${pid}/smaps_rollup`;
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(file, 'utf8'));
  return m ? Number(m[1]) : 0;
}

async function startLatency(rt: ContainerRuntime, layer: string): Promise<void> {
  const config: ContainerConfig = { cmd: ['true'], network: 'none', limits };
  const phases: Record<'create' | 'start' | 'wait' | 'remove', number[]> = { create: [], start: [], wait: [], remove: [] };
  const once = async (): Promise<number> => {
    const t = [performance.now()];
    const id = await rt.create({ layerDirs: [layer], config });
    t.push(performance.now());
    await rt.start(id);
    t.push(performance.now());
    const st = await rt.wait(id);
    t.push(performance.now());
    await rt.remove(id);
    t.push(performance.now());
    if (st.exitCode !== 0) throw new Error(`bench container exited ${st.exitCode}`);
    (['create', 'start', 'wait', 'remove'] as const).forEach((k, i) => phases[k].push(t[i + 1] - t[i]));
    return t[4] - t[0];
  };
  for (let i = 0; i < 5; i++) await once();
  for (const k of Object.keys(phases) as (keyof typeof phases)[]) phases[k] = [];
  const runs: number[] = [];
  for (let i = 0; i < 100; i++) runs.push(await once());
  runs.sort((a, b) => a - b);
  const r = (x: number): number => Math.round(x * 100) / 100;
  console.log(JSON.stringify({ bench: 'runtime-start', runs: runs.length, p50_ms: r(percentile(runs, 50)), p95_ms: r(percentile(runs, 95)) }));
  // Where the time goes: the median of each step (they need not add up to the total's median).
  const med = (xs: number[]): number => r(percentile([...xs].sort((a, b) => a - b), 50));
  console.log(JSON.stringify({ bench: 'runtime-start-steps', create_p50_ms: med(phases.create), start_p50_ms: med(phases.start), wait_p50_ms: med(phases.wait), remove_p50_ms: med(phases.remove) }));
}

async function hundred(rt: ContainerRuntime, layer: string): Promise<void> {
  const config: ContainerConfig = { cmd: ['sleep', '1000'], network: 'none', limits };
  const t0 = process.hrtime.bigint();
  const ids = await Promise.all(Array.from({ length: 100 }, async () => {
    const id = await rt.create({ layerDirs: [layer], config });
    await rt.start(id);
    return id;
  }));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(JSON.stringify({ bench: 'runtime-start-100', seconds: Math.round(seconds * 1000) / 1000 }));
  const monitors = ids.map((id) => rt.inspect(id).monitorPid!);
  const rss = monitors.reduce((s, p) => s + rssKb(p, 'VmRSS'), 0) / monitors.length;
  const pss = monitors.reduce((s, p) => s + rssKb(p, 'Pss'), 0) / monitors.length;
  console.log(JSON.stringify({ bench: 'runtime-rss', per_container_kb: Math.round(rss), pss_kb: Math.round(pss) }));
  await Promise.all(ids.map((id) => rt.remove(id, { force: true })));
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench:runtime needs root');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-bench-'));
  const cgroupParent = `shoal-bench-${process.pid}`;
  const rt = await ContainerRuntime.open({ root, cgroupParent });
  try {
    const layer = busyboxLayer();
    await startLatency(rt, layer);
    await hundred(rt, layer);
  } finally {
    for (const c of rt.list()) await rt.remove(c.id, { force: true });
    rt.close({ stopShimServer: true });
    for (const c of ['memory', 'cpu', 'cpuacct', 'pids', 'devices', '']) {
      try { fs.rmdirSync(path.join('/sys/fs/cgroup', c, cgroupParent)); } catch { /* not there */ }
    }
    fs.rmSync(root, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
