/** The `skiff` command: `skiff server [flags]` (more subcommands come with the agent). */
import { AGENT_HELP, AgentFlagError, parseAgentFlags, runAgent } from './agent.js';
import { FlagError, parseServerFlags, serverHelp } from './flags.js';
import { runServer } from './server.js';

const USAGE = `Usage: skiff <command> [flags]

Commands:
  server    Run the control plane (API server, store, controllers, scheduler) on this machine
  agent     Join a server with simulated nodes (skiff agent --server URL --token TOKEN --simulate N)

Run 'skiff server --help' for the server's flags.
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE);
    return command === undefined ? 1 : 0;
  }
  if (command === 'agent') return agentMain(rest);
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
  await untilSignal(() => running.stop());
  return 0;
}

async function agentMain(argv: string[]): Promise<number> {
  let config;
  try {
    config = parseAgentFlags(argv, process.env);
  } catch (err) {
    if (err instanceof AgentFlagError) {
      process.stderr.write(`skiff agent: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  if (config === 'help') {
    process.stdout.write(AGENT_HELP);
    return 0;
  }
  const agent = await runAgent(config);
  await untilSignal(() => agent.stop());
  return 0;
}

/** Resolves after SIGTERM or SIGINT once `stop` has finished. */
function untilSignal(stop: () => Promise<void>): Promise<void> {
  return new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      console.log(`skiff: received ${signal}, shutting down`);
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      stop().then(resolve, (err) => {
        console.error('skiff: error while stopping:', err);
        resolve();
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error('skiff:', err instanceof Error ? err.message : err);
    if (process.env.SKIFF_DEBUG) console.error(err);
    process.exit(1);
  },
);
