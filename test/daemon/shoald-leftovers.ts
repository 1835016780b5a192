// What a real shoald process leaves behind by design — its containers (they outlive the daemon)
// and its shim server — plus its cgroups and bridge: the tests that spawn shoald end all of it here.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BridgeNetwork } from '../../src/runtime/bridge-network';
import { detectCgroupLayout } from '../../src/runtime/cgroups';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The parts of one spawned shoald that outlive it. */
export interface ShoaldTraces {
  readonly name: string;
  readonly dataRoot: string;
  readonly cgroupParent: string;
  readonly bridgeName: string;
  readonly bridgeSubnet: string;
}

/**
 * Kills the processes in the daemon's container cgroups, ends its shim server, removes the
 * cgroups (waiting for the kernel to let go) and the bridge. Returns what could not be removed.
 */
export async function reapShoaldLeftovers(t: ShoaldTraces): Promise<string[]> {
  const problems: string[] = [];
  const layout = detectCgroupLayout();
  const dirs = layout.version === 1 ? ['memory', 'cpu', 'cpuacct', 'pids', 'devices'].map((c) => path.join(layout.root, c, t.cgroupParent)) : [path.join(layout.root, t.cgroupParent)];
  const subdirs = (d: string): string[] => (fs.existsSync(d) ? fs.readdirSync(d, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => path.join(d, e.name)) : []);
  for (const d of dirs) {
    for (const sub of subdirs(d)) {
      const procs = path.join(sub, layout.version === 1 ? 'tasks' : 'cgroup.procs');
      for (const pid of (fs.existsSync(procs) ? fs.readFileSync(procs, 'utf8') : '').split('\n').filter((l) => l !== '')) {
        try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ }
      }
    }
  }
  try {
    const pid = Number(fs.readFileSync(path.join(t.dataRoot, 'shim.sock.pid'), 'utf8'));
    if (fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(t.dataRoot)) process.kill(pid, 'SIGTERM');
  } catch { /* not running */ }
  for (const d of dirs) {
    for (const sub of subdirs(d)) {
      for (let i = 0; fs.existsSync(sub); i++) {
        try { fs.rmdirSync(sub); } catch (err) {
          if (i >= 100) { problems.push(`${t.name}: cgroup ${sub}: ${String(err)}`); break; }
          await sleep(50);
        }
      }
    }
    try { fs.rmdirSync(d); } catch { /* gone */ }
  }
  try {
    await new BridgeNetwork({ name: t.bridgeName, subnet: t.bridgeSubnet, enableForwarding: false }).destroy();
  } catch (err) {
    problems.push(`${t.name}: bridge: ${String(err)}`);
  }
  return problems;
}
