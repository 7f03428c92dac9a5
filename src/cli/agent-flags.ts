/** `skiff agent`'s configuration, resolved from the same flag catalogue as the server's. */
import { resolve } from 'node:path';
import type { LogFormat } from '../log/logger.js';
import { FlagError } from './flag-error.js';
import { commandHelp } from './flag-help.js';
import { parseFlags, type HostFacts } from './flag-parser.js';
import { defaultDataDir } from './flags.js';
import { nodeAgentConfig, type NodeAgentConfig } from './node-agent-flags.js';

export interface AgentConfig {
  /** https://HOST:PORT of the server, without a trailing slash. */
  server: string;
  token: string;
  /** Absolute path of the agent's data directory (node credentials, containerd, volumes, logs). */
  dataDir: string;
  /** > 0: register this many simulated nodes (named <node-name>-sim-<i>) instead of running a real node. */
  simulate: number;
  /** With simulate: the kubeconfig the simulated nodes act with (no join). */
  kubeconfig?: string;
  /** The node agent's flags (node name, IP, labels, taints, runtime...). */
  agent: NodeAgentConfig;
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
    dataDir: resolve((v.get('data-dir') as string | undefined) || defaultDataDir(parsed.host)),
    simulate: (v.get('simulate') as number | undefined) ?? 0,
    ...(v.get('kubeconfig') ? { kubeconfig: resolve(v.get('kubeconfig') as string) } : {}),
    agent: agentOwnConfig(nodeAgentConfig(v, parsed.host), parsed.given),
    simulateNodeCapacity: v.get('simulate-node-capacity') as Record<string, string>,
    simulatePodReadyDelayMs: v.get('simulate-pod-ready-delay') as number,
    debug: v.get('debug') as boolean,
    logFormat: v.get('log-format') as LogFormat,
    ...(parsed.configFile !== undefined ? { configFile: parsed.configFile } : {}),
    notices: parsed.notices,
    help: parsed.help,
  };
  if (config.help) return config;
  if (config.kubeconfig !== undefined && config.simulate === 0) throw new FlagError('flag --kubeconfig is for --simulate: a real node joins with --server and --token', '--kubeconfig');
  if (config.simulate > 0) {
    if (config.kubeconfig === undefined) {
      throw new FlagError(
        "flag --kubeconfig is required with --simulate: simulated nodes act with a kubeconfig that may write every simulated Node and its pods (e.g. the server's admin kubeconfig); a node's own certificate may write only its own Node",
        '--kubeconfig',
      );
    }
    return config;
  }
  if (config.server === '') throw new FlagError('flag --server is required: the https:// URL of a skiff server, e.g. https://10.0.0.1:6443 [$SKIFF_URL]', '--server');
  if (config.token === '') throw new FlagError("flag --token is required: the cluster token, from the server's <data-dir>/server/token [$SKIFF_TOKEN]", '--token');
  return config;
}

/**
 * A joined agent takes the cluster CIDR from its server (/v1-skiff/config) unless --cluster-cidr (or its env or
 * config entry) was given: the flag's default is the server's default, not this cluster's.
 */
function agentOwnConfig(a: NodeAgentConfig, given: ReadonlySet<string>): NodeAgentConfig {
  if (given.has('cluster-cidr')) return a;
  const { clusterCidrs: _default, ...rest } = a;
  return rest;
}

/** The `skiff agent --help` text. */
export function agentHelp(): string {
  return commandHelp('agent');
}
