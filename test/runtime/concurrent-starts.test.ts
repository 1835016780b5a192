import assert from 'node:assert/strict';
import { BridgeNetwork } from '../../src/runtime/bridge-network';
import { ContainerRuntime } from '../../src/runtime/container-runtime';
import { busyboxLayer, testEnv, TestEnv } from './helpers';

/**
 * A worker given many tasks at once starts their containers concurrently: every start must
 * settle (running or a clear error), never hang, and each container must get its own address.
 */
describe('runtime: many concurrent starts on the bridge network', function () {
  this.timeout(120_000);
  let env: TestEnv;
  let rt: ContainerRuntime;
  let bridge: BridgeNetwork;
  const tag = process.pid % 10000;

  before(async () => {
    env = testEnv('conc');
    bridge = new BridgeNetwork({ name: `shcb${tag}`, subnet: `10.232.${process.pid % 250}.0/24` });
    await bridge.setup();
    rt = await env.open({ network: bridge });
  });

  after(async () => {
    if (rt) {
      for (const c of rt.list()) await rt.remove(c.id, { force: true });
      await rt.settle();
      rt.close({ stopShimServer: true });
    }
    await bridge?.destroy();
    env?.cleanup();
  });

  it('40 containers started at once all run, each with its own address', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) ids.push(await rt.create({ layerDirs: [busyboxLayer()], config: { cmd: ['sleep', '1000'], stopGraceMs: 100 } }));
    const settled: string[] = [];
    const results = await Promise.race([
      Promise.allSettled(ids.map((id) => rt.start(id).then(() => { settled.push(id); }))),
      new Promise<'hung'>((r) => setTimeout(() => r('hung'), 60_000).unref()),
    ]);
    assert.notEqual(results, 'hung', `${40 - settled.length} of 40 starts had not settled after 60 s`);
    const failed = (results as PromiseSettledResult<void>[]).filter((r) => r.status === 'rejected');
    assert.deepEqual(failed.map((f) => String((f).reason)), []);
    const ips = ids.map((id) => rt.inspect(id).network?.ip);
    assert.equal(new Set(ips).size, 40, `addresses: ${ips.join(' ')}`);
    for (const id of ids) assert.equal(rt.inspect(id).status, 'running');
  });
});
