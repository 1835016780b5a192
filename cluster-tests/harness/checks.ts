import assert from 'node:assert/strict';
import { waitFor } from './exec';
import { Host } from './host';
import { DTask, Swarm } from './swarm';
import { TestRun } from './test-run';

// Assertions the scenarios share.

/**
 * Every slot 1..n has exactly one running task, and no two tasks share a container. With
 * `anySlots`, n distinct slots of any number: a scale-down removes the slots on the nodes with the
 * most tasks of the service first, preferring slots not running, so which survive depends on
 * where the tasks were (Docker's rule), not only on their numbers.
 */
export function assertOneTaskPerSlot(tasks: readonly DTask[], n: number, opts: { anySlots?: boolean } = {}): void {
  const slots = tasks.map((tk) => tk.Slot).sort((a, b) => (a ?? 0) - (b ?? 0));
  if (opts.anySlots === true) {
    assert.equal(new Set(slots).size, n, `${n} distinct slots: ${JSON.stringify(slots)}`);
    assert.ok(slots.every((x) => x !== undefined && x >= 1), `slots ${JSON.stringify(slots)}`);
  } else {
    assert.deepEqual(slots, Array.from({ length: n }, (_, i) => i + 1), `slots ${JSON.stringify(slots)}`);
  }
  const containers = new Set(tasks.map((tk) => tk.Status.ContainerStatus?.ContainerID));
  assert.equal(containers.size, n, 'one container per task');
}

/** Waits until exactly n containers live across the swarm's hosts (kernel cgroups, not shoald's word). */
export async function waitLiveContainers(t: TestRun, s: Swarm, n: number, hosts: readonly Host[] = s.hosts): Promise<void> {
  const count = (): number => hosts.reduce((sum, h) => sum + t.liveContainers(h).length, 0);
  await waitFor(`${n} live containers`, () => (count() === n ? true : undefined), {
    timeoutMs: 60_000,
    last: () => hosts.map((h) => `${h.name}:${t.liveContainers(h).length}`).join(' '),
  });
}
