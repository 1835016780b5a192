import { Host } from './host';

const recvJs = `
const dgram = require('dgram');
const [ip, port, ms] = process.argv.slice(1);
const s = dgram.createSocket('udp4');
let n = 0;
s.on('message', () => { n++; });
s.bind(Number(port), ip, () => console.log('ready'));
setTimeout(() => { console.log(JSON.stringify({ n })); process.exit(0); }, Number(ms));
`;

const sendJs = `
const dgram = require('dgram');
const [ip, port, count] = process.argv.slice(1);
const s = dgram.createSocket('udp4');
let left = Number(count);
const next = () => { if (left-- === 0) { s.close(); return; } s.send('x', Number(port), ip, () => setTimeout(next, 20)); };
next();
`;

/** How many of `count` UDP datagrams sent from `from` to `to`'s address arrive (one direction only). */
export async function udpDelivered(from: Host, to: Host, port: number, count = 5): Promise<number> {
  const receiver = to.spawnIn(process.execPath, ['-e', recvJs, to.ip, String(port), '1200']);
  let out = '';
  const done = new Promise<number>((resolve, reject) => {
    receiver.stdout!.on('data', (b: Buffer) => { out += b.toString(); });
    receiver.once('exit', () => {
      const m = /\{"n":(\d+)\}/.exec(out);
      if (m) resolve(Number(m[1])); else reject(new Error(`udp receiver on ${to.name} gave no count: ${out}`));
    });
  });
  const deadline = Date.now() + 5000;
  while (!out.includes('ready') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await from.exec(process.execPath, ['-e', sendJs, to.ip, String(port), String(count)]);
  return done;
}
