// npm run bench:raft — 3 Raft members as 3 processes on loopback, real gRPC with mTLS, synced
// LevelDB writes. Prints one JSON object per line. The load runs inside the leader's process
// (see raft-proc's /bench), so the figures are Raft's: persist, replicate, commit, apply.
// BENCH_SECONDS, BENCH_CLIENTS (comma list), BENCH_FAILOVER_RUNS tune it; BENCH_PARTS=throughput,failover
// (the default) picks what runs.
import * as os from 'node:os';
import { call, ProcCluster, sleep } from '../test/raft/node/proc-cluster';

interface LoadResult { ops: number; errors: number; ops_per_s: number; p50_ms: number; p99_ms: number; in_flight_max: number }

const round2 = (x: number): number => Math.round(x * 100) / 100;
const base = { bench: 'raft-throughput', nodes: 3, payload_bytes: 128 };

async function load(c: ProcCluster, query: string, seconds: number): Promise<LoadResult> {
  const leader = await c.waitForLeader();
  const port = c.configs.get(leader)?.httpPort ?? 0;
  return (await call<LoadResult>(port, `/bench?${query}&bytes=128&seconds=${seconds}`, (seconds + 60) * 1000)).body;
}

async function throughput(seconds: number): Promise<void> {
  // Default snapshot settings (every 10,000 entries, 5,000 kept), so compaction is part of what is measured.
  const c = await ProcCluster.create({ size: 3, quiet: true, sourceMaps: false });
  try {
    await Promise.all(c.ids().map((id) => c.start(id)));
    await load(c, 'clients=64', 2); // warm up
    let best: { clients: number; r: LoadResult } | null = null;
    for (const clients of (process.env.BENCH_CLIENTS ?? '64,256,512,1024').split(',').map(Number)) {
      const r = await load(c, `clients=${clients}`, seconds);
      console.log(JSON.stringify({ ...base, clients, ops_per_s: Math.round(r.ops_per_s), p50_ms: round2(r.p50_ms), p99_ms: round2(r.p99_ms), errors: r.errors }));
      if (best === null || r.ops_per_s > best.r.ops_per_s) best = { clients, r };
    }
    if (best !== null) {
      const { clients, r } = best;
      console.log(JSON.stringify({ ...base, clients, ops_per_s: Math.round(r.ops_per_s), p50_ms: round2(r.p50_ms), p99_ms: round2(r.p99_ms), peak: true }));
    }
    // Open loop at a fixed rate: `clients` is the most proposals that were in flight at once.
    const f = await load(c, 'rate=1000', seconds);
    console.log(JSON.stringify({ ...base, clients: f.in_flight_max, ops_per_s: Math.round(f.ops_per_s), p50_ms: round2(f.p50_ms), p99_ms: round2(f.p99_ms), offered_ops_per_s: 1000, errors: f.errors }));
  } finally {
    await c.destroy();
  }
}

/** Time from kill -9 of the leader to the first proposal a new leader commits (default timing). */
async function failover(runs: number): Promise<void> {
  const c = await ProcCluster.create({ size: 3, quiet: true, sourceMaps: false });
  const times: number[] = [];
  try {
    await Promise.all(c.ids().map((id) => c.start(id)));
    for (let run = 0; run < runs; run++) {
      const leader = await c.waitForLeader(30_000);
      // Let the restarted member catch up and every follower hear heartbeats, as in a steady cluster.
      await sleep(1500);
      await c.kill(leader);
      const t0 = performance.now();
      const others = c.ids().filter((id) => id !== leader);
      let n = 0;
      for (;;) {
        const rs = await Promise.all(others.map((id) => c.propose(id, `failover-${run}-${n++}`, 500)));
        if (rs.some((r) => r.ok)) break;
        await sleep(5);
      }
      times.push(performance.now() - t0);
      await c.start(leader);
    }
  } finally {
    await c.destroy();
  }
  times.sort((a, b) => a - b);
  const median = times.length % 2 === 1 ? times[(times.length - 1) / 2] : (times[times.length / 2 - 1] + times[times.length / 2]) / 2;
  const p90 = times[Math.min(times.length - 1, Math.ceil(times.length * 0.9) - 1)];
  console.log(JSON.stringify({ bench: 'raft-failover', runs, median_ms: Math.round(median), p90_ms: Math.round(p90), max_ms: Math.round(times[times.length - 1]), min_ms: Math.round(times[0]) }));
}

async function main(): Promise<void> {
  console.log(JSON.stringify({ bench: 'raft-env', cpus: os.cpus().length, loadavg_1m: round2(os.loadavg()[0]) }));
  const seconds = Number(process.env.BENCH_SECONDS ?? 10);
  const parts = (process.env.BENCH_PARTS ?? 'throughput,failover').split(',');
  if (parts.includes('throughput')) await throughput(seconds);
  if (parts.includes('failover')) await failover(Number(process.env.BENCH_FAILOVER_RUNS ?? 10));
  console.log(JSON.stringify({ bench: 'raft-env', cpus: os.cpus().length, loadavg_1m: round2(os.loadavg()[0]) }));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
