import { ShoalError } from '../types/errors';
import { Backend } from '../api/container-backend';
import type { ApiClient } from './api-client';
import { FlagSpec, ParsedFlags } from './flags';

/** What a command gets from main: its backend (opened on first use), its streams and the process's surroundings. */
export interface CommandContext {
  backend(): Promise<Backend>;
  /** The client of shoald's local API (-H/--host, SHOAL_HOST, or the default socket). */
  api(): ApiClient;
  stdout: NodeJS.WritableStream;
  /** True when stdout is a terminal (live progress display instead of plain lines). */
  stdoutIsTTY: boolean;
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  cwd: string;
  now(): number;
  /** Registers a handler for SIGINT/SIGTERM; returns a function that unregisters it. */
  onSignal(handler: (signal: NodeJS.Signals) => void): () => void;
}

/** One CLI command: its flag table and what it does; resolves with the process exit code. */
export interface Command {
  name: string;
  usage: string;
  summary: string;
  flags: FlagSpec[];
  /** Flags after the first positional belong to it (run's container command). */
  stopAtPositional?: boolean;
  minArgs: number;
  maxArgs?: number;
  run(ctx: CommandContext, f: ParsedFlags): Promise<number>;
}

/** Exit code of docker for errors of the CLI or the daemon themselves (not the container's). */
export const cliErrorExitCode = 125;

/** A failure that exits with its own code (docker's 126 and 127 for a command that cannot be run). */
export class CommandExitError extends ShoalError {
  constructor(readonly exitCode: number, message: string, hint?: string) {
    super('FailedPrecondition', message, { hint });
  }
}
