// The deterministic simulator over the seeds CI runs: every safety property holds after every
// step of every seed, every seed heals, and a seed replays exactly from its number alone.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { formatViolation, parseSimArgs, reproduceCommand } from './sim-cli';
import { CI_SEEDS, FAULT_STEPS_DEFAULT, runSeed } from './sim-run';

/** Seeds per mocha test, so a failure names a small range and progress shows. */
const CHUNK_SEEDS = 100;
const CLI = path.join(__dirname, 'sim-cli.js');

/** Runs the CLI; returns its output lines and exit code. */
function runCli(args: string[]): { lines: string[]; code: number } {
  try {
    const out = execFileSync(process.execPath, [CLI, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return { lines: out.trimEnd().split('\n'), code: 0 };
  } catch (err) {
    const e = err as { status: number | null; stdout: string };
    return { lines: e.stdout.trimEnd().split('\n'), code: e.status ?? -1 };
  }
}

describe('Raft simulator: safety and progress over the seeds CI runs', function () {
  this.timeout(600_000);

  for (let start = 0; start < CI_SEEDS; start += CHUNK_SEEDS) {
    it(`seeds ${start}..${start + CHUNK_SEEDS - 1}: no safety violation after any step, every seed heals, histories are linearizable`, () => {
      const failures: string[] = [];
      let applied = 0;
      let served = 0;
      for (let seed = start; seed < start + CHUNK_SEEDS; seed++) {
        const r = runSeed(seed);
        if (r.violation !== null) failures.push(formatViolation(r, { steps: FAULT_STEPS_DEFAULT, bugs: [] }));
        applied += r.stats.entriesApplied;
        served += r.stats.readsServed;
      }
      assert.deepEqual(failures, [], failures.join('\n\n'));
      // The runs prove something only if the cluster did real work between the faults.
      assert.ok(applied > 20 * CHUNK_SEEDS, `only ${applied} entries applied over ${CHUNK_SEEDS} seeds`);
      assert.ok(served > 20 * CHUNK_SEEDS, `only ${served} reads served over ${CHUNK_SEEDS} seeds`);
    });
  }

  it('every kind of fault the issue names happens across the CI seeds\' first 50', () => {
    const total: Record<string, number> = {};
    for (let seed = 0; seed < 50; seed++) {
      for (const [k, v] of Object.entries(runSeed(seed).stats)) total[k] = (total[k] ?? 0) + v;
    }
    for (const k of ['crashes', 'restarts', 'partitions', 'confChangesProposed', 'nodesAdded', 'shutdowns', 'transfers', 'snapshotsTaken', 'snapshotsInstalled', 'messagesDropped', 'messagesDuplicated', 'putsOk', 'putsUnknown', 'readsServed']) {
      assert.ok((total[k] ?? 0) > 0, `no ${k} in 50 seeds: ${JSON.stringify(total)}`);
    }
  });

  it('a seed replays exactly from its number alone: same trace, same counts, same verdict', () => {
    for (const seed of [7, 123]) {
      const a = runSeed(seed, { steps: 2000 });
      const b = runSeed(seed, { steps: 2000 });
      assert.deepEqual(b, a);
    }
    assert.notDeepEqual(runSeed(8, { steps: 2000 }).trace, runSeed(7, { steps: 2000 }).trace);
  });
});

describe('Raft simulator: the npm run sim command line', function () {
  this.timeout(120_000);

  it('ends with exactly "sim: N seeds, 0 violations" and exit code 0 on a clean run', () => {
    const { lines, code } = runCli(['--seeds', '3', '--start', '40', '--steps', '1500']);
    assert.equal(code, 0);
    assert.equal(lines.at(-1), 'sim: 3 seeds, 0 violations');
  });

  it('prints a failing seed with its violation, a short trace and the command that replays it, and exits 1', () => {
    const { lines, code } = runCli(['--seeds', '2', '--start', '5', '--steps', '500', '--bug', 'applyBeforeCommit']);
    assert.equal(code, 1);
    assert.equal(lines.at(-1), 'sim: 2 seeds, 2 violations');
    const text = lines.join('\n');
    assert.match(text, /^seed 5: VIOLATION: /m);
    assert.match(text, /^seed 6: VIOLATION: /m);
    assert.match(text, /^ {4}t=\d+ /m, 'no trace lines');
    assert.ok(text.includes(`reproduce: ${reproduceCommand(5, { steps: 500, bugs: ['applyBeforeCommit'] })}`));
  });

  it('--verbose streams the trace of every seed', () => {
    const { lines } = runCli(['--seeds', '1', '--start', '3', '--steps', '300', '--verbose']);
    assert.ok(lines.filter((l) => l.startsWith('t=')).length > 5);
    assert.match(lines.at(-2) ?? '', /^seed 3: ok \{/);
  });

  it('refuses bad flags with a message naming the flag, exit code 2', () => {
    assert.equal(runCli(['--seeds', 'x']).code, 2);
    assert.throws(() => parseSimArgs(['--seeds', '0']), /--seeds must be an integer >= 1, got "0"/);
    assert.throws(() => parseSimArgs(['--bug', 'nope']), /unknown --bug "nope"/);
    assert.throws(() => parseSimArgs(['--frobnicate']), /unknown flag "--frobnicate"/);
    assert.throws(() => parseSimArgs(['--start']), /--start needs a value/);
    assert.deepEqual(parseSimArgs(['--seeds=5', '--start', '9', '--steps', '100', '--bug', 'readWithoutQuorum', '-v']),
      { seeds: 5, start: 9, steps: 100, bugs: ['readWithoutQuorum'], verbose: true });
  });
});
