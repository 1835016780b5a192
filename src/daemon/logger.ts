import * as fs from 'node:fs';
import * as tty from 'node:tty';
import pino from 'pino';
import { prettyFactory } from 'pino-pretty';
import type { DaemonConfig } from './config';
import type { DaemonLogger } from './daemon';

/** shoald's logger: pino's, which has the info/warn/error/debug(obj|msg, msg?) the daemon's parts use. */
export type ShoaldLogger = pino.Logger;

/** Where and how logs are written; the defaults are stderr, pretty when stderr is a terminal. */
export interface LoggerOptions {
  readonly level: DaemonConfig['logLevel'];
  /** File descriptor to write to (default 2). */
  readonly fd?: number;
  /** Readable lines instead of JSON (default: whether fd is a terminal). */
  readonly pretty?: boolean;
  /** Colours in the readable form (default: pretty and a terminal). */
  readonly colorize?: boolean;
}

/** A destination pino writes one serialized line to at a time; writes are synchronous. */
interface LineSink {
  write(line: string): void;
}

/**
 * shoald's structured logger. JSON lines (one object per line) for log collectors; on a
 * terminal the readable form of pino-pretty. Both write synchronously, in this thread: a
 * worker-thread transport could lose the last lines when the daemon exits on a fatal error.
 */
export function createLogger(opts: LoggerOptions): ShoaldLogger {
  const fd = opts.fd ?? 2;
  const tty = isTerminal(fd);
  const pretty = opts.pretty ?? tty;
  const base = { level: opts.level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime };
  if (!pretty) return pino(base, pino.destination({ fd, sync: true }));
  const format = prettyFactory({ colorize: opts.colorize ?? tty, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' });
  const sink: LineSink = { write: (line) => writeAll(fd, format(line)) };
  return pino(base, sink);
}

function isTerminal(fd: number): boolean {
  return tty.isatty(fd);
}

/**
 * writeSync may write less than asked on a pipe; EAGAIN on a non-blocking one is retried. A line
 * that cannot be written (stderr closed) is dropped: logging never takes the daemon down.
 */
function writeAll(fd: number, text: string): void {
  let buf = Buffer.from(text);
  while (buf.length > 0) {
    try {
      const n = fs.writeSync(fd, buf);
      buf = buf.subarray(n);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') return;
    }
  }
}

/** pino's Logger is what the daemon's parts log through. */
export const asDaemonLogger = (l: ShoaldLogger): DaemonLogger => l;
