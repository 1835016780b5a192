import { spawn } from 'node:child_process';
import { ShoalError } from '../types/errors';

/** Runs a host tool (ip, iptables-restore, nsenter) with optional stdin; rejects with its stderr. */
export function runCommand(cmd: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { if (err.length < 8192) err += d; });
    child.on('error', (e) => reject(new ShoalError('Internal', `${cmd} could not run: ${e.message}`, { cause: e, hint: `install ${cmd}` })));
    child.on('close', (code) => {
      if (code === 0) resolve(out);
      else reject(new ShoalError('Internal', `${cmd} ${args.join(' ')} failed (exit ${code}): ${err.trim()}${input ? `\ninput:\n${input}` : ''}`));
    });
    if (input !== undefined) child.stdin!.end(input);
  });
}
