import assert from 'node:assert/strict';
import { SeededRandom } from '../../../src/types/random';
import { checkLinearizable, type CheckResult, type Operation } from './linearizability';

/** A put on key k by client c over [start, end]; end null = outcome unknown. */
function put(c: number, k: string, value: string | null, start: number, end: number | null): Operation {
  return { client: c, kind: 'put', key: k, value, invokedAt: start, completedAt: end };
}

/** A get on key k by client c over [start, end] that observed value. */
function get(c: number, k: string, value: string | null, start: number, end: number | null): Operation {
  return { client: c, kind: 'get', key: k, value, invokedAt: start, completedAt: end };
}

function assertFails(result: CheckResult, key: string): string {
  assert.equal(result.ok, false, 'history should not be linearizable');
  if (result.ok) throw new Error('unreachable');
  assert.equal(result.key, key);
  return result.explanation;
}

describe('checkLinearizable', () => {
  it('accepts a sequential history', () => {
    const history = [
      get(0, 'k', null, 0, 1),
      put(0, 'k', 'a', 2, 3),
      get(1, 'k', 'a', 4, 5),
      put(1, 'k', 'b', 6, 7),
      get(0, 'k', 'b', 8, 9),
    ];
    assert.deepEqual(checkLinearizable(history), { ok: true });
  });

  it('rejects a stale read after a completed write', () => {
    const history = [put(0, 'k', 'a', 0, 1), put(0, 'k', 'b', 2, 3), get(1, 'k', 'a', 4, 5)];
    const explanation = assertFails(checkLinearizable(history), 'k');
    assert.match(explanation, /"k"/);
    assert.match(explanation, /client 1 get -> "a" \[4, 5\]/);
    assert.match(explanation, /client 0 put "b" \[2, 3\]/);
  });

  it('accepts a read concurrent with a write seeing either the old or the new value', () => {
    for (const seen of [null, 'a']) {
      const history = [put(0, 'k', 'a', 0, 10), get(1, 'k', seen, 2, 8)];
      assert.deepEqual(checkLinearizable(history), { ok: true }, `read of ${seen}`);
    }
  });

  it('treats intervals that touch (response time = invocation time) as concurrent', () => {
    const history = [put(0, 'k', 'a', 0, 5), get(1, 'k', null, 5, 6)];
    assert.deepEqual(checkLinearizable(history), { ok: true });
  });

  it('rejects a read of a value never written', () => {
    const history = [put(0, 'k', 'a', 0, 10), get(1, 'k', 'z', 2, 8)];
    const explanation = assertFails(checkLinearizable(history), 'k');
    assert.match(explanation, /get -> "z"/);
  });

  it('accepts a timed-out put whose effect is observed later', () => {
    const history = [put(0, 'k', 'a', 0, null), get(1, 'k', null, 5, 6), get(1, 'k', 'a', 50, 51)];
    assert.deepEqual(checkLinearizable(history), { ok: true });
  });

  it('accepts a timed-out put whose effect is never observed', () => {
    const history = [put(0, 'k', 'a', 0, null), get(1, 'k', null, 5, 6), get(1, 'k', null, 50, 51)];
    assert.deepEqual(checkLinearizable(history), { ok: true });
  });

  it('rejects a timed-out put observed before it was invoked', () => {
    const history = [get(1, 'k', 'a', 0, 1), put(0, 'k', 'a', 2, null)];
    assertFails(checkLinearizable(history), 'k');
  });

  it('ignores a get whose outcome is unknown', () => {
    const history = [put(0, 'k', 'a', 0, 1), get(1, 'k', 'never written', 2, null)];
    assert.deepEqual(checkLinearizable(history), { ok: true });
  });

  it('rejects two readers that see two writes in opposite orders', () => {
    // Both puts overlap all reads, but A sees 1 then 2 while B sees 2 then 1.
    const history = [
      put(0, 'k', '1', 0, 100),
      put(1, 'k', '2', 0, 100),
      get(2, 'k', '1', 10, 20),
      get(2, 'k', '2', 30, 40),
      get(3, 'k', '2', 50, 60),
      get(3, 'k', '1', 70, 80),
    ];
    assertFails(checkLinearizable(history), 'k');
  });

  it('checks keys independently', () => {
    // Each key alone is linearizable; ordering across keys adds no constraint.
    const ok = [put(0, 'x', 'a', 0, 10), get(1, 'y', 'b', 1, 2), put(2, 'y', 'b', 0, 10), get(3, 'x', null, 3, 4)];
    assert.deepEqual(checkLinearizable(ok), { ok: true });
    // A stale read on y is reported against y, whatever x does.
    const bad = [...ok, put(0, 'y', 'c', 20, 21), get(1, 'y', 'b', 22, 23), get(1, 'x', 'a', 24, 25)];
    assertFails(checkLinearizable(bad), 'y');
  });

  it('throws rather than passes when the search limit is exceeded', () => {
    // Twenty fully concurrent puts of distinct values and a read of the first: many configurations.
    const history: Operation[] = [];
    for (let c = 0; c < 20; c++) history.push(put(c, 'k', `v${c}`, 0, 100));
    history.push(get(20, 'k', 'v0', 101, 102), get(20, 'k', 'none', 103, 104));
    assert.throws(() => checkLinearizable(history, { maxStates: 50 }), /search limit exceeded for key "k"/);
  });

  it('accepts histories of a real atomic register with random overlapping intervals', () => {
    for (let seed = 1; seed <= 30; seed++) {
      const history = registerHistory(new SeededRandom(seed), 200, 5, ['a', 'b']);
      const result = checkLinearizable(history);
      assert.deepEqual(result, { ok: true }, `seed ${seed}: ${result.ok ? '' : result.explanation}`);
    }
  });

  it('rejects the same histories with one read corrupted', () => {
    for (let seed = 1; seed <= 30; seed++) {
      const random = new SeededRandom(seed);
      const history = registerHistory(random, 200, 5, ['a', 'b']);
      const reads = history.flatMap((op, i) => (op.kind === 'get' && op.completedAt !== null ? [i] : []));
      const victim = reads[random.int(reads.length)];
      history[victim] = { ...history[victim], value: 'corrupted' };
      assertFails(checkLinearizable(history), history[victim].key);
    }
  });

  it('rejects a generated history followed by a stale read of an overwritten value', () => {
    const history = registerHistory(new SeededRandom(99), 200, 5, ['a']);
    const end = Math.max(...history.map((op) => op.completedAt ?? op.invokedAt)) + 10;
    const firstPut = history.find((op) => op.kind === 'put' && op.completedAt !== null)!;
    history.push(put(0, 'a', 'fresh', end, end + 1), get(1, 'a', firstPut.value, end + 2, end + 3));
    assertFails(checkLinearizable(history), 'a');
  });

  it('checks a 500-op, 5-client history quickly', () => {
    const history = registerHistory(new SeededRandom(500), 500, 5, ['k']);
    assert.equal(history.length, 500);
    assert.deepEqual(checkLinearizable(history), { ok: true });
  });
});

/**
 * A history of `count` ops from `clients` clients on a real sequential register per key: each op
 * takes effect at a linearization point, and its interval is stretched randomly around that
 * point, so concurrent ops overlap. Puts write unique values; some time out (completedAt null) and then may or may not land.
 */
function registerHistory(random: SeededRandom, count: number, clients: number, keys: readonly string[]): Operation[] {
  const registers = new Map<string, string | null>();
  const freeAt = new Array<number>(clients).fill(0);
  const history: Operation[] = [];
  let point = 0;
  while (history.length < count) {
    point += 1 + random.int(5);
    const free = freeAt.flatMap((t, c) => (t <= point ? [c] : []));
    if (free.length === 0) continue;
    const client = random.pick(free);
    const key = random.pick(keys);
    const invokedAt = Math.max(freeAt[client], point - random.int(20));
    const timedOut = random.chance(0.05);
    const completedAt = timedOut ? null : point + random.int(20);
    // A client whose op timed out moves on after a while; its op may still land at `point`.
    freeAt[client] = completedAt ?? point + 20;
    if (random.chance(0.5)) {
      const value = `v${history.length}`;
      // A timed-out put may also never take effect.
      if (!timedOut || random.chance(0.5)) registers.set(key, value);
      history.push(put(client, key, value, invokedAt, completedAt));
    } else {
      history.push(get(client, key, registers.get(key) ?? null, invokedAt, completedAt));
    }
  }
  return history;
}
