// Fails the lint when imports form a cycle (STYLE.md §5: `import/no-cycle`). Our own check
// rather than eslint-plugin-import-x, whose resolver pulls platform binaries that the npm
// registry mirror here does not serve, which breaks `npm ci` on a fresh clone.
import * as fs from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';

const roots = ['src', 'test', 'bench', 'cluster-tests', 'tools'];

/** Every .ts file below the given folders, as absolute paths. */
function listSources(base: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    if (!fs.existsSync(dir)) return;
    for (const ent of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, ent.name);
      if (ent.isDirectory()) walk(p);
      else if (ent.name.endsWith('.ts') && !ent.name.endsWith('.d.ts')) out.push(p);
    }
  };
  for (const r of roots) walk(path.join(base, r));
  return out;
}

/** Relative imports of one file that are real at run time (type-only imports cannot cycle). */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, false);
  const out: string[] = [];
  for (const st of sf.statements) {
    let spec: ts.Expression | undefined;
    if (ts.isImportDeclaration(st) && st.importClause?.isTypeOnly !== true) spec = st.moduleSpecifier;
    if (ts.isExportDeclaration(st) && !st.isTypeOnly) spec = st.moduleSpecifier;
    if (spec === undefined || !ts.isStringLiteral(spec) || !spec.text.startsWith('.')) continue;
    const target = resolve(path.dirname(file), spec.text);
    if (target !== null) out.push(target);
  }
  return out;
}

function resolve(dir: string, spec: string): string | null {
  const p = path.resolve(dir, spec);
  for (const c of [p + '.ts', path.join(p, 'index.ts')]) if (fs.existsSync(c)) return c;
  return null;
}

/** Tarjan's strongly connected components; every component of more than one file is a cycle. */
function cycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next); low.set(v, next); next++;
    stack.push(v); onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) { visit(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); }
      else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const comp: string[] = [];
      let w: string;
      do { w = stack.pop()!; onStack.delete(w); comp.push(w); } while (w !== v);
      if (comp.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(comp);
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

function main(): void {
  const base = process.cwd();
  const graph = new Map<string, string[]>();
  for (const f of listSources(base)) graph.set(f, importsOf(f));
  const found = cycles(graph);
  for (const c of found) console.error(`import cycle: ${c.map((f) => path.relative(base, f)).sort().join(' <-> ')}`);
  if (found.length > 0) process.exit(1);
  console.log(`import-cycles: ${graph.size} files, no cycle`);
}

main();
