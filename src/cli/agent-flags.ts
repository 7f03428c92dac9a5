/** `skiff agent`'s configuration, resolved from the same flag catalogue as the server's. */
import type { LogFormat } from '../log/logger.js';
import { FlagError } from './flag-error.js';
import { commandHelp } from './flag-help.js';
import { parseFlags, type HostFacts } from './flag-parser.js';

export interface AgentConfig {
  /** https://HOST:PORT of the server, without a trailing slash. */
  server: string;
  token: string;
  /** Simulated nodes to register (>= 1: the agent runs no real containers yet). */
  simulate: number;
  /** Prefix of the simulated nodes' names. */
  nodeName: string;
  simulateNodeCapacity: Record<string, string>;
  simulatePodReadyDelayMs: number;
  debug: boolean;
  logFormat: LogFormat;
  configFile?: string;
  notices: string[];
  /** `--help` was given: print agentHelp() and exit; the other fields are then empty. */
  help: boolean;
}

/** Resolves `skiff agent`'s flags; throws FlagError naming a missing or bad flag. */
export function parseAgentFlags(argv: string[], env: NodeJS.ProcessEnv, host: Partial<HostFacts> = {}): AgentConfig {
  const parsed = parseFlags('agent', argv, env, host);
  const v = parsed.values;
  const config: AgentConfig = {
    server: (v.get('server') as string | undefined) ?? '',
    token: (v.get('token') as string | undefined) ?? '',
    simulate: (v.get('simulate') as number | undefined) ?? 0,
    nodeName: (v.get('node-name') as string | undefined) ?? parsed.host.hostname.toLowerCase(),
    simulateNodeCapacity: v.get('simulate-node-capacity') as Record<string, string>,
    simulatePodReadyDelayMs: v.get('simulate-pod-ready-delay') as number,
    debug: v.get('debug') as boolean,
    logFormat: v.get('log-format') as LogFormat,
    ...(parsed.configFile !== undefined ? { configFile: parsed.configFile } : {}),
    notices: parsed.notices,
    help: parsed.help,
  };
  if (config.help) return config;
  if (config.server === '') throw new FlagError('flag --server is required: the https:// URL of a skiff server, e.g. https://10.0.0.1:6443 [$SKIFF_URL]', '--server');
  if (config.token === '') throw new FlagError("flag --token is required: the cluster token, from the server's <data-dir>/server/token [$SKIFF_TOKEN]", '--token');
  if (config.simulate < 1) {
    throw new FlagError(`flag --simulate is required: a number of simulated nodes >= 1 (got ${config.simulate}); the agent runs no real containers yet`, '--simulate', String(config.simulate));
  }
  return config;
}

/** The `skiff agent --help` text. */
export function agentHelp(): string {
  return commandHelp('agent');
}
