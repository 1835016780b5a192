import { waitFor } from './exec';
import { formSwarm, Swarm } from './swarm';
import { TestRun } from './test-run';

/** The run and swarm of a describe block, once its `before` hook has formed them. */
export interface SwarmSuite {
  readonly t: TestRun;
  readonly s: Swarm;
}

/**
 * Registers the hooks a scenario file shares: before, a swarm of `managers` + `workers` hosts
 * (with `ready`, also every node ready and the node ids learned); after a failed test, the hosts'
 * log tails; after all, the teardown of every host.
 */
export function useSwarm(managers: number, workers: number, opts: { ready?: boolean } = {}): SwarmSuite {
  let t: TestRun | undefined;
  let s: Swarm | undefined;
  before(async () => {
    t = TestRun.create(managers + workers);
    s = await formSwarm(t, managers, workers);
    if (opts.ready !== true) return;
    const swarm = s;
    await waitFor(`${managers + workers} ready nodes`, async () => ((await swarm.nodes()).filter((n) => n.Status.State === 'ready').length === managers + workers ? true : undefined));
    await swarm.learnNodeIds();
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed' && t !== undefined) console.error(t.logs(40));
  });
  after(() => {
    t?.teardown();
  });
  const formed = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error('the swarm of this describe block is not formed (its before hook failed)');
    return v;
  };
  return { get t() { return formed(t); }, get s() { return formed(s); } };
}
