import { crc32 } from 'node:zlib';
import * as fs from 'node:fs/promises';

/**
 * A high-water mark of the log kept beside LevelDB: "the log reached index N". LevelDB cannot
 * tell a write-ahead log truncated by damage from one cut by a crash before the write, so the
 * mark tells them apart: it is raised only after the write it names is durable (lazily, off the
 * Ready path) and lowered, durably, before a write shortens the log. So the log never ends
 * before the mark unless something was lost.
 */
export class LogMark {
  private wanted = 0;
  private written = 0;
  private running: Promise<void> | null = null;
  /** A failed lazy write: reported by the next lower() or close(). */
  private failure: Error | null = null;

  private constructor(private readonly file: fs.FileHandle, readonly path: string, readonly atOpen: number) {
    this.written = atOpen;
    this.wanted = atOpen;
  }

  /** Opens (or creates, at 0) the mark file; returns why it is unusable if it is damaged. */
  static async open(path: string): Promise<LogMark | string> {
    // Not 'a+': on Linux, positioned writes to a file opened for appending go to its end.
    const h = await fs.open(path, 'r+').catch(async (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
      return fs.open(path, 'w+', 0o600);
    });
    const b = Buffer.alloc(12);
    const { bytesRead } = await h.read(b, 0, 12, 0);
    if (bytesRead === 0) return new LogMark(h, path, 0);
    if (bytesRead !== 12 || crc32(b.subarray(0, 8)) !== b.readUInt32BE(8)) {
      await h.close();
      return `log mark has ${bytesRead} bytes or a bad checksum (damaged)`;
    }
    return new LogMark(h, path, b.readUInt32BE(0) * 2 ** 32 + b.readUInt32BE(4));
  }

  /** The durable log now reaches `index`: raise the mark soon, without making anyone wait. */
  raise(index: number): void {
    if (index <= this.wanted) return;
    this.wanted = index;
    this.running ??= this.drain();
  }

  /** A write is about to end the log at `index`, below the mark: lower it first, durably. */
  async lower(index: number): Promise<void> {
    await this.running;
    if (this.failure !== null) throw this.failure;
    this.wanted = index;
    await this.write(index);
  }

  async close(): Promise<void> {
    await this.running;
    await this.file.close();
    if (this.failure !== null) throw this.failure;
  }

  private async drain(): Promise<void> {
    try {
      while (this.written !== this.wanted && this.failure === null) await this.write(this.wanted);
    } catch (err) {
      this.failure = err instanceof Error ? err : new Error(String(err));
    }
    this.running = null;
  }

  private async write(index: number): Promise<void> {
    const b = Buffer.alloc(12);
    b.writeUInt32BE(Math.floor(index / 2 ** 32), 0);
    b.writeUInt32BE(index >>> 0, 4);
    b.writeUInt32BE(crc32(b.subarray(0, 8)), 8);
    // 12 bytes at offset 0, within one sector: the write replaces the mark whole or not at all.
    await this.file.write(b, 0, 12, 0);
    await this.file.datasync();
    this.written = index;
  }
}
