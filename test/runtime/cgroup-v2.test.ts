import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cpuQuotaUs, detectCgroupLayout, openCgroup } from '../../src/runtime/cgroups';
import { ContainerRuntime } from '../../src/runtime/container-runtime';
import { busyboxLayer, output, requireRoot, waitForLine } from './helpers';

const unified = '/sys/fs/cgroup/unified';

describe('runtime: cgroup v2 behind the same interface', function () {
  this.timeout(30_000);

  it('detects v1 when the memory controller has its own hierarchy, else v2', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-cglayout-'));
    try {
      fs.writeFileSync(path.join(tmp, 'cgroup.controllers'), 'cpu memory pids\n');
      assert.deepEqual(detectCgroupLayout(tmp), { version: 2, root: tmp });
      fs.mkdirSync(path.join(tmp, 'memory'));
      fs.writeFileSync(path.join(tmp, 'memory', 'memory.limit_in_bytes'), '9223372036854771712\n');
      assert.deepEqual(detectCgroupLayout(tmp), { version: 1, root: tmp });
      assert.throws(() => detectCgroupLayout(path.join(tmp, 'nothing')), /no usable cgroup hierarchy/);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('writes limits in v2 form: memory.max, swap off, cpu.max as quota and period, pids.max', () => {
    // A plain directory stands in for the cgroup: this checks the file names and formats only.
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-cgv2-'));
    try {
      fs.writeFileSync(path.join(tmp, 'cgroup.controllers'), '');
      fs.mkdirSync(path.join(tmp, 'p'));
      fs.writeFileSync(path.join(tmp, 'p', 'cgroup.controllers'), '');
      const cg = openCgroup({ version: 2, root: tmp }, 'p', 'c', true);
      cg.apply({ memoryBytes: 64 * 1024 * 1024, nanoCpus: 1_500_000_000, pidsLimit: 50 });
      const read = (f: string): string => fs.readFileSync(path.join(tmp, 'p', 'c', f), 'utf8');
      assert.equal(read('memory.max'), String(64 * 1024 * 1024));
      assert.equal(read('memory.swap.max'), '0');
      assert.equal(read('cpu.max'), '150000 100000');
      assert.equal(read('pids.max'), '50');
      assert.equal(cpuQuotaUs(1_000_000), 1000, 'the kernel refuses quotas under 1 ms');
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('on the real v2 hierarchy, a container runs in its own cgroup, is accounted, and stop kills all its processes', async function () {
    requireRoot();
    if (!fs.existsSync(path.join(unified, 'cgroup.procs'))) {
      throw new Error(`this test needs cgroup2 mounted at ${unified} (as on this CI machine)`);
    }
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-rt-v2-'));
    const cgroupParent = `shoal-test-v2-${process.pid}`;
    const rt = await ContainerRuntime.open({ root, cgroupParent, cgroupLayout: { version: 2, root: unified } });
    try {
      const id = await rt.create({ layerDirs: [busyboxLayer()], config: { network: 'none', cmd: ['sh', '-c', 'sleep 1000 & sleep 1000 & grep "^0::" /proc/self/cgroup; i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; echo ready; wait'] } });
      await rt.start(id);
      await waitForLine(rt, id, 'ready');
      const dir = path.join(unified, cgroupParent, id);
      const procs = fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').trim().split('\n');
      assert.ok(procs.length >= 3, `cgroup holds ${procs.length} processes`);
      assert.ok(rt.stats(id).cpuUsageNs > 0);
      const st = await rt.stop(id, 0);
      assert.equal(st.exitCode, 137);
      assert.equal((await output(rt, id)).out[0], '0::/', 'the cgroup namespace hides the host path');
      assert.ok(!fs.existsSync(dir), 'the cgroup was not removed');
      await rt.remove(id);
      await rt.settle();
    } finally {
      for (const c of rt.list()) await rt.remove(c.id, { force: true });
      rt.close({ stopShimServer: true });
      try { fs.rmdirSync(path.join(unified, cgroupParent)); } catch { /* not made */ }
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
