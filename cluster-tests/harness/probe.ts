import { ChildProcess } from 'node:child_process';
import { Host } from './host';

/** A TCP echo server (node -e) running inside a host. */
export interface EchoServer {
  readonly host: Host;
  readonly port: number;
  stop(): Promise<void>;
}

const serverJs = `
const net = require('net');
const [ip, port] = process.argv.slice(1);
// A client that gives up under packet loss resets its connection: that must not end the server.
net.createServer((s) => { s.on('error', () => s.destroy()); s.pipe(s); }).listen(Number(port), ip, () => console.log('listening'));
`;

/** Starts a TCP echo server on the host's address; resolves once it listens. */
export function startEcho(host: Host, port: number): Promise<EchoServer> {
  const child: ChildProcess = host.spawnIn(process.execPath, ['-e', serverJs, host.ip, String(port)]);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('listening')) {
        resolve({
          host, port,
          stop: () => new Promise<void>((r) => {
            if (child.exitCode !== null || child.signalCode !== null) return r();
            child.once('exit', () => r());
            child.kill('SIGKILL');
          }),
        });
      }
    });
    child.once('exit', (code) => reject(new Error(`echo server on ${host.name} exited ${code} before listening`)));
  });
}

const clientJs = `
const net = require('net');
const [ip, port, bytes, timeoutMs] = process.argv.slice(1);
const payload = Buffer.alloc(Number(bytes), 120);
const t0 = process.hrtime.bigint();
const s = net.connect({ host: ip, port: Number(port) });
let got = 0;
const timer = setTimeout(() => { console.log(JSON.stringify({ ok: false, error: 'timeout' })); process.exit(0); }, Number(timeoutMs));
s.on('connect', () => s.write(payload));
s.on('data', (b) => {
  got += b.length;
  if (got >= payload.length) {
    clearTimeout(timer);
    console.log(JSON.stringify({ ok: true, ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
    s.destroy();
  }
});
s.on('error', (e) => { clearTimeout(timer); console.log(JSON.stringify({ ok: false, error: e.code || e.message })); });
`;

/** One echo exchange of `bytes` bytes: connect, send, read it all back. */
export interface RoundTrip {
  readonly ok: boolean;
  readonly ms?: number;
  readonly error?: string;
}

/** From inside `from`, connects to ip:port, sends `bytes` bytes and waits for them back. */
export async function roundTrip(from: Host, ip: string, port: number, opts: { bytes?: number; timeoutMs?: number } = {}): Promise<RoundTrip> {
  const timeoutMs = opts.timeoutMs ?? 3000;
  const r = await from.exec(process.execPath, ['-e', clientJs, ip, String(port), String(opts.bytes ?? 16), String(timeoutMs)], { timeoutMs: timeoutMs + 10_000 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as RoundTrip;
  } catch {
    return { ok: false, error: `client failed (${r.code}): ${r.stderr.trim()}` };
  }
}
