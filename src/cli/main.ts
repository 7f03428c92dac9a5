/** The `skiff` command: `skiff server [flags]` and `skiff agent [flags]`. */
import { configureLogging, createLogger, type LogFormat } from '../log/logger.js';
import { agentHelp, parseAgentFlags, type AgentConfig } from './agent-flags.js';
import { FlagError } from './flag-error.js';
import { parseServerFlags, serverHelp, type ServerConfig } from './flags.js';

const USAGE = `Usage: skiff <command> [flags]

Commands:
  server    Run the control plane (API server, store, controllers, scheduler) on this machine
  agent     Join a server as a node (skiff agent --server URL --token TOKEN)
  images    Import image archives for offline nodes (skiff images import FILE [--data-dir DIR])
  kubeconfig
            Issue a client-certificate kubeconfig for a user (skiff kubeconfig --user NAME [--group G]...
            [--expiration D] [-o FILE] [--server URL] [--data-dir DIR])
  certificate
            The certificates in the data dir and their expiry; renew them all at the next start (skiff
            certificate check|rotate [--data-dir DIR])
  secrets-encrypt
            Secrets encryption at rest of a server run with --secrets-encryption (skiff secrets-encrypt
            status|rotate-keys|reencrypt [--data-dir DIR])

Run 'skiff server --help', 'skiff agent --help' or 'skiff kubeconfig --help' for their flags.
`;

const log = createLogger('skiff');

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE);
    return command === undefined ? 1 : 0;
  }
  if (command === 'images') return imagesCommand(rest);
  if (command === 'kubeconfig') {
    const { kubeconfigCommand } = await import('./kubeconfig-command.js');
    return kubeconfigCommand(rest, { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) });
  }
  if (command === 'certificate') {
    const { certificateCommand } = await import('./certificate-command.js');
    return certificateCommand(rest, { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) });
  }
  if (command === 'secrets-encrypt') {
    const { secretsEncryptCommand } = await import('./secrets-encrypt-command.js');
    return secretsEncryptCommand(rest, { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) });
  }
  if (command !== 'server' && command !== 'agent') {
    process.stderr.write(`skiff: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
    return 1;
  }
  // Before the agent's modules load, which grow V8's young generation (agent/agent-v8-flags.ts).
  if (command === 'agent') (await import('../agent/agent-v8-flags.js')).applyAgentV8Flags();
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

const IMAGES_USAGE = `Usage: skiff images import FILE... [--data-dir DIR] [--container-runtime-endpoint ENDPOINT]

Imports docker-save or OCI archives into the node's containerd (namespace k8s.io). When skiff's own containerd is not
running, the archives are copied to <data-dir>/agent/images/, which the agent imports at its next start (k3s's air-gap
convention).
`;

/** `skiff images import FILE...`: images for machines that cannot reach a registry. */
async function imagesCommand(argv: string[]): Promise<number> {
  const { parseArgs } = await import('node:util');
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { 'data-dir': { type: 'string', short: 'd' }, 'container-runtime-endpoint': { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  } catch (err) {
    process.stderr.write(`skiff images: ${(err as Error).message}\n\n${IMAGES_USAGE}`);
    return 1;
  }
  const [sub, ...files] = parsed.positionals;
  if (parsed.values.help || sub === undefined) {
    process.stdout.write(IMAGES_USAGE);
    return parsed.values.help ? 0 : 1;
  }
  if (sub !== 'import' || files.length === 0) {
    process.stderr.write(`skiff images: expected "import FILE...", got ${JSON.stringify(parsed.positionals.join(' '))}\n\n${IMAGES_USAGE}`);
    return 1;
  }
  const { defaultDataDir } = await import('./flags.js');
  const { homedir } = await import('node:os');
  const dataDir = parsed.values['data-dir'] ?? defaultDataDir({ uid: process.getuid?.() ?? 1000, home: homedir(), hostname: '', defaultConfigFile: '' });
  const { importImageCommand } = await import('../agent/runtime/cri/start-cri-runtime.js');
  for (const file of files) {
    const endpoint = parsed.values['container-runtime-endpoint'];
    const r = await importImageCommand(file, { dataDir, ...(endpoint ? { endpoint } : {}) });
    if (r.deferredTo) process.stdout.write(`${file}: containerd is not running; copied to ${r.deferredTo}, imported at the agent's next start\n`);
    else process.stdout.write(`${file}: imported ${r.images.join(', ')}\n`);
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
