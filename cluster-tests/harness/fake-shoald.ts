/**
 * A stand-in for shoald used by the harness self-tests (which must not depend on shoald):
 * serves GET /_ping on the --host socket, and starts one child process of its own so the
 * tests can check that kill -9 takes only the daemon and that teardown finds the orphan.
 */
import { spawn } from 'node:child_process';
import * as http from 'node:http';

const i = process.argv.indexOf('--host');
const socketPath = (process.argv[i + 1] ?? '').replace(/^unix:\/\//, '');
if (i < 0 || socketPath === '') throw new Error('fake-shoald: --host unix:///path is required');
const child = spawn('sleep', ['100000'], { stdio: 'ignore', detached: true });
child.unref();
http.createServer((req, res) => {
  if (req.url === '/_ping') res.end('OK');
  else if (req.url === '/child') res.end(String(child.pid));
  else { res.statusCode = 404; res.end(); }
}).listen(socketPath, () => console.log(`fake-shoald serving on ${socketPath}`));
