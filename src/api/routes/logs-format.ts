import type { LogEntry } from '../../runtime/container-logs';
import { InvalidArgumentError } from '../../types/errors';
import { qBool, qInt } from '../http/io';
import { frame, STDERR, STDOUT } from '../http/stream';

/** What the logs endpoints' query asks for (Docker's ContainerLogsOptions). */
export interface LogQuery {
  stdout: boolean;
  stderr: boolean;
  follow: boolean;
  timestamps: boolean;
  details: boolean;
  tail?: number;
  sinceMs?: number;
}

/** Parses and checks the query of a logs endpoint. */
export function parseLogQuery(q: URLSearchParams): LogQuery {
  const stdout = qBool(q, 'stdout');
  const stderr = qBool(q, 'stderr');
  if (!stdout && !stderr) throw new InvalidArgumentError('Bad parameters: you must choose at least one stream');
  const tailText = q.get('tail');
  const tail = tailText === null || tailText === '' || tailText === 'all' ? undefined : qInt(q, 'tail', 0);
  const since = q.get('since');
  let sinceMs: number | undefined;
  if (since !== null && since !== '' && since !== '0') {
    if (!/^\d+(\.\d+)?$/.test(since)) throw new InvalidArgumentError(`invalid value for since: ${JSON.stringify(since)}: expected unix seconds`);
    sinceMs = Math.floor(Number(since) * 1000);
  }
  return { stdout, stderr, follow: qBool(q, 'follow'), timestamps: qBool(q, 'timestamps'), details: qBool(q, 'details'), tail, sinceMs };
}

/**
 * One log line as Docker frames it: `[<timestamp> ][<details> ]<line>\n` in a frame of its own
 * (the docker CLI relies on one line per frame); details are `k=v` pairs sorted and joined by commas.
 */
export function logFrame(e: LogEntry, q: LogQuery, details: Readonly<Record<string, string>>): Buffer | undefined {
  if ((e.stream === 'stderr' && !q.stderr) || (e.stream === 'stdout' && !q.stdout)) return undefined;
  let text = e.line.endsWith('\n') ? e.line : `${e.line}\n`;
  if (q.details) {
    const attrs = Object.keys(details).sort().map((k) => `${k}=${encodeURIComponent(details[k])}`).join(',');
    text = `${attrs} ${text}`;
  }
  if (q.timestamps) text = `${e.time} ${text}`;
  return frame(e.stream === 'stderr' ? STDERR : STDOUT, Buffer.from(text, 'utf8'));
}
