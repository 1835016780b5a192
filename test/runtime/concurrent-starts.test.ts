import assert from 'node:assert/strict';
import { ContainerRuntime } from '../../src/runtime/container-runtime';
import { bridgeRuntime, busyboxLayer, type BridgeRuntime } from './helpers';

/**
 * A worker given many tasks at once starts their containers concurrently: every start must
 * settle (running or a clear error), never hang, and each container must get its own address.
 */
describe('runtime: many concurrent starts on the bridge network', function () {
  this.timeout(120_000);
  let f: BridgeRuntime | undefined;
  let rt: ContainerRuntime;

  before(async () => {
    const tag = process.pid % 10000;
    f = await bridgeRuntime('conc', `shcb${tag}`, `10.232.${process.pid % 250}.0/24`);
    rt = f.rt;
  });

  after(async () => {
    await f?.close();
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
