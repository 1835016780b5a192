import type * as http from 'node:http';

/** Docker's stream id of stdout in the multiplexed (non-TTY) log format. */
export const STDOUT = 1;
/** Docker's stream id of stderr in the multiplexed (non-TTY) log format. */
export const STDERR = 2;

/** One frame of Docker's multiplexed stream: [stream, 0, 0, 0, size (big-endian uint32)] then the payload. */
export function frame(stream: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

/** Starts a streamed 200 answer and sends its headers now (clients wait for them before reading). */
export function startStream(res: http.ServerResponse, contentType: string): void {
  res.writeHead(200, { 'Content-Type': contentType, 'Cache-Control': 'no-cache' });
  res.flushHeaders();
}

/** Writes a chunk, waiting for the socket to drain when its buffer is full (bounded memory per client). */
export async function writeChunk(res: http.ServerResponse, chunk: Buffer | string, signal: AbortSignal): Promise<void> {
  if (res.write(chunk)) return;
  await new Promise<void>((resolve) => {
    const done = (): void => { signal.removeEventListener('abort', done); res.off('drain', done); resolve(); };
    res.once('drain', done);
    signal.addEventListener('abort', done, { once: true });
  });
}
