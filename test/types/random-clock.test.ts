import assert from 'node:assert/strict';
import { SeededRandom } from '../../src/types/random';
import { ManualClock } from '../../src/types/clock';

describe('SeededRandom', () => {
  it('replays the same sequence from the same seed and differs across seeds', () => {
    const a = new SeededRandom(42);
    const b = new SeededRandom(42);
    const c = new SeededRandom(43);
    const seqA = Array.from({ length: 20 }, () => a.u32());
    const seqB = Array.from({ length: 20 }, () => b.u32());
    const seqC = Array.from({ length: 20 }, () => c.u32());
    assert.deepEqual(seqA, seqB);
    assert.notDeepEqual(seqA, seqC);
  });

  it('int(n) stays in [0, n) and covers the range', () => {
    const r = new SeededRandom(7);
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) {
      const v = r.int(10);
      assert.ok(v >= 0 && v < 10 && Number.isInteger(v), `out of range: ${v}`);
      seen.add(v);
    }
    assert.equal(seen.size, 10);
    assert.throws(() => r.int(0), /positive integer, got 0/);
  });
});

describe('ManualClock', () => {
  it('fires timers in deadline order only when time reaches them, and not after cancel', () => {
    const clock = new ManualClock(1000);
    const fired: string[] = [];
    clock.setTimer(30, () => fired.push('b'));
    clock.setTimer(10, () => fired.push('a'));
    const c = clock.setTimer(20, () => fired.push('cancelled'));
    c.cancel();
    clock.advance(15);
    assert.deepEqual(fired, ['a']);
    assert.equal(clock.now(), 1015);
    clock.advance(15);
    assert.deepEqual(fired, ['a', 'b']);
  });
});
