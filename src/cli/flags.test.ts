import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FLAGS } from './flag-catalogue.js';
import { FlagError, parseServerFlags, serverHelp, type HostFacts } from './flags.js';

const DEFAULTS = {
  httpsListenPort: 6443,
  bindAddress: '0.0.0.0',
  writeKubeconfigMode: 0o600,
  tlsSan: [],
  disable: [],
  maxRequestsInflight: 400,
  maxMutatingRequestsInflight: 200,
  disableAgent: false,
  secretsEncryption: false,
  agent: { nodeName: 'build-box', nodeLabels: {}, nodeTaints: [], runtime: 'auto', pauseImage: 'registry.k8s.io/pause:3.9', privateRegistry: '/etc/skiff/registries.yaml', kubeletPort: 10250, ingressHttpPort: 80, ingressHttpsPort: 443, flannelBackend: 'auto', clusterCidrs: ['10.42.0.0/16'], cniBinDir: '/usr/lib/cni' },
  clusterCIDRs: ['10.42.0.0/16'],
  serviceCIDR: '10.43.0.0/16',
  clusterDNS: '10.43.0.10',
  clusterDomain: 'cluster.local',
  serviceNodePortRange: [30000, 32767],
  simulateNodes: 0,
  simulateNodeCapacity: { cpu: '32', memory: '256Gi', pods: '110' },
  simulatePodReadyDelayMs: 1000,
  nodeMonitorGracePeriodMs: 40_000,
  metricResolutionMs: 15_000,
  defaultNotReadyTolerationSeconds: 300,
  defaultUnreachableTolerationSeconds: 300,
  debug: false,
  logFormat: 'text',
  notices: [],
  help: false,
};

describe('parseServerFlags', () => {
  let dir: string;
  let host: Partial<HostFacts>;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'skiff-flags-'));
    // No default config file unless a test writes one: the machine's /etc/skiff must not leak in.
    host = { uid: 1000, home: '/home/ada', hostname: 'Build-Box', defaultConfigFile: join(dir, 'absent.yaml') };
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function configFile(name: string, text: string): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, text);
    return path;
  }

  it('uses k3s-like defaults for a normal user', () => {
    assert.deepEqual(parseServerFlags([], {}, host), {
      ...DEFAULTS,
      dataDir: '/home/ada/.local/share/skiff',
      datastoreEndpoint: 'sqlite:///home/ada/.local/share/skiff/server/db/state.db',
      writeKubeconfig: '/home/ada/.local/share/skiff/kubeconfig.yaml',
    });
  });

  it('parses the control-loop flags: simulated nodes, grace period durations, toleration seconds, --disable', () => {
    const c = parseServerFlags(
      ['--simulate-nodes', '50', '--simulate-node-capacity', 'cpu=4,memory=8Gi,pods=20', '--node-monitor-grace-period', '1m30s', '--default-unreachable-toleration-seconds', '5', '--disable', 'deployment,scheduler'],
      { SKIFF_DEFAULT_NOT_READY_TOLERATION_SECONDS: '7' },
      host,
    );
    assert.equal(c.simulateNodes, 50);
    assert.deepEqual(c.simulateNodeCapacity, { cpu: '4', memory: '8Gi', pods: '20' });
    assert.equal(c.nodeMonitorGracePeriodMs, 90_000);
    assert.equal(parseServerFlags(['--simulate-pod-ready-delay', '0s'], {}, host).simulatePodReadyDelayMs, 0);
    assert.equal(c.defaultUnreachableTolerationSeconds, 5);
    assert.equal(c.defaultNotReadyTolerationSeconds, 7);
    assert.deepEqual(c.disable, ['deployment', 'scheduler']);
    assert.equal(parseServerFlags(['--node-monitor-grace-period', '500ms'], {}, host).nodeMonitorGracePeriodMs, 500);
  });

  it('takes --cluster-cidr as one CIDR or a dual-stack pair, default 10.42.0.0/16 (k3s)', () => {
    assert.deepEqual(parseServerFlags([], {}, host).clusterCIDRs, ['10.42.0.0/16']);
    assert.deepEqual(parseServerFlags(['--cluster-cidr', '10.0.0.0/8'], {}, host).clusterCIDRs, ['10.0.0.0/8']);
    assert.deepEqual(parseServerFlags([], { SKIFF_CLUSTER_CIDR: '10.42.0.0/16,fd00:42::/56' }, host).clusterCIDRs, ['10.42.0.0/16', 'fd00:42::/56']);
    assert.equal(parseServerFlags(['--service-cidr', '10.96.0.0/12'], {}, host).serviceCIDR, '10.96.0.0/12');
    assert.deepEqual(parseServerFlags(['--service-node-port-range', '31000-31099'], {}, host).serviceNodePortRange, [31000, 31099]);
    assert.throws(() => parseServerFlags(['--service-cidr', '10.43.0.1/16'], {}, host), /10.43.0.1 is not the first address of a \/16/);
    assert.throws(() => parseServerFlags(['--service-node-port-range', '32000-31000'], {}, host), /must be a port range like 30000-32767/);
  });

  it('takes --cluster-dns (default the 10th address of --service-cidr, and inside it) and --cluster-domain (k3s)', () => {
    assert.equal(parseServerFlags([], {}, host).clusterDNS, '10.43.0.10');
    assert.equal(parseServerFlags(['--service-cidr', '10.96.0.0/12'], {}, host).clusterDNS, '10.96.0.10');
    assert.equal(parseServerFlags(['--cluster-dns', '10.43.2.53'], {}, host).clusterDNS, '10.43.2.53');
    assert.throws(() => parseServerFlags(['--cluster-dns', '10.44.0.10'], {}, host), /--cluster-dns: must be an address of --service-cidr 10.43.0.0\/16/);
    assert.throws(() => parseServerFlags(['--cluster-dns', '10.43.0.1'], {}, host), /other than its first/);
    assert.equal(parseServerFlags([], {}, host).clusterDomain, 'cluster.local');
    assert.equal(parseServerFlags(['--cluster-domain', 'corp.example.'], {}, host).clusterDomain, 'corp.example');
    assert.throws(() => parseServerFlags(['--cluster-domain', 'Bad_Domain'], {}, host), /must be a DNS domain/);
    assert.deepEqual(parseServerFlags(['--disable', 'coredns'], {}, host).disable, ['coredns']);
  });

  it('uses /var/lib/skiff as root, and derives the database and kubeconfig paths from --data-dir', () => {
    assert.equal(parseServerFlags([], {}, { ...host, uid: 0 }).dataDir, '/var/lib/skiff');
    const c = parseServerFlags(['-d', '/srv/skiff'], {}, host);
    assert.equal(c.datastoreEndpoint, 'sqlite:///srv/skiff/server/db/state.db');
    assert.equal(c.writeKubeconfig, '/srv/skiff/kubeconfig.yaml');
  });

  it('parses every flag, long and short', () => {
    const c = parseServerFlags(
      [
        '--data-dir=/d', '--https-listen-port', '0', '--bind-address', '127.0.0.1', '--advertise-address', '192.0.2.10',
        '--datastore-endpoint', 'memory://', '-o', '/k/config', '--write-kubeconfig-mode', '644', '-t', 'sekrit', '--agent-token', 'joins-only',
        '--tls-san', 'a.example', '--tls-san=b.example,192.0.2.1', '--disable', 'deployment', '--debug',
        '--log-format', 'json', '--max-requests-inflight', '0', '--max-mutating-requests-inflight=50',
      ],
      {},
      host,
    );
    assert.deepEqual(c, {
      ...DEFAULTS,
      dataDir: '/d',
      httpsListenPort: 0,
      bindAddress: '127.0.0.1',
      advertiseAddress: '192.0.2.10',
      datastoreEndpoint: 'memory://',
      writeKubeconfig: '/k/config',
      writeKubeconfigMode: 0o644,
      token: 'sekrit',
      agentToken: 'joins-only',
      tlsSan: ['a.example', 'b.example', '192.0.2.1'],
      disable: ['deployment'],
      maxRequestsInflight: 0,
      maxMutatingRequestsInflight: 50,
      debug: true,
      logFormat: 'json',
    });
  });

  it('reads SKIFF_* environment variables', () => {
    const c = parseServerFlags([], {
      SKIFF_DATA_DIR: '/env/dir',
      SKIFF_HTTPS_LISTEN_PORT: '7443',
      SKIFF_TOKEN: 'from-env',
      SKIFF_KUBECONFIG_MODE: '0640',
      SKIFF_KUBECONFIG_OUTPUT: '/env/kc.yaml',
      SKIFF_TLS_SAN: 'x.example, y.example',
      SKIFF_DEBUG: '0',
      SKIFF_LOG_FORMAT: 'json',
      SKIFF_MAX_REQUESTS_INFLIGHT: '10',
      SKIFF_MAX_MUTATING_REQUESTS_INFLIGHT: '5',
    }, host);
    assert.equal(c.dataDir, '/env/dir');
    assert.equal(c.httpsListenPort, 7443);
    assert.equal(c.token, 'from-env');
    assert.equal(c.writeKubeconfigMode, 0o640);
    assert.equal(c.writeKubeconfig, '/env/kc.yaml');
    assert.deepEqual(c.tlsSan, ['x.example', 'y.example']);
    assert.equal(c.debug, false);
    assert.equal(c.logFormat, 'json');
    assert.equal(c.maxRequestsInflight, 10);
    assert.equal(c.maxMutatingRequestsInflight, 5);
  });

  it('reads a config file whose keys are flag names, keeping modes as written', async () => {
    const path = await configFile('config.yaml', [
      'data-dir: /cfg/dir',
      'https-listen-port: 8443',
      'write-kubeconfig-mode: 0644',
      'tls-san:',
      '  - one.example',
      '  - 192.0.2.9',
      'disable: deployment,job',
      'debug: true',
      'log-format: json',
      'max-requests-inflight: 800',
      '',
    ].join('\n'));
    const c = parseServerFlags(['--config', path], {}, host);
    assert.equal(c.configFile, path);
    assert.equal(c.dataDir, '/cfg/dir');
    assert.equal(c.httpsListenPort, 8443);
    assert.equal(c.writeKubeconfigMode, 0o644);
    assert.deepEqual(c.tlsSan, ['one.example', '192.0.2.9']);
    assert.deepEqual(c.disable, ['deployment', 'job']);
    assert.equal(c.debug, true);
    assert.equal(c.logFormat, 'json');
    assert.equal(c.maxRequestsInflight, 800);
  });

  // flag > env > config file > default, for each kind of flag.
  const layers: Array<{ name: string; flag?: string[]; env?: Record<string, string>; file?: string; field: keyof typeof DEFAULTS | 'token' | 'dataDir'; want: unknown }> = [
    { name: 'flag beats env and file', flag: ['--https-listen-port', '3333'], env: { SKIFF_HTTPS_LISTEN_PORT: '2222' }, file: 'https-listen-port: 1111', field: 'httpsListenPort', want: 3333 },
    { name: 'env beats file', env: { SKIFF_HTTPS_LISTEN_PORT: '2222' }, file: 'https-listen-port: 1111', field: 'httpsListenPort', want: 2222 },
    { name: 'file beats default', file: 'https-listen-port: 1111', field: 'httpsListenPort', want: 1111 },
    { name: 'default when nobody sets it', file: 'token: t', field: 'httpsListenPort', want: 6443 },
    { name: 'a boolean flag beats env', flag: ['--debug=false'], env: { SKIFF_DEBUG: 'true' }, field: 'debug', want: false },
    { name: 'a boolean env beats file', env: { SKIFF_DEBUG: 'false' }, file: 'debug: true', field: 'debug', want: false },
    { name: 'an enum flag beats env and file', flag: ['--log-format', 'text'], env: { SKIFF_LOG_FORMAT: 'json' }, file: 'log-format: json', field: 'logFormat', want: 'text' },
    { name: 'a list flag replaces, not merges, the file', flag: ['--tls-san', 'cli.example'], file: 'tls-san: [file.example]', field: 'tlsSan', want: ['cli.example'] },
    { name: 'a list env replaces the file', env: { SKIFF_TLS_SAN: 'env.example' }, file: 'tls-san: [file.example]', field: 'tlsSan', want: ['env.example'] },
    { name: 'a string file value beats default', file: 'token: file-token', field: 'token', want: 'file-token' },
  ];
  for (const l of layers) {
    it(`precedence: ${l.name}`, async () => {
      const env: Record<string, string> = { ...(l.env ?? {}) };
      if (l.file !== undefined) env.SKIFF_CONFIG_FILE = await configFile(`layer-${l.field}.yaml`, `${l.file}\n`);
      assert.deepEqual(parseServerFlags(l.flag ?? [], env, host)[l.field], l.want);
    });
  }

  it('reads the default config file only when it exists, and ignores the agent keys in it', async () => {
    const path = await configFile('default.yaml', 'https-listen-port: 7000\nserver: https://10.0.0.1:6443\nsimulate: 3\n');
    const c = parseServerFlags([], {}, { ...host, defaultConfigFile: path });
    assert.equal(c.httpsListenPort, 7000);
    assert.equal(c.configFile, path);
    assert.equal(parseServerFlags([], {}, host).configFile, undefined);
    assert.throws(() => parseServerFlags(['-c', join(dir, 'missing.yaml')], {}, host), /cannot read config file .*missing\.yaml/);
  });

  const bad: Array<[string, string[], Record<string, string>, RegExp, string]> = [
    ['non-numeric port', ['--https-listen-port', 'abc'], {}, /invalid value "abc" for --https-listen-port/, '--https-listen-port'],
    ['port above 65535', ['--https-listen-port=65536'], {}, /"65536" for --https-listen-port: must be a port number from 0 to 65535/, '--https-listen-port'],
    ['negative port', ['--https-listen-port=-1'], {}, /"-1" for --https-listen-port/, '--https-listen-port'],
    ['non-octal mode', ['--write-kubeconfig-mode', '689'], {}, /"689" for --write-kubeconfig-mode: must be an octal file mode/, '--write-kubeconfig-mode'],
    ['bad env port names the variable', [], { SKIFF_HTTPS_LISTEN_PORT: 'x' }, /"x" for SKIFF_HTTPS_LISTEN_PORT \(--https-listen-port\)/, '--https-listen-port'],
    ['bad boolean env', [], { SKIFF_DEBUG: 'yes' }, /"yes" for SKIFF_DEBUG \(--debug\): must be true or false/, '--debug'],
    ['bind address that is not an IP', ['--bind-address', 'localhost'], {}, /"localhost" for --bind-address: must be an IPv4 or IPv6 address/, '--bind-address'],
    ['datastore without a scheme', ['--datastore-endpoint', '/tmp/x.db'], {}, /"\/tmp\/x\.db" for --datastore-endpoint/, '--datastore-endpoint'],
    ['a log format skiff does not write', ['--log-format', 'logfmt'], {}, /"logfmt" for --log-format: must be one of text, json/, '--log-format'],
    ['a negative in-flight limit', ['--max-requests-inflight', '-5'], {}, /"-5" for --max-requests-inflight: must be a whole number/, '--max-requests-inflight'],
    ['a duration without unit', ['--node-monitor-grace-period', '40'], {}, /"40" for --node-monitor-grace-period: must be a duration/, '--node-monitor-grace-period'],
    ['a cluster CIDR that is not one', ['--cluster-cidr', '10.42.0.0'], {}, /"10\.42\.0\.0" for --cluster-cidr: "10\.42\.0\.0" is not a CIDR/, '--cluster-cidr'],
    ['a cluster CIDR too big for /24 node CIDRs', ['--cluster-cidr', '10.0.0.0/7'], {}, /"10\.0\.0\.0\/7" for --cluster-cidr: .*must be a \/8 to \/24/, '--cluster-cidr'],
    ['two IPv4 cluster CIDRs', ['--cluster-cidr', '10.42.0.0/16,10.44.0.0/16'], {}, /for --cluster-cidr: two CIDRs must be of different IP families/, '--cluster-cidr'],
    ['a negative count', ['--simulate-nodes', '-1'], {}, /"-1" for --simulate-nodes: must be a whole number/, '--simulate-nodes'],
    ['a capacity that is not a list', ['--simulate-node-capacity', 'cpu'], {}, /"cpu" for --simulate-node-capacity/, '--simulate-node-capacity'],
    ['unknown flag', ['--data-dri', '/x'], {}, /unknown flag --data-dri \(see 'skiff server --help'\)/, '--data-dri'],
    ['an agent flag', ['--server', 'https://x:6443'], {}, /flag --server is not a flag of skiff server \(it belongs to skiff agent/, '--server'],
    ['a bad node name', ['--node-name', 'N_1'], {}, /"N_1" for --node-name: must be a lower-case DNS subdomain/, '--node-name'],
    ['SKIFF_NODE_NAME, the same', [], { SKIFF_NODE_NAME: 'N_1' }, /"N_1" for SKIFF_NODE_NAME \(--node-name\)/, '--node-name'],
    ['a runtime skiff does not have', ['--runtime', 'docker'], {}, /"docker" for --runtime: must be one of auto, cri, process/, '--runtime'],
    ['a node label without a value', ['--node-label', 'tier'], {}, /"tier" for --node-label: must be KEY=VALUE/, '--node-label'],
    ['a taint with a bad effect', ['--node-taint', 'gpu=true:Never'], {}, /"gpu=true:Never" for --node-taint: must be KEY\[=VALUE\]:EFFECT/, '--node-taint'],
    ['string flag without value', ['--token'], {}, /flag --token needs a value/, '--token'],
    ['string flag followed by a flag', ['--data-dir', '--debug'], {}, /flag --data-dir needs a value, but is followed by flag --debug/, '--data-dir'],
    ['a positional argument', ['start'], {}, /unexpected argument "start": skiff server takes only flags/, ''],
  ];
  for (const [name, argv, env, message, flag] of bad) {
    it(`rejects ${name}`, () => {
      assert.throws(
        () => parseServerFlags(argv, env, host),
        (err: unknown) => err instanceof FlagError && message.test(err.message) && err.flag === flag,
      );
    });
  }

  it('rejects unknown keys, unsupported keys and bad values in the config file, naming the file', async () => {
    const typo = await configFile('typo.yaml', 'datadir: /x\n');
    assert.throws(() => parseServerFlags(['-c', typo], {}, host), /typo\.yaml: unknown key "datadir"/);
    const alias = await configFile('alias.yaml', 'o: /x\n');
    assert.throws(() => parseServerFlags(['-c', alias], {}, host), /alias\.yaml: unknown key "o"/);
    const port = await configFile('port.yaml', 'https-listen-port: http\n');
    assert.throws(() => parseServerFlags(['-c', port], {}, host), /invalid value "http" for https-listen-port in .*port\.yaml/);
    const list = await configFile('list.yaml', 'data-dir: [a, b]\n');
    assert.throws(() => parseServerFlags(['-c', list], {}, host), /data-dir in .*list\.yaml: expected a single value/);
  });

  it('parses the embedded agent\'s flags, and --disable-agent', async () => {
    const c = parseServerFlags(['--node-name', 'n1', '--node-ip', '10.1.2.3', '--node-label', 'tier=web,zone=a', '--node-taint', 'gpu=true:NoSchedule', '--node-taint', 'dedicated:NoExecute', '--runtime', 'process', '--kubelet-port', '0'], {}, host);
    assert.deepEqual(c.agent, {
      nodeName: 'n1',
      nodeIp: '10.1.2.3',
      nodeLabels: { tier: 'web', zone: 'a' },
      nodeTaints: [{ key: 'gpu', value: 'true', effect: 'NoSchedule' }, { key: 'dedicated', effect: 'NoExecute' }],
      runtime: 'process',
      pauseImage: 'registry.k8s.io/pause:3.9',
      privateRegistry: '/etc/skiff/registries.yaml',
      kubeletPort: 0,
      ingressHttpPort: 80,
      ingressHttpsPort: 443,
      flannelBackend: 'auto', clusterCidrs: ['10.42.0.0/16'], cniBinDir: '/usr/lib/cni',
    });
    assert.equal(parseServerFlags(['--secrets-encryption'], {}, host).secretsEncryption, true);
    assert.equal(parseServerFlags(['--disable-agent'], {}, host).disableAgent, true);
    assert.equal(parseServerFlags([], { SKIFF_DISABLE_AGENT: 'true' }, host).disableAgent, true);
    const file = await configFile('agentless.yaml', 'disable-agent: true\ncontainer-runtime-endpoint: unix:///run/c.sock\n');
    const fromFile = parseServerFlags(['-c', file], {}, host);
    assert.equal(fromFile.disableAgent, true);
    assert.equal(fromFile.agent.containerRuntimeEndpoint, 'unix:///run/c.sock');
    assert.deepEqual(fromFile.notices, []);
  });

  it("takes kubelet's container log flags: a size quantity and a file count over 1; the defaults are left to the agent", () => {
    const c = parseServerFlags(['--container-log-max-size', '1Mi', '--container-log-max-files', '3'], {}, host);
    assert.equal(c.agent.containerLogMaxSizeBytes, 1024 * 1024);
    assert.equal(c.agent.containerLogMaxFiles, 3);
    assert.equal(parseServerFlags([], { SKIFF_CONTAINER_LOG_MAX_SIZE: '500Ki' }, host).agent.containerLogMaxSizeBytes, 500 * 1024);
    assert.equal(parseServerFlags([], {}, host).agent.containerLogMaxSizeBytes, undefined);
    assert.throws(() => parseServerFlags(['--container-log-max-files', '1'], {}, host), /invalid value "1" for --container-log-max-files: must be greater than 1/);
    assert.throws(() => parseServerFlags(['--container-log-max-size', 'ten'], {}, host), /invalid value "ten" for --container-log-max-size: must be a positive quantity of bytes, e.g. 10Mi/);
  });

  it('returns help without reading a broken config file or rejecting other flags', async () => {
    const broken = await configFile('broken.yaml', 'data-dir: [unclosed\n');
    const c = parseServerFlags(['--bogus', '--help'], { SKIFF_CONFIG_FILE: broken }, host);
    assert.equal(c.help, true);
    assert.equal(parseServerFlags(['-h'], {}, host).help, true);
    assert.throws(() => parseServerFlags(['-c', broken], {}, host), /broken\.yaml is not valid YAML/);
  });
});

describe('the flag catalogue', () => {
  it('names each flag, alias and environment variable once, with SKIFF_ variables and defaults that parse', () => {
    const names = FLAGS.flatMap((f) => [f.name, ...(f.aliases ?? [])]);
    assert.deepEqual(names, [...new Set(names)]);
    const envs = FLAGS.flatMap((f) => (f.env ? [f.env] : []));
    assert.deepEqual(envs, [...new Set(envs)]);
    for (const f of FLAGS) {
      if (f.name !== 'help') assert.match(f.env ?? '', /^SKIFF_[A-Z_]+$/, `--${f.name} has a SKIFF_ variable`);
      if (f.default !== undefined && f.parse) f.parse(f.default, { flag: `--${f.name}`, text: 'default' });
    }
  });

  it('matches the flag table in README.md', () => {
    // From src/cli under tsx, from dist/src/cli once compiled: the README is at the checkout's root either way.
    const here = fileURLToPath(new URL('.', import.meta.url));
    const readme = readFileSync(join(here.includes('/dist/') ? join(here, '../../..') : join(here, '../..'), 'README.md'), 'utf8');
    const table = readme.slice(readme.indexOf('## `skiff server` flags'), readme.indexOf('`skiff server --help` lists'));
    const rows = table.split('\n').filter((l) => l.startsWith('| `--'));
    const documented = new Set(rows.flatMap((row) => [...row.split(' | ')[0]!.matchAll(/`--([a-z-]+)`/g)].map((m) => m[1]!)));
    const served = FLAGS.filter((f) => f.commands.includes('server') && f.noEffect?.server === undefined && f.name !== 'help').map((f) => f.name);
    for (const name of served) assert.ok(documented.has(name), `README's server flag table lacks --${name}`);
    for (const name of documented) assert.ok(served.includes(name), `README's server flag table lists --${name}, which skiff server does not take`);
  });
});

describe('serverHelp', () => {
  it('lists every flag with its environment variable and default, and hides the flags that change nothing', () => {
    const help = serverHelp();
    const expected: Array<[string, string | undefined, string | undefined]> = [
      ['--config', 'SKIFF_CONFIG_FILE', '/etc/skiff/config.yaml'],
      ['--debug', 'SKIFF_DEBUG', 'false'],
      ['--log-format', 'SKIFF_LOG_FORMAT', 'text'],
      ['--data-dir', 'SKIFF_DATA_DIR', '/var/lib/skiff'],
      ['--https-listen-port', 'SKIFF_HTTPS_LISTEN_PORT', '6443'],
      ['--bind-address', 'SKIFF_BIND_ADDRESS', '0.0.0.0'],
      ['--advertise-address', 'SKIFF_ADVERTISE_ADDRESS', undefined],
      ['--datastore-endpoint', 'SKIFF_DATASTORE_ENDPOINT', 'sqlite://<data-dir>/server/db/state.db'],
      ['--write-kubeconfig', 'SKIFF_KUBECONFIG_OUTPUT', '<data-dir>/kubeconfig.yaml'],
      ['--write-kubeconfig-mode', 'SKIFF_KUBECONFIG_MODE', '600'],
      ['--token', 'SKIFF_TOKEN', 'generated and kept in <data-dir>/server/token'],
      ['--agent-token', 'SKIFF_AGENT_TOKEN', 'the cluster token'],
      ['--tls-san', 'SKIFF_TLS_SAN', undefined],
      ['--disable', 'SKIFF_DISABLE', undefined],
      ['--max-requests-inflight', 'SKIFF_MAX_REQUESTS_INFLIGHT', '400'],
      ['--max-mutating-requests-inflight', 'SKIFF_MAX_MUTATING_REQUESTS_INFLIGHT', '200'],
      ['--cluster-cidr', 'SKIFF_CLUSTER_CIDR', '10.42.0.0/16'],
      ['--simulate-nodes', 'SKIFF_SIMULATE_NODES', '0'],
      ['--simulate-node-capacity', 'SKIFF_SIMULATE_NODE_CAPACITY', 'cpu=32,memory=256Gi,pods=110'],
      ['--simulate-pod-ready-delay', 'SKIFF_SIMULATE_POD_READY_DELAY', '1s'],
      ['--node-monitor-grace-period', 'SKIFF_NODE_MONITOR_GRACE_PERIOD', '40s'],
      ['--metric-resolution', 'SKIFF_METRIC_RESOLUTION', '15s'],
      ['--help', undefined, undefined],
    ];
    const lines = help.replace(/\n {30,}/g, ' ').split('\n'); // a long flag's text continues on the next line
    for (const [flag, env, def] of expected) {
      const line = lines.find((l) => new RegExp(`^ {2}(-\\w, | {4})${flag}( |$)`).test(l));
      assert.ok(line, `help lacks ${flag}`);
      if (env) assert.ok(line.includes(`$${env}`), `${flag} line lacks $${env}: ${line}`);
      if (def) assert.ok(line.includes(`default: ${def}`), `${flag} line lacks default ${def}: ${line}`);
    }
    assert.ok(help.includes('-o, --write-kubeconfig FILE'));
    assert.ok(help.includes('-t, --token TOKEN'));
    for (const shown of ['--disable-agent', '--node-name NAME', '--runtime NAME', '--node-taint']) assert.ok(help.includes(shown), `server help lacks ${shown}`);
    for (const hidden of ['--server ', '--simulate ']) assert.ok(!help.includes(hidden), `server help shows ${hidden}`);
  });
});
