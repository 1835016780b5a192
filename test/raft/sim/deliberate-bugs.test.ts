// The simulator's checks are not vacuous: each deliberate bug of the core (RaftBug, switched on
// one at a time through the test-only RaftConfig.testBugs) is caught within the seeds CI runs,
// by the property it breaks, and the failing seed replays the same violation from its number.
import assert from 'node:assert/strict';
import type { RaftBug } from '../../../src/raft/core/types';
import { CI_SEEDS, runSeed, type RunOptions, type RunResult } from './sim-run';

/** Each bug, and what the simulator must report when it bites. */
const BUGS: readonly { bug: RaftBug; breaks: string; report: RegExp }[] = [
  {
    bug: 'commitOldTermByCount',
    breaks: 'leader completeness / committed entries never lost (Figure 8)',
    report: /committed with term|committed entry was lost|was applied as term/,
  },
  {
    bug: 'voteWithoutPersist',
    breaks: 'a granted vote is durable before it is sent',
    report: /grants its vote to n\d+ in term \d+ but its disk holds/,
  },
  {
    bug: 'applyBeforeCommit',
    breaks: 'only committed entries are applied',
    report: /applies index \d+ before it is committed/,
  },
  {
    bug: 'skipUpToDateCheck',
    breaks: 'leader completeness (§5.4.1 election restriction)',
    report: /leader n\d+ of term \d+ (has term \d+ at index \d+, which was committed|lacks committed index)|committed entry was lost|was applied as term/,
  },
  {
    bug: 'readWithoutQuorum',
    breaks: 'linearizable reads (a deposed leader answers stale)',
    report: /client history is not linearizable/,
  },
];

/** The first seed in [0, CI_SEEDS) whose run reports a violation (matching `report`, if given) with `bug` on. */
function firstCaught(bug: RaftBug, options: RunOptions = {}, report?: RegExp): RunResult | null {
  for (let seed = 0; seed < CI_SEEDS; seed++) {
    const r = runSeed(seed, { ...options, bugs: [bug] });
    if (r.violation !== null && (report === undefined || report.test(r.violation))) return r;
  }
  return null;
}

/** Bugs the Ready contract checks catch at once, and the paper property each goes on to break when those checks are off. */
const DEEPER: readonly { bug: RaftBug; breaks: string; report: RegExp }[] = [
  { bug: 'voteWithoutPersist', breaks: 'election safety: two leaders in one term', report: /^two leaders in term \d+/ },
  { bug: 'applyBeforeCommit', breaks: 'state machine safety: two nodes apply different entries at one index', report: /but index \d+ was applied as term/ },
];

describe('Raft simulator: each deliberate core bug is caught within the seeds CI runs', function () {
  this.timeout(600_000);

  for (const { bug, breaks, report } of BUGS) {
    it(`${bug}: breaks ${breaks}`, function () {
      const r = firstCaught(bug);
      assert.ok(r !== null, `the simulator missed ${bug} in seeds 0..${CI_SEEDS - 1}`);
      assert.match(r.violation ?? '', report);
      // Replays from the seed alone, and the same seed is clean without the bug.
      assert.equal(runSeed(r.seed, { bugs: [bug] }).violation, r.violation);
      assert.equal(runSeed(r.seed).violation, null, `seed ${r.seed} fails even without ${bug}`);
      this.test!.title += ` (caught at seed ${r.seed})`;
    });
  }

  for (const { bug, breaks, report } of DEEPER) {
    it(`${bug}, with only the paper's properties checking (Ready contract checks off): breaks ${breaks}`, function () {
      const paperOnly: RunOptions = { contractChecks: false };
      const r = firstCaught(bug, paperOnly, report);
      assert.ok(r !== null, `with the contract checks off, ${bug} never broke ${breaks} in seeds 0..${CI_SEEDS - 1}`);
      assert.equal(runSeed(r.seed, { ...paperOnly, bugs: [bug] }).violation, r.violation);
      this.test!.title += ` (at seed ${r.seed})`;
    });
  }
});
