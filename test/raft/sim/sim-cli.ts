// `npm run sim -- --seeds N [--start S] [--steps K] [--bug NAME] [--verbose]`: runs the
// deterministic Raft simulator over seeds S .. S+N-1 and prints each violation with its seed and
// a short trace. The last line is exactly `sim: N seeds, V violations`; the exit code is 1 when
// V > 0 and 2 for bad flags.
import type { RaftBug } from '../../../src/raft/core/types';
import { InvalidArgumentError, ShoalError } from '../../../src/types/errors';
import { FAULT_STEPS_DEFAULT, runSeed, type RunResult } from './sim-run';

/** The deliberate bugs `--bug` accepts (RaftBug in src/raft/core/types.ts). */
export const RAFT_BUGS: readonly RaftBug[] = ['commitOldTermByCount', 'voteWithoutPersist', 'applyBeforeCommit', 'skipUpToDateCheck', 'readWithoutQuorum'];

/** Parsed command line. */
export interface SimArgs {
  readonly seeds: number;
  readonly start: number;
  readonly steps: number;
  readonly bugs: readonly RaftBug[];
  readonly verbose: boolean;
}

const USAGE = 'usage: npm run sim -- --seeds N [--start S] [--steps K] [--bug NAME]... [--verbose]';

/** Parses the flags; throws InvalidArgumentError naming what is wrong. */
export function parseSimArgs(argv: readonly string[]): SimArgs {
  let seeds = 100;
  let start = 0;
  let steps = FAULT_STEPS_DEFAULT;
  const bugs: RaftBug[] = [];
  let verbose = false;
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2) as [string, string | undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new InvalidArgumentError(`${flag} needs a value`, { hint: USAGE });
      return v;
    };
    switch (flag) {
      case '--seeds': seeds = integer(flag, value(), 1); break;
      case '--start': start = integer(flag, value(), 0); break;
      case '--steps': steps = integer(flag, value(), 1); break;
      case '--bug': {
        const name = value();
        if (!(RAFT_BUGS as readonly string[]).includes(name)) {
          throw new InvalidArgumentError(`unknown --bug ${JSON.stringify(name)}`, { hint: `one of: ${RAFT_BUGS.join(', ')}` });
        }
        bugs.push(name as RaftBug);
        break;
      }
      case '--verbose': case '-v': verbose = true; break;
      case '--help': case '-h': throw new InvalidArgumentError('help asked', { hint: USAGE });
      default: throw new InvalidArgumentError(`unknown flag ${JSON.stringify(argv[i])}`, { hint: USAGE });
    }
  }
  return { seeds, start, steps, bugs, verbose };
}

function integer(flag: string, text: string, min: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < min) {
    throw new InvalidArgumentError(`${flag} must be an integer >= ${min}, got ${JSON.stringify(text)}`, { hint: USAGE });
  }
  return n;
}

/** The command that replays one seed exactly. */
export function reproduceCommand(seed: number, args: Pick<SimArgs, 'steps' | 'bugs'>): string {
  const steps = args.steps === FAULT_STEPS_DEFAULT ? '' : ` --steps ${args.steps}`;
  const bugs = args.bugs.map((b) => ` --bug ${b}`).join('');
  return `npm run sim -- --seeds 1 --start ${seed}${steps}${bugs} --verbose`;
}

/** The report of a failing seed: seed, what broke, the profile, the last events, how to replay. */
export function formatViolation(r: RunResult, args: Pick<SimArgs, 'steps' | 'bugs'>): string {
  return [
    `seed ${r.seed}: VIOLATION: ${r.violation ?? ''}`,
    `  profile: ${r.profile}`,
    `  last ${r.trace.length} events:`,
    ...r.trace.map((l) => `    ${l}`),
    `  reproduce: ${reproduceCommand(r.seed, args)}`,
  ].join('\n');
}

/** Runs the seeds; returns the number of violations. */
export function runSeeds(args: SimArgs, out: (line: string) => void): number {
  let violations = 0;
  const echo = args.verbose ? out : undefined;
  for (let seed = args.start; seed < args.start + args.seeds; seed++) {
    const r = runSeed(seed, { steps: args.steps, bugs: args.bugs, ...(echo ? { echo } : {}) });
    if (r.violation !== null) {
      violations++;
      out(formatViolation(r, args));
    } else if (args.verbose) {
      out(`seed ${seed}: ok ${JSON.stringify(r.stats)}`);
    }
  }
  out(`sim: ${args.seeds} seeds, ${violations} violations`);
  return violations;
}

function main(): void {
  let args: SimArgs;
  try {
    args = parseSimArgs(process.argv.slice(2));
  } catch (err) {
    if (!ShoalError.is(err)) throw err;
    process.stderr.write(`sim: ${err.message}\n${err.hint ?? ''}\n`);
    process.exitCode = 2;
    return;
  }
  const violations = runSeeds(args, (line) => process.stdout.write(`${line}\n`));
  process.exitCode = violations > 0 ? 1 : 0;
}

if (require.main === module) main();
