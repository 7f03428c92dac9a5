/** The `skiff` command: `skiff server [flags]` and `skiff agent [flags]`. */
import { configureLogging, createLogger, type LogFormat } from '../log/logger.js';
import { agentHelp, parseAgentFlags, type AgentConfig } from './agent-flags.js';
import { FlagError } from './flag-error.js';
import { parseServerFlags, serverHelp, type ServerConfig } from './flags.js';

const USAGE = `Usage: skiff <command> [flags]

Commands:
  server    Run the control plane (API server, store, controllers, scheduler) on this machine
  agent     Join a server as a node (skiff agent --server URL --token TOKEN)

Run 'skiff server --help' or 'skiff agent --help' for their flags.
`;

const log = createLogger('skiff');

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE);
    return command === undefined ? 1 : 0;
  }
  if (command !== 'server' && command !== 'agent') {
    process.stderr.write(`skiff: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
    return 1;
  }
  let config;
  try {
    config = command === 'server' ? parseServerFlags(rest, process.env) : parseAgentFlags(rest, process.env);
  } catch (err) {
    if (err instanceof FlagError) {
      process.stderr.write(`skiff ${command}: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  if (config.help) {
    process.stdout.write(command === 'server' ? serverHelp() : agentHelp());
    return 0;
  }
  setUpLogging(config);
  for (const notice of config.notices) log.warn(notice);
  // Listen before starting: a supervisor may send SIGTERM as soon as the ready line appears.
  const signal = nextSignal();
  // Loaded only now, so that --help and flag errors answer at once, without the whole control plane.
  const running = command === 'server' ? await (await import('./server.js')).runServer(config as ServerConfig) : await (await import('./agent.js')).runAgent(config as AgentConfig);
  log.info('shutting down', { signal: await signal });
  try {
    await running.stop();
  } catch (err) {
    log.error('error while stopping', { err });
  }
  return 0;
}

function setUpLogging(config: { debug: boolean; logFormat: LogFormat }): void {
  configureLogging({ level: config.debug ? 'debug' : 'info', format: config.logFormat });
  logFormat = config.logFormat;
}

/** Until the flags are read, a fatal error is one plain line; after, it is a log entry in the chosen format. */
let logFormat: LogFormat | undefined;

/** Resolves with the first SIGTERM or SIGINT; a second one then ends the process the default way. */
function nextSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      resolve(signal);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (logFormat === undefined) process.stderr.write(`skiff: ${err instanceof Error ? err.message : String(err)}\n`);
    else log.error('failed', { err });
    process.exit(1);
  },
);
