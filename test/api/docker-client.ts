import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** What one docker CLI run did. */
export interface DockerResult { code: number; stdout: string; stderr: string }

/** The docker client on this machine (.ci/run installs one); its daemon is never started. */
export function dockerBinary(): string {
  for (const p of ['/usr/local/bin/docker', '/usr/bin/docker']) if (fs.existsSync(p)) return p;
  throw new Error('no docker client found (/usr/local/bin/docker or /usr/bin/docker): install the client only (Debian: docker.io), never start its daemon');
}

/** Runs the real docker CLI against a unix socket, with its own config dir so nothing of the host's leaks in. */
export class DockerCli {
  readonly configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-docker-config-'));
  private readonly bin = dockerBinary();

  constructor(private readonly socketPath: string) {}

  run(args: string[], timeoutMs = 120_000): Promise<DockerResult> {
    return new Promise((resolve, reject) => {
      execFile(this.bin, args, {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: this.configDir, DOCKER_HOST: `unix://${this.socketPath}`, DOCKER_CONFIG: this.configDir, DOCKER_CLI_HINTS: 'false' },
        timeout: timeoutMs,
        maxBuffer: 16 * 2 ** 20,
      }, (err, stdout, stderr) => {
        // Killed at the timeout (a follow that never ends on its own): code -1 with what it printed.
        if (err !== null && err.killed === true) return resolve({ code: -1, stdout, stderr });
        if (err !== null && typeof err.code !== 'number') return reject(new Error(`docker ${args.join(' ')}: ${err.message}\n${stderr}`));
        resolve({ code: err === null ? 0 : (err.code as number), stdout, stderr });
      });
    });
  }

  /** Runs and requires exit code 0; returns stdout. */
  async ok(...args: string[]): Promise<string> {
    const r = await this.run(args);
    if (r.code !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    return r.stdout;
  }

  cleanup(): void {
    fs.rmSync(this.configDir, { recursive: true, force: true });
  }
}

/** The rows of a docker table (header dropped), split on runs of 2+ spaces. */
export function tableRows(out: string): string[][] {
  return out.trim().split('\n').slice(1).filter((l) => l.trim() !== '').map((l) => l.trim().split(/\s{2,}/));
}
