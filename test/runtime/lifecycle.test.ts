import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { detectCgroupLayout } from '../../src/runtime/cgroups';
import { ContainerRuntime } from '../../src/runtime/container-runtime';
import { busyboxLayer, leftovers, output, runToEnd, testEnv, TestEnv, waitForLine } from './helpers';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('runtime: stop, logs, exit status, restart of the runtime', function () {
  this.timeout(60_000);
  let env: TestEnv;
  let rt: ContainerRuntime;

  before(async () => {
    env = testEnv('life');
    rt = await env.open();
  });

  after(async () => {
    for (const c of rt.list()) await rt.remove(c.id, { force: true });
    rt.close({ stopShimServer: true });
    env.cleanup();
  });

  it('captures stdout and stderr in order, with non-decreasing timestamps', async () => {
    const { id, state } = await runToEnd(rt, { cmd: ['sh', '-c', 'for i in $(seq 1 300); do echo out$i; echo err$i >&2; done; printf no-newline'] });
    assert.equal(state.exitCode, 0);
    const { out, err } = await output(rt, id);
    assert.deepEqual(out, [...Array.from({ length: 300 }, (_, i) => `out${i + 1}`), 'no-newline']);
    assert.deepEqual(err, Array.from({ length: 300 }, (_, i) => `err${i + 1}`));
    let last = '';
    for await (const e of rt.logs(id)) {
      assert.ok(e.time >= last || e.stream === 'stderr', `timestamps go back: ${last} then ${e.time}`);
      if (e.stream === 'stdout') last = e.time;
    }
  });

  it('logs with tail and since return the last lines and the newer lines only', async () => {
    const { id } = await runToEnd(rt, { cmd: ['sh', '-c', 'echo a; echo b; sleep 0.3; echo c; echo d'] });
    const tail: string[] = [];
    for await (const e of rt.logs(id, { tail: 2 })) tail.push(e.line);
    assert.deepEqual(tail, ['c', 'd']);
    const all: { line: string; time: string }[] = [];
    for await (const e of rt.logs(id)) all.push(e);
    const sinceMs = Date.parse(all[2].time.slice(0, 23) + 'Z');
    const since: string[] = [];
    for await (const e of rt.logs(id, { sinceMs })) since.push(e.line);
    assert.deepEqual(since, ['c', 'd']);
  });

  it('follows the log until the container exits', async () => {
    const id = await rt.create({ layerDirs: [busyboxLayer()], config: { network: 'none', cmd: ['sh', '-c', 'for i in 1 2 3 4 5; do echo line$i; sleep 0.1; done'] } });
    await rt.start(id);
    const got: string[] = [];
    for await (const e of rt.logs(id, { follow: true, pollMs: 20 })) got.push(e.line);
    assert.deepEqual(got, ['line1', 'line2', 'line3', 'line4', 'line5']);
  });

  it('rotates the log by size and still reads the newest lines in order', async () => {
    const { id } = await runToEnd(rt, { cmd: ['sh', '-c', 'for i in $(seq 1 400); do echo line$i; done'], logMaxBytes: 4096, logMaxFiles: 2 });
    const dir = path.join(env.root, 'containers', id);
    assert.ok(fs.existsSync(path.join(dir, 'container.log.1')) && fs.existsSync(path.join(dir, 'container.log.2')));
    assert.ok(!fs.existsSync(path.join(dir, 'container.log.3')));
    for (const f of ['container.log', 'container.log.1']) assert.ok(fs.statSync(path.join(dir, f)).size <= 4096);
    const { out } = await output(rt, id);
    assert.ok(out.length > 50 && out.length < 400, `kept ${out.length} lines`);
    const first = Number(out[0].slice(4));
    assert.deepEqual(out, Array.from({ length: 400 - first + 1 }, (_, i) => `line${first + i}`));
  });

  it('stop gives a process trapping SIGTERM its grace to exit by itself', async () => {
    const id = await rt.create({ layerDirs: [busyboxLayer()], config: { network: 'none', cmd: ['sh', '-c', 'trap "echo got-term; exit 7" TERM; echo ready; while :; do sleep 0.05; done'] } });
    await rt.start(id);
    await waitForLine(rt, id, 'ready');
    const st = await rt.stop(id, 10_000);
    assert.equal(st.exitCode, 7);
    assert.equal(st.exitSignal, 0);
    assert.ok((await output(rt, id)).out.includes('got-term'));
  });

  it('stop SIGKILLs a process ignoring SIGTERM once the grace is over', async () => {
    const id = await rt.create({ layerDirs: [busyboxLayer()], config: { network: 'none', cmd: ['sh', '-c', 'trap "" TERM; echo ready; while :; do sleep 0.05; done'], stopGraceMs: 400 } });
    await rt.start(id);
    await waitForLine(rt, id, 'ready');
    const t0 = Date.now();
    const st = await rt.stop(id);
    assert.ok(Date.now() - t0 >= 390, 'SIGKILL came before the grace was over');
    assert.equal(st.exitCode, 137);
    assert.equal(st.exitSignal, 9);
    assert.ok(st.finishedAt && Date.parse(st.finishedAt) >= t0 - 5);
  });

  it('uses the configured stop signal', async () => {
    const id = await rt.create({ layerDirs: [busyboxLayer()], config: { network: 'none', stopSignal: 'SIGUSR1', cmd: ['sh', '-c', 'trap "exit 11" USR1; trap "exit 12" TERM; echo ready; while :; do sleep 0.05; done'] } });
    await rt.start(id);
    await waitForLine(rt, id, 'ready');
    assert.equal((await rt.stop(id, 5000)).exitCode, 11);
  });

  it('a container keeps running across a restart of the runtime and is re-attached', async () => {
    const id = await rt.create({ name: 'survivor', layerDirs: [busyboxLayer()], config: { network: 'none', cmd: ['sh', '-c', 'trap "echo bye; exit 5" TERM; i=0; while :; do i=$((i+1)); echo tick$i; sleep 0.05; done'] } });
    await rt.start(id);
    const pid = rt.inspect(id).pid!;
    rt.close(); // the "daemon" goes away; the monitor and the container stay
    await sleep(200);
    assert.doesNotThrow(() => process.kill(pid, 0));
    rt = await env.open();
    const info = rt.inspect('survivor');
    assert.equal(info.status, 'running');
    assert.equal(info.pid, pid);
    assert.ok(rt.stats(id).pids >= 1);
    const st = await rt.stop('survivor', 5000);
    assert.equal(st.exitCode, 5);
    const { out } = await output(rt, id);
    assert.ok(out.length > 3 && out.at(-1) === 'bye', 'logs kept being written while no runtime ran');
  });

  it('containers outlive the shim server, and a new server is started on demand', async () => {
    const id = await rt.create({ layerDirs: [busyboxLayer()], config: { network: 'none', cmd: ['sh', '-c', 'trap "exit 4" TERM; while :; do sleep 0.05; done'] } });
    await rt.start(id);
    rt.close({ stopShimServer: true });
    await sleep(100);
    rt = await env.open();
    assert.equal(rt.inspect(id).status, 'running');
    const { state } = await runToEnd(rt, { cmd: ['true'] });
    assert.equal(state.exitCode, 0);
    assert.equal((await rt.stop(id, 5000)).exitCode, 4);
  });

  it('starts containers without the server too, by spawning the shim from Node', async () => {
    const spawned = await env.open({ useShimServer: false });
    try {
      const { state, out } = await runToEnd(spawned, { cmd: ['sh', '-c', 'echo $$'] });
      assert.equal(state.exitCode, 0);
      assert.deepEqual(out, ['1']);
    } finally {
      spawned.close();
    }
  });

  it('a container that ended while no runtime ran is finalized at the next open, and stray cgroups are removed', async () => {
    const id = await rt.create({ layerDirs: [busyboxLayer()], config: { network: 'none', cmd: ['sleep', '100'] } });
    await rt.start(id);
    const pid = rt.inspect(id).pid!;
    rt.close({ stopShimServer: true });
    process.kill(pid, 'SIGKILL');
    // A crash mid-start leaves a cgroup that belongs to no container.
    const layout = detectCgroupLayout();
    const stray = layout.version === 1 ? path.join(layout.root, 'pids', env.cgroupParent, 'stray') : path.join(layout.root, env.cgroupParent, 'stray');
    fs.mkdirSync(stray);
    await sleep(300);
    rt = await env.open();
    const info = rt.inspect(id);
    assert.equal(info.status, 'exited');
    assert.equal(info.exitCode, 137);
    assert.ok(!fs.existsSync(stray));
  });

  it('refuses to start a container twice, even concurrently', async () => {
    const id = await rt.create({ layerDirs: [busyboxLayer()], config: { network: 'none', cmd: ['sleep', '100'] } });
    const results = await Promise.allSettled([rt.start(id), rt.start(id)]);
    assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
    await assert.rejects(rt.start(id), /is running; only a created container can be started/);
    await rt.remove(id, { force: true });
  });

  it('refuses to remove a running container without force, and to reuse a name', async () => {
    const id = await rt.create({ name: 'busy', layerDirs: [busyboxLayer()], config: { network: 'none', cmd: ['sleep', '100'] } });
    await assert.rejects(rt.create({ name: 'busy', layerDirs: [busyboxLayer()], config: { cmd: ['true'] } }), /already in use/);
    await rt.start(id);
    await assert.rejects(rt.remove(id), /is running/);
    await rt.remove(id, { force: true });
    assert.throws(() => rt.inspect(id), /no such container/);
  });

  it('leaves no mount, cgroup, process or directory behind', async () => {
    for (const c of rt.list()) await rt.remove(c.id, { force: true });
    await rt.settle();
    rt.close({ stopShimServer: true });
    assert.deepEqual(leftovers(env), []);
  });
});
