#!/usr/bin/env node
import * as fs from 'node:fs';
import type * as http from 'node:http';
import * as path from 'node:path';
import { createApiServer, listenUnix } from '../api/server';
import { ShoalError } from '../types/errors';
import type { DaemonConfig } from './config';
import { Daemon } from './daemon';
import { packageVersion, parseDaemonCommand } from './flags';
import { createLogger, type ShoaldLogger } from './logger';
import { DaemonMetrics, startMetricsServer, type MetricsServer } from './metrics';
import { DaemonProcessLock } from './process-lock';

/** What a running shoald holds, released in reverse order on shutdown. */
interface Running {
  lock?: DaemonProcessLock;
  metrics?: DaemonMetrics;
  metricsServer?: MetricsServer;
  daemon?: Daemon;
  api?: http.Server;
}

/**
 * shoald: flags → logger → data-root lock and pid file → metrics endpoint → Daemon → local API
 * on the unix socket. SIGTERM/SIGINT stop it cleanly (exit 0); a second signal exits at once.
 */
async function main(argv: readonly string[]): Promise<void> {
  let cfg: DaemonConfig;
  try {
    const cmd = parseDaemonCommand(argv, process.env);
    if (cmd.kind !== 'run') {
      process.stdout.write(`${cmd.text}\n`);
      return;
    }
    cfg = cmd.config;
  } catch (err) {
    fatal(err, undefined, "see 'shoald --help'");
  }
  const logger = createLogger({ level: cfg.logLevel });
  const running: Running = {};
  process.on('uncaughtException', (err) => { releaseLock(running); fatal(err, logger); });
  process.on('unhandledRejection', (err) => { releaseLock(running); fatal(err, logger); });
  // Installed before starting: a signal during startup stops the daemon once it has started.
  const signals = handleSignals(running, logger);
  try {
    await start(cfg, logger, running);
  } catch (err) {
    await stopAll(running, logger);
    fatal(err, logger);
  }
  logger.info({ socket: cfg.socketPath, dataRoot: cfg.dataRoot, pid: process.pid, version: packageVersion(), metrics: running.metricsServer === undefined ? undefined : `http://${cfg.metricsAddr}/metrics` }, 'shoald ready');
  signals.started();
}

async function start(cfg: DaemonConfig, logger: ShoaldLogger, running: Running): Promise<void> {
  running.lock = DaemonProcessLock.acquire(cfg.dataRoot, cfg.runRoot);
  running.metrics = new DaemonMetrics();
  if (cfg.metricsAddr !== '') running.metricsServer = await startMetricsServer(cfg.metricsAddr, running.metrics.registry);
  const tuning = { bridgeName: cfg.bridgeName, bridgeSubnet: cfg.bridgeSubnet, cgroupParent: cfg.cgroupParent };
  running.daemon = await Daemon.start(cfg, { logger, metrics: running.metrics, tuning });
  const tmpDir = path.join(cfg.dataRoot, 'tmp');
  fs.mkdirSync(tmpDir, { recursive: true, mode: 0o700 });
  const api = createApiServer(running.daemon.backend, {
    engineVersion: packageVersion(),
    tmpDir,
    onRequest: (r) => (r.status >= 500 ? logger.warn(r, 'api request failed') : logger.debug(r, 'api request')),
  });
  await listenUnix(api, cfg.socketPath);
  running.api = api;
}

/**
 * SIGTERM/SIGINT: a clean stop (exit 0), deferred until startup has finished; a second signal
 * exits at once (exit 1), leaving containers to their monitors and the lock to die with us.
 */
function handleSignals(running: Running, logger: ShoaldLogger): { started(): void } {
  let pending: NodeJS.Signals | undefined;
  let isStarted = false;
  const stop = (signal: NodeJS.Signals): void => {
    logger.info({ signal }, 'shoald stopping');
    stopAll(running, logger).then(
      () => process.exit(0),
      (err: unknown) => fatal(err, logger),
    );
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (pending !== undefined) {
      logger.warn({ signal }, 'second signal: exiting without a clean shutdown');
      releaseLock(running);
      process.exit(1);
    }
    pending = signal;
    if (isStarted) stop(signal);
    else logger.info({ signal }, 'shoald will stop once started');
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return {
    started() {
      isStarted = true;
      if (pending !== undefined) stop(pending);
    },
  };
}

/** Stops what started, newest first; each part's failure is logged and the rest still stop. */
async function stopAll(running: Running, logger: ShoaldLogger): Promise<void> {
  const steps: [string, () => Promise<void> | void][] = [
    ['local API', () => closeServer(running.api)],
    ['daemon', () => running.daemon?.stop()],
    ['metrics', async () => { running.metrics?.close(); await running.metricsServer?.close(); }],
    ['pid file', () => releaseLock(running)],
  ];
  for (const [what, step] of steps) {
    try {
      await step();
    } catch (err) {
      logger.error({ err }, `stopping the ${what} failed`);
    }
  }
}

/** Stops accepting, ends open streams (events, logs --follow), and removes the socket file. */
function closeServer(server: http.Server | undefined): Promise<void> {
  if (server === undefined || !server.listening) return Promise.resolve();
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

function releaseLock(running: Running): void {
  running.lock?.release();
  running.lock = undefined;
}

/**
 * Ends the process with exit code 1. A user's mistake (a ShoalError) is one plain line of cause
 * and one of what to do, on stderr; anything else is a bug and is logged with its stack.
 */
function fatal(err: unknown, logger: ShoaldLogger | undefined, defaultHint?: string): never {
  if (ShoalError.is(err)) {
    const hint = err.hint ?? defaultHint;
    process.stderr.write(`shoald: ${err.message}\n${hint === undefined ? '' : `${hint}\n`}`);
  } else {
    if (logger !== undefined) logger.error({ err }, 'shoald crashed');
    else process.stderr.write(`shoald: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  }
  process.exit(1);
}

void main(process.argv.slice(2));
