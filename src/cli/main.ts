/** The `skiff` command: `skiff server [flags]` (more subcommands come with the agent). */
import { FlagError, parseServerFlags, serverHelp } from './flags.js';
import { runServer } from './server.js';

const USAGE = `Usage: skiff <command> [flags]

Commands:
  server    Run the control plane (API server and store) on this machine

Run 'skiff server --help' for the server's flags.
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE);
    return command === undefined ? 1 : 0;
  }
  if (command !== 'server') {
    process.stderr.write(`skiff: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
    return 1;
  }
  let config;
  try {
    config = parseServerFlags(rest, process.env);
  } catch (err) {
    if (err instanceof FlagError) {
      process.stderr.write(`skiff server: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  if (config.help) {
    process.stdout.write(serverHelp());
    return 0;
  }
  const running = await runServer(config);
  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      console.log(`skiff server: received ${signal}, shutting down`);
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      running.stop().then(resolve, (err) => {
        console.error('skiff server: error while stopping:', err);
        resolve();
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error('skiff:', err instanceof Error ? err.message : err);
    if (process.env.SKIFF_DEBUG) console.error(err);
    process.exit(1);
  },
);
