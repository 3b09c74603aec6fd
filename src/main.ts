/**
 * The `stream-processor` command: `npm start -- --config <file.yaml>`.
 * Exit codes: 0 done (input ended or stopped by a signal), 1 runtime failure,
 * 2 bad arguments or configuration.
 */
import { ConfigError, describeConfig, loadConfig } from './config/index.js';
import { USAGE, UsageError, parseArgs } from './cli/args.js';
import { createLogger } from './observability/index.js';
import { runService } from './service/service.js';

async function main(argv: readonly string[]): Promise<number> {
  let args;
  try {
    args = parseArgs(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`stream-processor: ${error.message}\n\n${USAGE}\n`);
      return 2;
    }
    throw error;
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let config;
  try {
    config = await loadConfig(args.configPath);
  } catch (error) {
    if (error instanceof ConfigError || isMissingFile(error)) {
      process.stderr.write(`stream-processor: invalid configuration\n${(error as Error).message}\n`);
      return 2;
    }
    throw error;
  }
  if (args.validate) {
    process.stdout.write(describeConfig(config));
    return 0;
  }

  const logger = createLogger({ level: config.log.level });
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stop.signal.aborted) {
      logger.warn({ signal }, 'second signal: exiting at once');
      process.exit(130);
    }
    logger.info({ signal }, 'stopping: finishing in-flight work');
    stop.abort();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  logger.info(
    { config: args.configPath, source: config.source.type, sink: config.sink.type, windows: config.windows.default_type, state: config.state.backend },
    'starting',
  );
  try {
    await runService({ config, logger, signal: stop.signal });
    return 0;
  } catch (error) {
    logger.fatal({ err: error }, 'failed');
    return 1;
  }
}

function isMissingFile(error: unknown): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === 'ENOENT';
}

const code = await main(process.argv.slice(2));
process.exitCode = code;
// Everything is flushed by now; what may still hold the event loop (a client's reconnect
// timers after a failure) must not keep a finished process alive.
setTimeout(() => process.exit(code), code === 0 ? 5_000 : 100).unref();
