import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { runsCreated } from './harness/test-run';

// Root-level hook: after every cluster test of this process, no run may have left anything
// behind (namespaces, links, processes, mounts, cgroups, directories).
after('cluster tests leave nothing behind', () => {
  const found: string[] = [];
  for (const t of runsCreated()) {
    t.teardown();
    found.push(...t.leftovers());
  }
  const links = fs.readdirSync('/sys/class/net').filter((l) => runsCreated().some((t) => l.includes(t.net.prefix)));
  found.push(...links.map((l) => `root-namespace link ${l}`));
  assert.deepEqual(found, [], `left behind by the cluster tests:\n${found.join('\n')}`);
});
