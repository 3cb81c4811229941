import type { FastifyLoggerOptions } from 'fastify';
import { buildApp } from './app.js';
import { ConfigError, loadConfig, stdoutIsTty, type AppConfig } from './config.js';

/** After SIGTERM/SIGINT, the process exits by this deadline even if something refuses to close. */
const SHUTDOWN_DEADLINE_MS = 10_000;

function loggerOptions(config: AppConfig): FastifyLoggerOptions & { transport?: unknown } {
  if (!stdoutIsTty()) return { level: config.logLevel };
  return {
    level: config.logLevel,
    transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } },
  };
}

async function main(): Promise<void> {
  let config: AppConfig;
  try {
    config = loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }

  const app = buildApp(config, { logger: loggerOptions(config) });
  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    app.log.fatal({ err: error }, 'the API could not start');
    process.stderr.write(`The API could not start: ${message}\n`);
    await app.close().catch(() => undefined);
    process.exit(1);
  }

  let stopping = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, 'shutting down: no new connections, closing sockets and the database');
    setTimeout(() => {
      app.log.error(`still closing after ${SHUTDOWN_DEADLINE_MS / 1000} s; exiting anyway`);
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS).unref();
    app.close().then(
      () => {
        app.log.info('stopped');
        process.exitCode = 0;
        // Anything still holding the event loop now is a leak; do not let it keep a stopped server alive.
        setTimeout(() => process.exit(0), 1000).unref();
      },
      (error: unknown) => {
        app.log.error({ err: error }, 'error while shutting down');
        process.exit(1);
      },
    );
  };
  // `on`, not `once`: Ctrl-C reaches this process twice (from the terminal, and relayed by a watcher such as
  // `tsx watch` or `node --watch`), and a second signal with no listener would kill it mid-shutdown.
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

await main();
