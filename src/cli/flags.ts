/**
 * `skiff server` flags, named and layered like k3s (k3s-io/docs: docs/cli/server.md,
 * docs/installation/configuration.md): every flag can come from the command line, from a `SKIFF_*`
 * environment variable, or from a YAML config file whose keys are the flag names without dashes.
 * Precedence: flag > environment > config file > default. A repeatable flag given at a higher level
 * replaces the lower level's list rather than merging with it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';

/** Everything `skiff server` needs from its flags, resolved and validated. */
export interface ServerConfig {
  /** Absolute path of the data directory (certificates, token, database). */
  dataDir: string;
  /** Port of the HTTPS API; 0 picks a free port (tests). */
  httpsListenPort: number;
  /** IP address to listen on. */
  bindAddress: string;
  /** IP address advertised to agents and put in the `kubernetes` endpoints; undefined = pick one at start. */
  advertiseAddress?: string;
  /** Store URL: `sqlite://<file>`, `memory://`, `etcd://…`. */
  datastoreEndpoint: string;
  /** Absolute path where the admin kubeconfig is written. */
  writeKubeconfig: string;
  /** File mode of the kubeconfig, e.g. 0o600. */
  writeKubeconfigMode: number;
  /** Cluster token (bare or K10 form); undefined = use the persisted one or generate one. */
  token?: string;
  /** Run without the embedded agent (control plane only). */
  disableAgent: boolean;
  /** Name of this node; lower-cased hostname by default, as k3s does. */
  nodeName: string;
  /** Extra names/addresses for the serving certificate. */
  tlsSan: string[];
  /** Controllers (by name, e.g. `deployment`, `scheduler`) and packaged components not to run (k3s `--disable`). */
  disable: string[];
  /** Simulated nodes to register (kwok-style, for tests, benchmarks and capacity planning); 0 = none. */
  simulateNodes: number;
  /** Capacity of each simulated node, e.g. { cpu: '32', memory: '256Gi', pods: '110' }. */
  simulateNodeCapacity: Record<string, string>;
  /** How long a simulated pod stays Pending after it is bound before it is Running and Ready. */
  simulatePodReadyDelayMs: number;
  /** A node whose Lease is older than this is NotReady (Ready=Unknown); kube-controller-manager default 40 s. */
  nodeMonitorGracePeriodMs: number;
  /** tolerationSeconds of the default not-ready / unreachable tolerations added to pods (default 300). */
  defaultNotReadyTolerationSeconds: number;
  defaultUnreachableTolerationSeconds: number;
  debug: boolean;
  /** The config file that was read, if any. */
  configFile?: string;
  /** `--help` was given: print serverHelp() and exit; the other fields then hold defaults only. */
  help: boolean;
}

/** Facts about the machine that decide defaults; injectable so tests do not depend on who runs them. */
export interface HostFacts {
  uid: number;
  home: string;
  hostname: string;
  /** Read when no --config / SKIFF_CONFIG_FILE is given, if it exists. */
  defaultConfigFile: string;
}

/** A flag, environment variable or config key with a bad value, or an unknown flag. */
export class FlagError extends Error {
  constructor(
    message: string,
    /** The flag concerned, as `--name`. */
    readonly flag: string,
    /** The offending value, when there is one. */
    readonly value?: string,
  ) {
    super(message);
    this.name = 'FlagError';
  }
}

type FlagKind = 'string' | 'boolean' | 'list';

interface FlagSpec {
  name: string;
  short?: string;
  kind: FlagKind;
  env: string;
  /** Placeholder for the value in help output. */
  arg?: string;
  usage: string;
  /** The default as shown in help. */
  defaultText?: string;
}

export const DEFAULT_CONFIG_FILE = '/etc/skiff/config.yaml';

/** The catalogue, in help order. Environment names copy k3s where k3s has one (K3S_TOKEN, K3S_KUBECONFIG_MODE, ...). */
const FLAGS: FlagSpec[] = [
  { name: 'config', short: 'c', kind: 'string', env: 'SKIFF_CONFIG_FILE', arg: 'FILE', usage: 'Load configuration from FILE (YAML; keys are flag names)', defaultText: `${DEFAULT_CONFIG_FILE} if it exists` },
  { name: 'data-dir', short: 'd', kind: 'string', env: 'SKIFF_DATA_DIR', arg: 'DIR', usage: 'Folder for state: certificates, token, database', defaultText: '/var/lib/skiff as root, ~/.local/share/skiff otherwise' },
  { name: 'https-listen-port', kind: 'string', env: 'SKIFF_HTTPS_LISTEN_PORT', arg: 'PORT', usage: 'HTTPS listen port of the API server (0 = any free port)', defaultText: '6443' },
  { name: 'bind-address', kind: 'string', env: 'SKIFF_BIND_ADDRESS', arg: 'IP', usage: 'IP address the API server listens on', defaultText: '0.0.0.0' },
  { name: 'advertise-address', kind: 'string', env: 'SKIFF_ADVERTISE_ADDRESS', arg: 'IP', usage: 'IP address agents and in-cluster clients use to reach the API server', defaultText: 'node address' },
  { name: 'datastore-endpoint', kind: 'string', env: 'SKIFF_DATASTORE_ENDPOINT', arg: 'URL', usage: 'Store: sqlite://FILE, memory://, or etcd://HOST:PORT', defaultText: 'sqlite://<data-dir>/server/db/state.db' },
  { name: 'write-kubeconfig', short: 'o', kind: 'string', env: 'SKIFF_KUBECONFIG_OUTPUT', arg: 'FILE', usage: 'Write the admin kubeconfig to FILE', defaultText: '<data-dir>/kubeconfig.yaml' },
  { name: 'write-kubeconfig-mode', kind: 'string', env: 'SKIFF_KUBECONFIG_MODE', arg: 'MODE', usage: 'Octal file mode of the kubeconfig, e.g. 644', defaultText: '600' },
  { name: 'token', short: 't', kind: 'string', env: 'SKIFF_TOKEN', arg: 'TOKEN', usage: 'Cluster token for agents and admin access (bare or K10… form)', defaultText: 'generated and kept in <data-dir>/server/token' },
  { name: 'disable-agent', kind: 'boolean', env: 'SKIFF_DISABLE_AGENT', usage: 'Do not run the embedded agent', defaultText: 'false' },
  { name: 'node-name', kind: 'string', env: 'SKIFF_NODE_NAME', arg: 'NAME', usage: 'Node name', defaultText: 'hostname, lower-cased' },
  { name: 'tls-san', kind: 'list', env: 'SKIFF_TLS_SAN', arg: 'NAME', usage: 'Extra hostname or IP in the serving certificate (repeatable, or comma-separated)' },
  { name: 'disable', kind: 'list', env: 'SKIFF_DISABLE', arg: 'NAME', usage: 'Do not run this controller (e.g. deployment, scheduler) or component (repeatable, or comma-separated)' },
  { name: 'simulate-nodes', kind: 'string', env: 'SKIFF_SIMULATE_NODES', arg: 'N', usage: 'Register N simulated nodes whose pods run through a simulated lifecycle (no containers)', defaultText: '0' },
  { name: 'simulate-node-capacity', kind: 'string', env: 'SKIFF_SIMULATE_NODE_CAPACITY', arg: 'LIST', usage: 'Capacity of each simulated node, e.g. cpu=32,memory=256Gi,pods=110', defaultText: 'cpu=32,memory=256Gi,pods=110' },
  { name: 'simulate-pod-ready-delay', kind: 'string', env: 'SKIFF_SIMULATE_POD_READY_DELAY', arg: 'DURATION', usage: 'Time a simulated pod takes from bound to Running and Ready (e.g. 0s, 500ms, 2s)', defaultText: '1s' },
  { name: 'node-monitor-grace-period', kind: 'string', env: 'SKIFF_NODE_MONITOR_GRACE_PERIOD', arg: 'DURATION', usage: 'A node silent for this long is marked NotReady (e.g. 40s, 1m)', defaultText: '40s' },
  { name: 'default-not-ready-toleration-seconds', kind: 'string', env: 'SKIFF_DEFAULT_NOT_READY_TOLERATION_SECONDS', arg: 'SECONDS', usage: 'tolerationSeconds of the not-ready toleration added to every pod', defaultText: '300' },
  { name: 'default-unreachable-toleration-seconds', kind: 'string', env: 'SKIFF_DEFAULT_UNREACHABLE_TOLERATION_SECONDS', arg: 'SECONDS', usage: 'tolerationSeconds of the unreachable toleration added to every pod', defaultText: '300' },
  { name: 'debug', kind: 'boolean', env: 'SKIFF_DEBUG', usage: 'Verbose logging', defaultText: 'false' },
  { name: 'help', short: 'h', kind: 'boolean', env: '', usage: 'Show this help' },
];

const BY_NAME = new Map(FLAGS.map((f) => [f.name, f]));

type RawValue = string | boolean | string[];
type Source = 'flag' | 'env' | 'config';

interface Raw {
  value: RawValue;
  source: Source;
}

/**
 * Resolves the server configuration from `argv` (the arguments after `skiff server`), the environment
 * and the config file. Throws FlagError naming the flag and value for unknown flags and bad values.
 * With `--help`, nothing else is read or validated: k3s once failed to print help when its config
 * file was unreadable (k3s-io/k3s#7272), and help must always work.
 */
export function parseServerFlags(argv: string[], env: NodeJS.ProcessEnv, host: Partial<HostFacts> = {}): ServerConfig {
  const facts: HostFacts = {
    uid: host.uid ?? process.getuid?.() ?? -1,
    home: host.home ?? env.HOME ?? homedir(),
    hostname: host.hostname ?? hostname(),
    defaultConfigFile: host.defaultConfigFile ?? DEFAULT_CONFIG_FILE,
  };
  if (wantsHelp(argv)) return resolveConfig(new Map(), facts, undefined, true);
  const cli = parseCommandLine(argv);

  const layered = new Map<string, Raw>();
  const explicitConfig = cli.get('config')?.value ?? nonEmpty(env.SKIFF_CONFIG_FILE);
  const configFile = typeof explicitConfig === 'string' ? explicitConfig : existsSync(facts.defaultConfigFile) ? facts.defaultConfigFile : undefined;
  if (configFile !== undefined) {
    for (const [name, value] of readConfigFile(configFile)) layered.set(name, { value, source: 'config' });
  }
  for (const spec of FLAGS) {
    const text = spec.env === '' ? undefined : nonEmpty(env[spec.env]);
    if (text === undefined) continue;
    if (spec.kind === 'boolean') layered.set(spec.name, { value: parseBool(text, spec, 'env'), source: 'env' });
    else if (spec.kind === 'list') layered.set(spec.name, { value: splitList(text), source: 'env' });
    else layered.set(spec.name, { value: text, source: 'env' });
  }
  for (const [name, raw] of cli) layered.set(name, raw);
  return resolveConfig(layered, facts, configFile, false);
}

/** `-h`/`--help` anywhere before `--` wins over every other flag, even malformed ones. */
function wantsHelp(argv: string[]): boolean {
  for (const arg of argv) {
    if (arg === '--') return false;
    if (arg === '--help' || arg === '-h') return true;
  }
  return false;
}

function parseCommandLine(argv: string[]): Map<string, Raw> {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const f of FLAGS) {
    options[f.name] = { type: f.kind === 'boolean' ? 'boolean' : 'string', ...(f.short ? { short: f.short } : {}), ...(f.kind === 'list' ? { multiple: true } : {}) };
  }
  // Non-strict parsing hands back every token, so errors can be worded here, naming the flag.
  const { tokens } = parseArgs({ args: argv, options, strict: false, allowPositionals: true, tokens: true });
  const out = new Map<string, Raw>();
  for (const token of tokens) {
    if (token.kind === 'positional') {
      throw new FlagError(`unexpected argument ${JSON.stringify(token.value)}: skiff server takes only flags (see --help)`, '', token.value);
    }
    if (token.kind !== 'option') continue;
    const spec = BY_NAME.get(token.name);
    if (spec === undefined) throw new FlagError(`unknown flag ${token.rawName} (see 'skiff server --help')`, token.rawName);
    const flag = `--${spec.name}`;
    if (spec.kind === 'boolean') {
      // `--debug=false` is how Go CLIs (k3s) turn a boolean off explicitly.
      const value = token.value === undefined ? true : parseBool(token.value, spec, 'flag');
      out.set(spec.name, { value, source: 'flag' });
      continue;
    }
    if (token.value === undefined) throw new FlagError(`flag ${flag} needs a value`, flag);
    if (!token.inlineValue && token.value.startsWith('--') && BY_NAME.has(token.value.slice(2).split('=')[0]!)) {
      throw new FlagError(`flag ${flag} needs a value, but is followed by flag ${token.value}`, flag, token.value);
    }
    if (spec.kind === 'list') {
      const prev = out.get(spec.name)?.value;
      out.set(spec.name, { value: [...(Array.isArray(prev) ? prev : []), ...splitList(token.value)], source: 'flag' });
    } else {
      out.set(spec.name, { value: token.value, source: 'flag' });
    }
  }
  return out;
}

function readConfigFile(path: string): Map<string, RawValue> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new FlagError(`cannot read config file ${path}: ${(err as Error).message}`, '--config', path);
  }
  let doc: unknown;
  try {
    // The failsafe schema keeps every scalar as the text written, so `write-kubeconfig-mode: 0644`
    // stays "0644" instead of becoming the decimal number 644 or 420.
    doc = parseYaml(text, { schema: 'failsafe' });
  } catch (err) {
    throw new FlagError(`config file ${path} is not valid YAML: ${(err as Error).message}`, '--config', path);
  }
  const out = new Map<string, RawValue>();
  if (doc === null || doc === undefined || doc === '') return out;
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new FlagError(`config file ${path} must be a mapping of flag names to values`, '--config', path);
  }
  for (const [key, value] of Object.entries(doc as Record<string, unknown>)) {
    const spec = BY_NAME.get(key);
    if (spec === undefined || spec.name === 'config' || spec.name === 'help') {
      throw new FlagError(`config file ${path}: unknown key ${JSON.stringify(key)} (keys are flag names without dashes, e.g. data-dir)`, `--${key}`);
    }
    const where = `${key} in ${path}`;
    if (spec.kind === 'list') {
      if (typeof value === 'string') out.set(key, splitList(value));
      else if (Array.isArray(value) && value.every((v) => typeof v === 'string')) out.set(key, value.flatMap(splitList));
      else throw new FlagError(`invalid value for ${where}: expected a string or a list of strings`, `--${key}`);
    } else if (typeof value !== 'string') {
      throw new FlagError(`invalid value for ${where}: expected a single value, not a ${Array.isArray(value) ? 'list' : 'mapping'}`, `--${key}`);
    } else if (spec.kind === 'boolean') {
      out.set(key, parseBool(value, spec, 'config', path));
    } else {
      out.set(key, value);
    }
  }
  return out;
}

function resolveConfig(raw: Map<string, Raw>, facts: HostFacts, configFile: string | undefined, help: boolean): ServerConfig {
  const str = (name: string): { text: string; where: Where } | undefined => {
    const r = raw.get(name);
    if (r === undefined || typeof r.value !== 'string') return undefined;
    return { text: r.value, where: { flag: `--${name}`, text: describe(BY_NAME.get(name)!, r.source, configFile) } };
  };
  const list = (name: string): string[] => {
    const v = raw.get(name)?.value;
    return Array.isArray(v) ? v : [];
  };
  const bool = (name: string): boolean => raw.get(name)?.value === true;

  const dataDirRaw = str('data-dir');
  const dataDir = resolve(dataDirRaw?.text || defaultDataDir(facts));

  const portRaw = str('https-listen-port');
  const httpsListenPort = portRaw === undefined ? 6443 : parsePort(portRaw.text, portRaw.where);

  const bindRaw = str('bind-address');
  const bindAddress = bindRaw === undefined ? '0.0.0.0' : requireIp(bindRaw.text, bindRaw.where);

  const advRaw = str('advertise-address');
  const advertiseAddress = advRaw === undefined ? undefined : requireIp(advRaw.text, advRaw.where);

  const dsRaw = str('datastore-endpoint');
  const datastoreEndpoint = dsRaw === undefined ? `sqlite://${join(dataDir, 'server', 'db', 'state.db')}` : requireUrl(dsRaw.text, dsRaw.where);

  const kcRaw = str('write-kubeconfig');
  const writeKubeconfig = resolve(kcRaw?.text || join(dataDir, 'kubeconfig.yaml'));

  const modeRaw = str('write-kubeconfig-mode');
  const writeKubeconfigMode = modeRaw === undefined ? 0o600 : parseMode(modeRaw.text, modeRaw.where);

  const tokenRaw = str('token');
  const token = tokenRaw?.text === '' ? undefined : tokenRaw?.text;

  const nodeRaw = str('node-name');
  const nodeName = nodeRaw === undefined ? facts.hostname.toLowerCase() : requireNodeName(nodeRaw.text, nodeRaw.where);

  const simRaw = str('simulate-nodes');
  const simulateNodes = simRaw === undefined ? 0 : parseCount(simRaw.text, simRaw.where);
  const capRaw = str('simulate-node-capacity');
  const simulateNodeCapacity = capRaw === undefined ? { cpu: '32', memory: '256Gi', pods: '110' } : parseCapacity(capRaw.text, capRaw.where);
  const prRaw = str('simulate-pod-ready-delay');
  const simulatePodReadyDelayMs = prRaw === undefined ? 1000 : parseDuration(prRaw.text, prRaw.where);
  const gpRaw = str('node-monitor-grace-period');
  const nodeMonitorGracePeriodMs = gpRaw === undefined ? 40_000 : parseDuration(gpRaw.text, gpRaw.where);
  const nrRaw = str('default-not-ready-toleration-seconds');
  const defaultNotReadyTolerationSeconds = nrRaw === undefined ? 300 : parseCount(nrRaw.text, nrRaw.where);
  const unRaw = str('default-unreachable-toleration-seconds');
  const defaultUnreachableTolerationSeconds = unRaw === undefined ? 300 : parseCount(unRaw.text, unRaw.where);

  return {
    dataDir,
    httpsListenPort,
    bindAddress,
    ...(advertiseAddress !== undefined ? { advertiseAddress } : {}),
    datastoreEndpoint,
    writeKubeconfig,
    writeKubeconfigMode,
    ...(token !== undefined ? { token } : {}),
    disableAgent: bool('disable-agent'),
    nodeName,
    tlsSan: list('tls-san'),
    disable: list('disable'),
    simulateNodes,
    simulateNodeCapacity,
    simulatePodReadyDelayMs,
    nodeMonitorGracePeriodMs,
    defaultNotReadyTolerationSeconds,
    defaultUnreachableTolerationSeconds,
    debug: bool('debug'),
    ...(configFile !== undefined ? { configFile } : {}),
    help,
  };
}

function defaultDataDir(facts: HostFacts): string {
  return facts.uid === 0 ? '/var/lib/skiff' : join(facts.home, '.local', 'share', 'skiff');
}

/** How to name where a value came from, so the user can find and fix it. */
function describe(spec: FlagSpec, source: Source, configFile: string | undefined): string {
  if (source === 'env') return `${spec.env} (--${spec.name})`;
  if (source === 'config') return `${spec.name} in ${configFile}`;
  return `--${spec.name}`;
}

/** The flag a value belongs to, and how to name its source in a message. */
interface Where {
  flag: string;
  text: string;
}

function fail(where: Where, value: string, why: string): never {
  throw new FlagError(`invalid value ${JSON.stringify(value)} for ${where.text}: ${why}`, where.flag, value);
}

function parsePort(text: string, where: Where): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) fail(where, text, 'must be a port number from 0 to 65535');
  return Number(text);
}

function parseCount(text: string, where: Where): number {
  if (!/^\d{1,9}$/.test(text)) fail(where, text, 'must be a whole number');
  return Number(text);
}

/** Go-style durations as kube-controller-manager takes them: 40s, 500ms, 1m30s, 2h. */
function parseDuration(text: string, where: Where): number {
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) fail(where, text, 'must be a duration like 40s, 500ms or 1m30s');
  return Math.round(parts.reduce((ms, p) => ms + Number(p[1]) * unit[p[2]], 0));
}

/** `cpu=32,memory=256Gi,pods=110`: resource names and quantities. */
function parseCapacity(text: string, where: Where): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of text.split(',')) {
    const m = /^([a-z0-9./-]+)=([0-9.]+[a-zA-Z]*)$/.exec(item.trim());
    if (!m) fail(where, text, 'must be a list like cpu=32,memory=256Gi,pods=110');
    out[m![1]] = m![2];
  }
  return out;
}

function parseMode(text: string, where: Where): number {
  // k3s takes the mode as octal text ("644"); a leading 0 ("0644") is accepted too.
  if (!/^0?[0-7]{3}$/.test(text)) fail(where, text, 'must be an octal file mode like 600 or 644');
  return parseInt(text, 8);
}

function requireIp(text: string, where: Where): string {
  if (isIP(text) === 0) fail(where, text, 'must be an IPv4 or IPv6 address');
  return text;
}

function requireUrl(text: string, where: Where): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) fail(where, text, 'must be a URL such as sqlite:///path/state.db, memory:// or etcd://host:2379');
  return text;
}

function requireNodeName(text: string, where: Where): string {
  // Node names are DNS subdomains (RFC 1123), as the API server validates them.
  if (text.length > 253 || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(text)) {
    fail(where, text, 'must be a lower-case DNS subdomain (letters, digits, "-" and ".")');
  }
  return text;
}

/** Accepts what Go's strconv.ParseBool accepts, since k3s users write those. */
function parseBool(text: string, spec: FlagSpec, source: Source, configFile?: string): boolean {
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(text)) return false;
  return fail({ flag: `--${spec.name}`, text: describe(spec, source, configFile) }, text, 'must be true or false');
}

function splitList(text: string): string[] {
  return text.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/** The `skiff server --help` text: every flag with its environment variable and default. */
export function serverHelp(): string {
  const rows = FLAGS.map((f) => {
    const names = `${f.short ? `-${f.short}, ` : '    '}--${f.name}${f.arg ? ` ${f.arg}` : ''}`;
    const notes = [f.env ? `$${f.env}` : '', f.defaultText ? `default: ${f.defaultText}` : ''].filter((s) => s !== '').join('; ');
    return { names, text: notes === '' ? f.usage : `${f.usage} [${notes}]` };
  });
  const width = Math.max(...rows.map((r) => r.names.length)) + 2;
  return [
    'Usage: skiff server [flags]',
    '',
    'Runs the API server, store, scheduler and controllers, and an embedded agent unless --disable-agent.',
    'Values come from flags, then SKIFF_* environment variables, then the config file, then defaults.',
    '',
    'Flags:',
    ...rows.map((r) => `  ${r.names.padEnd(width)}${r.text}`),
    '',
  ].join('\n');
}
