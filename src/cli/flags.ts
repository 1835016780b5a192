import { InvalidArgumentError } from '../types/errors';

/** One flag a command accepts: a switch, a single value, or a value that may repeat. */
export interface FlagSpec {
  name: string;
  short?: string;
  kind: 'bool' | 'value' | 'list';
}

/** What a command line parsed to: flag values by long name, and the positional arguments. */
export interface ParsedFlags {
  bools: Set<string>;
  /** Switches given as --name=false (an update turns them off; absent leaves them as they are). */
  offs?: Set<string>;
  values: Map<string, string>;
  lists: Map<string, string[]>;
  args: string[];
}

/** A flag error: the CLI prints it with a pointer to the command's help (docker exits 125 on these). */
export class FlagError extends InvalidArgumentError {}

/**
 * Parses argv against a flag table. With `stopAtPositional` (run), everything from the first
 * positional on is the container's command and its own flags, as docker does.
 */
export function parseFlags(argv: string[], specs: FlagSpec[], opts: { stopAtPositional?: boolean; command: string }): ParsedFlags {
  const out: ParsedFlags = { bools: new Set(), offs: new Set(), values: new Map(), lists: new Map(), args: [] };
  const byLong = new Map(specs.map((s) => [s.name, s]));
  const byShort = new Map(specs.filter((s) => s.short !== undefined).map((s) => [s.short!, s]));
  const help = `see 'shoal ${opts.command} --help'`;
  const set = (spec: FlagSpec, value: string | undefined, shown: string): void => {
    if (spec.kind === 'bool') {
      if (value !== undefined && value !== 'true' && value !== 'false') throw new FlagError(`invalid ${shown} ${JSON.stringify(value)}: expected true or false`, { hint: help });
      if (value === 'false') {
        out.bools.delete(spec.name);
        out.offs?.add(spec.name);
      } else {
        out.bools.add(spec.name);
        out.offs?.delete(spec.name);
      }
    } else if (value === undefined) {
      throw new FlagError(`flag needs an argument: ${shown}`, { hint: help });
    } else if (spec.kind === 'value') {
      out.values.set(spec.name, value);
    } else {
      out.lists.set(spec.name, [...(out.lists.get(spec.name) ?? []), value]);
    }
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') { out.args.push(...argv.slice(i + 1)); break; }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      const spec = byLong.get(name);
      if (!spec) throw new FlagError(`unknown flag: --${name}`, { hint: help });
      let value = eq < 0 ? undefined : a.slice(eq + 1);
      if (value === undefined && spec.kind !== 'bool') value = argv[++i];
      set(spec, value, `--${name}`);
    } else if (a.startsWith('-') && a.length > 1) {
      // Short flags: bundled switches (-aq), or one that takes the rest or the next argument (-p80:80, -p 80:80).
      for (let j = 1; j < a.length; j++) {
        const spec = byShort.get(a[j]);
        if (!spec) throw new FlagError(`unknown shorthand flag: '${a[j]}' in ${a}`, { hint: help });
        if (spec.kind === 'bool') { set(spec, undefined, `-${a[j]}`); continue; }
        const rest = a.slice(j + 1);
        set(spec, rest !== '' ? rest.replace(/^=/, '') : argv[++i], `-${a[j]}`);
        break;
      }
    } else {
      out.args.push(a);
      if (opts.stopAtPositional) { out.args.push(...argv.slice(i + 1)); break; }
    }
  }
  return out;
}
