/** Command-line arguments of the `stream-processor` command. */
export interface CliArgs {
  readonly configPath: string;
  readonly validate: boolean;
  readonly help: boolean;
}

export const DEFAULT_CONFIG_PATH = 'config/default.yaml';

export const USAGE = `Usage: stream-processor [--config <file.yaml>] [--validate] [--help]

Event-time stream processor for LLM feedback events.

Options:
  -c, --config <file>  YAML configuration (default: ${DEFAULT_CONFIG_PATH})
      --validate       check the configuration, print the effective configuration, exit
  -h, --help           show this help

Environment variables override single keys (PROCESSOR_KAFKA_BROKERS, PROCESSOR_LOG_LEVEL, …);
see the README for the full list.`;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function parseArgs(argv: readonly string[]): CliArgs {
  let configPath = DEFAULT_CONFIG_PATH;
  let validate = false;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--config' || arg === '-c') {
      const value = argv[++i];
      if (value === undefined || value.startsWith('-')) throw new UsageError(`${arg} needs a file path`);
      configPath = value;
    } else if (arg.startsWith('--config=')) {
      configPath = arg.slice('--config='.length);
    } else if (arg === '--validate') {
      validate = true;
    } else if (arg === '--help' || arg === '-h') {
      help = true;
    } else {
      throw new UsageError(`unknown argument: ${arg}`);
    }
  }
  return { configPath, validate, help };
}
