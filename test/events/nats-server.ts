import type { JetStreamManager } from 'nats';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

/** A real nats-server (with JetStream) on a loopback port, for tests. Restartable on the same port and store. */
export class NatsServer {
  private proc: ChildProcess | undefined;
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-nats-'));

  private constructor(readonly port: number) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** Starts a server on a free loopback port; fails clearly when the binary is missing. */
  static async start(): Promise<NatsServer> {
    if (spawnSync('nats-server', ['--version']).error !== undefined) {
      throw new Error('nats-server is not installed: apt-get install -y nats-server (.ci/run installs it)');
    }
    const s = new NatsServer(await freePort());
    await s.restart();
    return s;
  }

  /** (Re)starts the server and waits until it accepts connections. */
  async restart(): Promise<void> {
    if (this.proc !== undefined) throw new Error('nats-server is already running');
    const p = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(this.port), '-js', '-sd', this.dir], { stdio: 'ignore' });
    this.proc = p;
    p.on('exit', () => { if (this.proc === p) this.proc = undefined; });
    const deadline = Date.now() + 10_000;
    while (!(await canConnect(this.port))) {
      if (this.proc !== p) throw new Error('nats-server exited while starting');
      if (Date.now() > deadline) throw new Error(`nats-server did not listen on 127.0.0.1:${this.port} within 10 s`);
      await sleep(25);
    }
  }

  /** Stops the server and waits for it to exit. */
  async stop(): Promise<void> {
    const p = this.proc;
    if (p === undefined) return;
    const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    this.proc = undefined;
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  }

  async close(): Promise<void> {
    await this.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits in real time (NATS traffic is real) until cond() holds. */
export async function eventually(cond: () => boolean, what: string, maxMs = 10_000): Promise<void> {
  const deadline = Date.now() + maxMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${maxMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/**
 * The Nats-Msg-Id of every message a JetStream stream holds, in order. Right after a restart of
 * nats-server its JetStream may not answer yet (the client reconnects, the stream is recovered
 * from disk): requests that time out are retried for up to maxMs.
 */
export async function streamMsgIds(jsm: JetStreamManager, stream: string, maxMs = 20_000): Promise<string[]> {
  const deadline = Date.now() + maxMs;
  for (;;) {
    try {
      const info = await jsm.streams.info(stream);
      const ids: string[] = [];
      for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) ids.push((await jsm.streams.getMessage(stream, { seq })).header.get('Nats-Msg-Id'));
      return ids;
    } catch (err) {
      if (Date.now() > deadline || !/TIMEOUT|503|no responders/i.test(String(err))) throw err;
      await sleep(250);
    }
  }
}
