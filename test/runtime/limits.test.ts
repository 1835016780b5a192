import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { allowedDevices, detectCgroupLayout } from '../../src/runtime/cgroups';
import { ContainerRuntime } from '../../src/runtime/container-runtime';
import { busyboxLayer, leftovers, output, runToEnd, testEnv, TestEnv, waitForLine } from './helpers';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('runtime: cgroup limits', function () {
  this.timeout(60_000);
  let env: TestEnv;
  let rt: ContainerRuntime;

  before(async () => {
    env = testEnv('lim');
    rt = await env.open();
  });

  after(async () => {
    for (const c of rt.list()) await rt.remove(c.id, { force: true });
    rt.close({ stopShimServer: true });
    env.cleanup();
  });

  it('OOM-kills a memory hog and reports exit 137 with OOMKilled', async () => {
    // The shell doubles a string until the 24 MiB limit is hit.
    const { state } = await runToEnd(rt, { cmd: ['sh', '-c', 'a=xxxxxxxxxxxxxxxx; while :; do a=$a$a; done'], limits: { memoryBytes: 24 * 1024 * 1024 } });
    assert.equal(state.exitCode, 137);
    assert.equal(state.exitSignal, 9);
    assert.equal(state.oomKilled, true);
  });

  it('does not report OOMKilled for a container killed by stop', async () => {
    const id = await rt.create({ layerDirs: [busyboxLayer()], config: { network: 'none', cmd: ['sleep', '100'], limits: { memoryBytes: 24 * 1024 * 1024 } } });
    await rt.start(id);
    const st = await rt.stop(id, 0);
    assert.equal(st.exitCode, 137);
    assert.equal(st.oomKilled, false);
  });

  it('stops a fork bomb at the pids limit, keeps the host responsive, and stop kills every process', async () => {
    const id = await rt.create({ layerDirs: [busyboxLayer()], config: { network: 'none', cmd: ['sh', '-c', 'b() { b | b & }; b; exec sleep 1000'], limits: { pidsLimit: 40 } } });
    await rt.start(id);
    await sleep(1000);
    // PID 1 execs its sleep rather than forking it: at the limit a fork fails and the shell would exit.
    const s = rt.stats(id);
    assert.ok(s.pids <= 40 && s.pids >= 10, `pids in cgroup: ${s.pids}`);
    const host = spawnSync('true');
    assert.equal(host.status, 0, 'the host can still fork');
    const st = await rt.stop(id, 0);
    assert.equal(st.status, 'exited');
    assert.deepEqual(leftovers(env).filter((l) => l.startsWith('cgroup')), []);
  });

  it('holds the CPU limit: usage stays near the quota and the cgroup is throttled', async () => {
    const id = await rt.create({ layerDirs: [busyboxLayer()], config: { network: 'none', cmd: ['sh', '-c', 'while :; do :; done'], limits: { nanoCpus: 200_000_000 } } });
    await rt.start(id);
    await sleep(200);
    const a = rt.stats(id);
    const t0 = process.hrtime.bigint();
    await sleep(1500);
    const b = rt.stats(id);
    const wallNs = Number(process.hrtime.bigint() - t0);
    await rt.stop(id, 0);
    const share = (b.cpuUsageNs - a.cpuUsageNs) / wallNs;
    // 0.2 CPU allowed: a busy loop would take a whole CPU (1.0) without the limit.
    assert.ok(share <= 0.3, `container used ${share.toFixed(3)} CPU with a 0.2 CPU limit`);
    assert.ok(share > 0.02, `container barely ran (${share.toFixed(3)} CPU)`);
    assert.ok(b.throttledPeriods > a.throttledPeriods, 'the CFS quota never throttled the busy loop');
  });

  it('lets the container open only the standard device nodes (v1 devices cgroup)', async function () {
    const layout = detectCgroupLayout();
    if (layout.version !== 1) this.skip(); // v2 needs a BPF device program: not implemented, see the runtime notes
    const id = await rt.create({ layerDirs: [busyboxLayer()], config: { network: 'none', cmd: ['sh', '-c', 'head -c 3 /dev/zero | wc -c; echo ready; sleep 100'] } });
    await rt.start(id);
    await waitForLine(rt, id, 'ready');
    const list = fs.readFileSync(path.join(layout.root, 'devices', env.cgroupParent, id, 'devices.list'), 'utf8').trim().split('\n');
    assert.deepEqual(list.sort(), [...allowedDevices].sort());
    assert.deepEqual((await output(rt, id)).out, ['3', 'ready']);
    await rt.stop(id, 0);
  });

  it('leaves no cgroup or process behind', async () => {
    for (const c of rt.list()) await rt.remove(c.id, { force: true });
    await rt.settle();
    rt.close({ stopShimServer: true });
    assert.deepEqual(leftovers(env), []);
  });
});
