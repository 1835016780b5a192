import * as fs from 'node:fs';
import { InvalidArgumentError } from '../types/errors';

/** One line a container wrote. */
export interface LogEntry {
  stream: 'stdout' | 'stderr';
  /** RFC 3339 UTC timestamp with nanoseconds, as the monitor wrote it. */
  time: string;
  line: string;
}

/** What `logs` shows: the last `tail` lines, those at or after `since`, and new ones while `follow`. */
export interface LogOptions {
  follow?: boolean;
  tail?: number;
  /** Only lines at or after this time (ms since the epoch). */
  sinceMs?: number;
  pollMs?: number;
}

/** Parses a CRI log line; P (partial) lines are joined with the line that follows them. */
export function parseLogLines(text: string, carry: { partial?: LogEntry }): LogEntry[] {
  const out: LogEntry[] = [];
  for (const raw of text.split('\n')) {
    if (raw === '') continue;
    const a = raw.indexOf(' ');
    const b = raw.indexOf(' ', a + 1);
    const c = raw.indexOf(' ', b + 1);
    if (a < 0 || b < 0 || c < 0) continue;
    const stream = raw.slice(a + 1, b) === 'stderr' ? 'stderr' : 'stdout';
    const entry: LogEntry = { stream, time: raw.slice(0, a), line: raw.slice(c + 1) };
    if (carry.partial) {
      entry.line = carry.partial.line + entry.line;
      entry.time = carry.partial.time;
      carry.partial = undefined;
    }
    if (raw.slice(b + 1, c) === 'P') carry.partial = entry;
    else out.push(entry);
  }
  return out;
}

/** Milliseconds since the epoch of an RFC 3339 nano timestamp. */
export function logTimeMs(time: string): number {
  return Date.parse(time.replace(/\.(\d{3})\d*Z$/, '.$1Z'));
}

/** Formats an entry for a terminal, with or without its timestamp. */
export function formatLogEntry(e: LogEntry, timestamps: boolean): string {
  return timestamps ? `${e.time} ${e.line}` : e.line;
}

/**
 * Reads a container's log: rotated files oldest first, then the current one; with follow,
 * keeps reading what is appended until `done()` says the container has exited and the file
 * has been read to its end.
 */
export async function* readLogs(logPath: string, maxFiles: number, opts: LogOptions, done: () => boolean): AsyncGenerator<LogEntry> {
  if (opts.tail !== undefined && (!Number.isInteger(opts.tail) || opts.tail < 0)) throw new InvalidArgumentError(`tail must be a non-negative integer, got ${opts.tail}`);
  const keep = (e: LogEntry): boolean => opts.sinceMs === undefined || logTimeMs(e.time) >= opts.sinceMs;
  const carry: { partial?: LogEntry } = {};
  let backlog: LogEntry[] = [];
  for (let i = maxFiles; i >= 1; i--) {
    try {
      backlog.push(...parseLogLines(fs.readFileSync(`${logPath}.${i}`, 'utf8'), carry).filter(keep));
    } catch {
      /* no such rotated file */
    }
  }
  let pos = 0;
  let ino = -1;
  const readNew = (): LogEntry[] => {
    let fd: number;
    try {
      fd = fs.openSync(logPath, 'r');
    } catch {
      return [];
    }
    try {
      const st = fs.fstatSync(fd);
      // Rotated under us: the new file starts from 0.
      if (st.ino !== ino) { ino = st.ino; pos = 0; }
      if (st.size <= pos) return [];
      const buf = Buffer.alloc(st.size - pos);
      const n = fs.readSync(fd, buf, 0, buf.length, pos);
      const text = buf.subarray(0, n).toString('utf8');
      const end = text.lastIndexOf('\n') + 1;
      pos += Buffer.byteLength(text.slice(0, end));
      return parseLogLines(text.slice(0, end), carry).filter(keep);
    } finally {
      fs.closeSync(fd);
    }
  };
  backlog.push(...readNew());
  if (opts.tail !== undefined) backlog = opts.tail === 0 ? [] : backlog.slice(-opts.tail);
  yield* backlog;
  if (!opts.follow) return;
  for (;;) {
    const finished = done();
    for (const e of readNew()) yield e;
    if (finished) return;
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 100));
  }
}
