import { systemClock, type Clock, type TimerHandle } from '../types/clock';

/** The longest delay Node's timers take; longer ones fire at once (with a TimeoutOverflowWarning). */
const timerMsMax = 2 ** 31 - 1;

/**
 * The system clock with timers of any length (certificate renewals are weeks away): a long delay
 * is waited in steps that Node's timers can hold.
 */
export const longTimerClock: Clock = {
  now: () => systemClock.now(),
  setTimer(delayMs: number, fn: () => void): TimerHandle {
    let handle: TimerHandle;
    let cancelled = false;
    const arm = (remainingMs: number): void => {
      if (remainingMs <= timerMsMax) {
        handle = systemClock.setTimer(remainingMs, fn);
        return;
      }
      handle = systemClock.setTimer(timerMsMax, () => { if (!cancelled) arm(remainingMs - timerMsMax); });
    };
    arm(Math.max(0, delayMs));
    return { cancel: () => { cancelled = true; handle.cancel(); } };
  },
};
