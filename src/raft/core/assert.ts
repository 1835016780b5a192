/** An invariant that must hold; a failure is a programmer error and crashes (STYLE.md §3). */
export function invariant(cond: unknown, message: string | (() => string)): asserts cond {
  if (!cond) throw new Error(`raft invariant violated: ${typeof message === 'string' ? message : message()}`);
}
