import assert from 'node:assert/strict';
import { longTimerClock } from '../../src/daemon/long-timer-clock';

describe('shoald: timers weeks away (certificate renewal)', () => {
  it('a timer longer than Node can hold does not fire early, and a short one fires', async () => {
    let long = 0;
    let short = 0;
    const h = longTimerClock.setTimer(50 * 24 * 3600 * 1000, () => { long++; });
    longTimerClock.setTimer(5, () => { short++; });
    await new Promise((r) => setTimeout(r, 60));
    h.cancel();
    assert.equal(long, 0);
    assert.equal(short, 1);
  });
});
