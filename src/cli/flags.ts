/**
 * `skiff server`'s configuration, resolved from the flag catalogue (flag-catalogue.ts): flag > `SKIFF_*`
 * environment > config file > default. Defaults that depend on the machine or on other flags are computed here.
 */
import { join, resolve } from 'node:path';
import type { LogFormat } from '../log/logger.js';
import { parseFlags, type HostFacts } from './flag-parser.js';
import { commandHelp } from './flag-help.js';
import { FlagError } from './flag-error.js';
import { nodeAgentConfig, type NodeAgentConfig } from './node-agent-flags.js';

export { DEFAULT_CONFIG_FILE } from './flag-catalogue.js';
export { FlagError } from './flag-error.js';
export type { HostFacts } from './flag-parser.js';

/** Everything `skiff server` needs from its flags, resolved and validated. */
export interface ServerConfig {
  /** Absolute path of the data directory (certificates, token, database). */
  dataDir: string;
  /** Port of the HTTPS API; 0 picks a free port (tests). */
  httpsListenPort: number;
  /** IP address to listen on. */
  bindAddress: string;
  /** IP address of this server for agents and clients; added to the serving certificate. */
  advertiseAddress?: string;
  /** Store URL: `sqlite://<file>`, `memory://`, `etcd://…`, `https://…` (etcd over TLS). */
  datastoreEndpoint: string;
  /** --datastore-cafile, --datastore-certfile, --datastore-keyfile (absolute paths), for etcd over TLS. */
  datastoreTls?: { caFile?: string; certFile?: string; keyFile?: string };
  /** Absolute path where the admin kubeconfig is written. */
  writeKubeconfig: string;
  /** File mode of the kubeconfig, e.g. 0o600. */
  writeKubeconfigMode: number;
  /** Cluster token (bare or K10 form); undefined = use the persisted one or generate one. */
  token?: string;
  /** --agent-token: a token only agents join with (bare or K10 form); undefined = the persisted one, or the cluster token. */
  agentToken?: string;
  /** Extra names/addresses for the serving certificate. */
  tlsSan: string[];
  /** Controllers (by name, e.g. `deployment`, `scheduler`) and packaged components not to run (k3s `--disable`). */
  disable: string[];
  /** Read-only requests served at once before 429 (kube-apiserver --max-requests-inflight, default 400); 0 = no limit. */
  maxRequestsInflight: number;
  /** Mutating requests served at once before 429 (kube-apiserver --max-mutating-requests-inflight, default 200); 0 = no limit. */
  maxMutatingRequestsInflight: number;
  /** --disable-agent: run no embedded node agent (a control plane only). */
  disableAgent: boolean;
  /** --secrets-encryption: Secrets encrypted at rest with the keys in <data-dir>/server/cred/encryption-config.json. */
  secretsEncryption: boolean;
  /** --pod-security-admission-config-file: PodSecurity's defaults and exemptions (undefined: privileged, none). */
  podSecurityAdmissionConfigFile?: string;
  /** --audit-policy-file and the log backend; undefined: nothing is audited. */
  audit?: { policyFile: string; logPath: string; maxSizeMB: number; maxBackups: number };
  /** The embedded node agent's flags. */
  agent: NodeAgentConfig;
  /** Cluster CIDR(s) the node IPAM controller cuts node pod CIDRs from (k3s --cluster-cidr, default 10.42.0.0/16). */
  clusterCIDRs: string[];
  /** Service ClusterIP range (k3s --service-cidr, default 10.43.0.0/16); its first address is the kubernetes Service's. */
  serviceCIDR: string;
  /** The kube-dns Service's ClusterIP that pods resolve with (k3s --cluster-dns, default the 10th address of serviceCIDR). */
  clusterDNS?: string;
  /** The cluster domain (k3s --cluster-domain, default cluster.local). */
  clusterDomain?: string;
  /** NodePort range (k3s --service-node-port-range, default 30000-32767). */
  serviceNodePortRange: [number, number];
  /** Simulated nodes to register (kwok-style, for tests, benchmarks and capacity planning); 0 = none. */
  simulateNodes: number;
  /** Capacity of each simulated node, e.g. { cpu: '32', memory: '256Gi', pods: '110' }. */
  simulateNodeCapacity: Record<string, string>;
  /** How long a simulated pod stays Pending after it is bound before it is Running and Ready. */
  simulatePodReadyDelayMs: number;
  /** A node whose Lease is older than this is NotReady (Ready=Unknown); kube-controller-manager default 40 s. */
  nodeMonitorGracePeriodMs: number;
  /** Time between scrapes of the built-in metrics-server (--metric-resolution). */
  metricResolutionMs?: number;
  /** tolerationSeconds of the default not-ready / unreachable tolerations added to pods (default 300). */
  defaultNotReadyTolerationSeconds: number;
  defaultUnreachableTolerationSeconds: number;
  /** Log debug entries too. */
  debug: boolean;
  logFormat: LogFormat;
  /** The config file that was read, if any. */
  configFile?: string;
  /** Lines to log at start about flags that were accepted but change nothing yet. */
  notices: string[];
  /** `--help` was given: print serverHelp() and exit; the other fields then hold defaults only. */
  help: boolean;
}

/**
 * Resolves the server configuration from `argv` (the arguments after `skiff server`), the environment and the
 * config file. Throws FlagError naming the flag, where it was set, and the value.
 */
export function parseServerFlags(argv: string[], env: NodeJS.ProcessEnv, host: Partial<HostFacts> = {}): ServerConfig {
  const parsed = parseFlags('server', argv, env, host);
  const { values, host: facts } = parsed;
  const get = <T>(name: string): T => values.get(name) as T;
  const given = <T>(name: string): T | undefined => (values.has(name) ? (values.get(name) as T) : undefined);

  const dataDir = resolve(given<string>('data-dir') || defaultDataDir(facts));
  const token = given<string>('token');
  const agentToken = given<string>('agent-token');
  const advertiseAddress = given<string>('advertise-address');
  return {
    dataDir,
    httpsListenPort: get('https-listen-port'),
    bindAddress: get('bind-address'),
    ...(advertiseAddress !== undefined ? { advertiseAddress } : {}),
    datastoreEndpoint: given<string>('datastore-endpoint') ?? `sqlite://${join(dataDir, 'server', 'db', 'state.db')}`,
    ...(['datastore-cafile', 'datastore-certfile', 'datastore-keyfile'].some((f) => given<string>(f) !== undefined)
      ? {
          datastoreTls: {
            ...(given<string>('datastore-cafile') ? { caFile: resolve(given<string>('datastore-cafile')!) } : {}),
            ...(given<string>('datastore-certfile') ? { certFile: resolve(given<string>('datastore-certfile')!) } : {}),
            ...(given<string>('datastore-keyfile') ? { keyFile: resolve(given<string>('datastore-keyfile')!) } : {}),
          },
        }
      : {}),
    writeKubeconfig: resolve(given<string>('write-kubeconfig') || join(dataDir, 'kubeconfig.yaml')),
    writeKubeconfigMode: get('write-kubeconfig-mode'),
    ...(token ? { token } : {}),
    ...(agentToken ? { agentToken } : {}),
    tlsSan: given<string[]>('tls-san') ?? [],
    disable: given<string[]>('disable') ?? [],
    maxRequestsInflight: get('max-requests-inflight'),
    maxMutatingRequestsInflight: get('max-mutating-requests-inflight'),
    disableAgent: get('disable-agent'),
    secretsEncryption: get('secrets-encryption'),
    ...(given<string>('pod-security-admission-config-file') ? { podSecurityAdmissionConfigFile: resolve(given<string>('pod-security-admission-config-file')!) } : {}),
    ...(given<string>('audit-policy-file')
      ? {
          audit: {
            policyFile: resolve(given<string>('audit-policy-file')!),
            logPath: given<string>('audit-log-path') === '-' ? '-' : resolve(given<string>('audit-log-path') || join(dataDir, 'server', 'logs', 'audit.log')),
            maxSizeMB: get('audit-log-maxsize'),
            maxBackups: get('audit-log-maxbackup'),
          },
        }
      : {}),
    agent: nodeAgentConfig(values, facts),
    clusterCIDRs: get('cluster-cidr'),
    serviceCIDR: get('service-cidr'),
    clusterDNS: clusterDnsIP(given<string>('cluster-dns'), get('service-cidr')),
    clusterDomain: get('cluster-domain'),
    serviceNodePortRange: get('service-node-port-range'),
    simulateNodes: get('simulate-nodes'),
    simulateNodeCapacity: get('simulate-node-capacity'),
    simulatePodReadyDelayMs: get('simulate-pod-ready-delay'),
    nodeMonitorGracePeriodMs: get('node-monitor-grace-period'),
    metricResolutionMs: get('metric-resolution'),
    defaultNotReadyTolerationSeconds: get('default-not-ready-toleration-seconds'),
    defaultUnreachableTolerationSeconds: get('default-unreachable-toleration-seconds'),
    debug: get('debug'),
    logFormat: get('log-format'),
    ...(parsed.configFile !== undefined ? { configFile: parsed.configFile } : {}),
    notices: parsed.notices,
    help: parsed.help,
  };
}

/** --cluster-dns, or the 10th address of the service CIDR (10.43.0.10); it must be a ClusterIP of that range. */
export function clusterDnsIP(given: string | undefined, serviceCIDR: string): string {
  const [base, bits] = serviceCIDR.split('/');
  const toNum = (ip: string) => ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
  const start = toNum(base!);
  const size = 2 ** (32 - Number(bits));
  if (given === undefined) {
    const n = start + 10;
    return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
  }
  const n = given.includes(':') ? -1 : toNum(given);
  if (n <= start + 1 || n >= start + size - 1) {
    throw new FlagError(`invalid value ${JSON.stringify(given)} for --cluster-dns: must be an address of --service-cidr ${serviceCIDR} other than its first (the kubernetes Service's)`, '--cluster-dns', given);
  }
  return given;
}

export function defaultDataDir(facts: HostFacts): string {
  return facts.uid === 0 ? '/var/lib/skiff' : join(facts.home, '.local', 'share', 'skiff');
}

/** The `skiff server --help` text: every flag with its environment variable and default. */
export function serverHelp(): string {
  return commandHelp('server');
}
