import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FlagError, parseServerFlags, serverHelp, type HostFacts } from './flags.js';

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
    const c = parseServerFlags([], {}, host);
    assert.deepEqual(c, {
      dataDir: '/home/ada/.local/share/skiff',
      httpsListenPort: 6443,
      bindAddress: '0.0.0.0',
      datastoreEndpoint: 'sqlite:///home/ada/.local/share/skiff/server/db/state.db',
      writeKubeconfig: '/home/ada/.local/share/skiff/kubeconfig.yaml',
      writeKubeconfigMode: 0o600,
      disableAgent: false,
      nodeName: 'build-box',
      tlsSan: [],
      disable: [],
      simulateNodes: 0,
      simulateNodeCapacity: { cpu: '32', memory: '256Gi', pods: '110' },
      simulatePodReadyDelayMs: 1000,
      nodeMonitorGracePeriodMs: 40_000,
      defaultNotReadyTolerationSeconds: 300,
      defaultUnreachableTolerationSeconds: 300,
      debug: false,
      help: false,
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
    assert.throws(() => parseServerFlags(['--node-monitor-grace-period', '40'], {}, host), /node-monitor-grace-period.*duration/);
    assert.throws(() => parseServerFlags(['--simulate-nodes', '-1'], {}, host), /simulate-nodes.*whole number/);
    assert.throws(() => parseServerFlags(['--simulate-node-capacity', 'cpu'], {}, host), /simulate-node-capacity/);
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
        '--datastore-endpoint', 'memory://', '-o', '/k/config', '--write-kubeconfig-mode', '644', '-t', 'sekrit',
        '--disable-agent', '--node-name', 'node-1', '--tls-san', 'a.example', '--tls-san=b.example,192.0.2.1',
        '--disable', 'traefik', '--debug',
      ],
      {},
      host,
    );
    assert.deepEqual(c, {
      dataDir: '/d',
      httpsListenPort: 0,
      bindAddress: '127.0.0.1',
      advertiseAddress: '192.0.2.10',
      datastoreEndpoint: 'memory://',
      writeKubeconfig: '/k/config',
      writeKubeconfigMode: 0o644,
      token: 'sekrit',
      disableAgent: true,
      nodeName: 'node-1',
      tlsSan: ['a.example', 'b.example', '192.0.2.1'],
      disable: ['traefik'],
      simulateNodes: 0,
      simulateNodeCapacity: { cpu: '32', memory: '256Gi', pods: '110' },
      simulatePodReadyDelayMs: 1000,
      nodeMonitorGracePeriodMs: 40_000,
      defaultNotReadyTolerationSeconds: 300,
      defaultUnreachableTolerationSeconds: 300,
      debug: true,
      help: false,
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
      SKIFF_DISABLE_AGENT: 'true',
      SKIFF_DEBUG: '0',
    }, host);
    assert.equal(c.dataDir, '/env/dir');
    assert.equal(c.httpsListenPort, 7443);
    assert.equal(c.token, 'from-env');
    assert.equal(c.writeKubeconfigMode, 0o640);
    assert.equal(c.writeKubeconfig, '/env/kc.yaml');
    assert.deepEqual(c.tlsSan, ['x.example', 'y.example']);
    assert.equal(c.disableAgent, true);
    assert.equal(c.debug, false);
  });

  it('reads a config file whose keys are flag names, keeping modes as written', async () => {
    const path = await configFile('config.yaml', [
      'data-dir: /cfg/dir',
      'https-listen-port: 8443',
      'write-kubeconfig-mode: 0644',
      'tls-san:',
      '  - one.example',
      '  - 192.0.2.9',
      'disable: servicelb,traefik',
      'disable-agent: true',
      '',
    ].join('\n'));
    const c = parseServerFlags(['--config', path], {}, host);
    assert.equal(c.configFile, path);
    assert.equal(c.dataDir, '/cfg/dir');
    assert.equal(c.httpsListenPort, 8443);
    assert.equal(c.writeKubeconfigMode, 0o644);
    assert.deepEqual(c.tlsSan, ['one.example', '192.0.2.9']);
    assert.deepEqual(c.disable, ['servicelb', 'traefik']);
    assert.equal(c.disableAgent, true);
  });

  it('applies precedence flag > env > config file > default', async () => {
    const path = await configFile('layers.yaml', 'https-listen-port: 1111\nnode-name: from-file\ntoken: file-token\ntls-san: [file.example]\n');
    const env = { SKIFF_CONFIG_FILE: path, SKIFF_HTTPS_LISTEN_PORT: '2222', SKIFF_NODE_NAME: 'from-env' };
    const c = parseServerFlags(['--https-listen-port', '3333'], env, host);
    assert.equal(c.httpsListenPort, 3333, 'flag beats env and file');
    assert.equal(c.nodeName, 'from-env', 'env beats file');
    assert.equal(c.token, 'file-token', 'file beats default');
    assert.equal(c.bindAddress, '0.0.0.0', 'default when nobody sets it');
    // A repeatable flag replaces the lower layer's list instead of merging with it.
    assert.deepEqual(parseServerFlags(['--tls-san', 'cli.example'], env, host).tlsSan, ['cli.example']);
  });

  it('reads the default config file only when it exists', async () => {
    const path = await configFile('default.yaml', 'node-name: default-file\n');
    assert.equal(parseServerFlags([], {}, { ...host, defaultConfigFile: path }).nodeName, 'default-file');
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
    ['node name with capitals', ['--node-name', 'Node_1'], {}, /"Node_1" for --node-name/, '--node-name'],
    ['unknown flag', ['--data-dri', '/x'], {}, /unknown flag --data-dri/, '--data-dri'],
    ['string flag without value', ['--token'], {}, /flag --token needs a value/, '--token'],
    ['string flag followed by a flag', ['--node-name', '--debug'], {}, /flag --node-name needs a value, but is followed by flag --debug/, '--node-name'],
  ];
  for (const [name, argv, env, message, flag] of bad) {
    it(`rejects ${name}`, () => {
      assert.throws(
        () => parseServerFlags(argv, env, host),
        (err: unknown) => err instanceof FlagError && message.test(err.message) && err.flag === flag,
      );
    });
  }

  it('rejects unknown keys and bad values in the config file, naming the file', async () => {
    const typo = await configFile('typo.yaml', 'datadir: /x\n');
    assert.throws(() => parseServerFlags(['-c', typo], {}, host), /typo\.yaml: unknown key "datadir"/);
    const port = await configFile('port.yaml', 'https-listen-port: http\n');
    assert.throws(() => parseServerFlags(['-c', port], {}, host), /invalid value "http" for https-listen-port in .*port\.yaml/);
    const list = await configFile('list.yaml', 'node-name: [a, b]\n');
    assert.throws(() => parseServerFlags(['-c', list], {}, host), /node-name in .*list\.yaml: expected a single value/);
  });

  it('returns help without reading a broken config file or rejecting other flags', async () => {
    const broken = await configFile('broken.yaml', 'data-dir: [unclosed\n');
    const c = parseServerFlags(['--bogus', '--help'], { SKIFF_CONFIG_FILE: broken }, host);
    assert.equal(c.help, true);
    assert.equal(parseServerFlags(['-h'], {}, host).help, true);
    assert.throws(() => parseServerFlags(['-c', broken], {}, host), /broken\.yaml is not valid YAML/);
  });
});

describe('serverHelp', () => {
  it('lists every flag with its environment variable and default', () => {
    const help = serverHelp();
    const expected: Array<[string, string | undefined, string | undefined]> = [
      ['--config', 'SKIFF_CONFIG_FILE', '/etc/skiff/config.yaml'],
      ['--data-dir', 'SKIFF_DATA_DIR', '/var/lib/skiff'],
      ['--https-listen-port', 'SKIFF_HTTPS_LISTEN_PORT', '6443'],
      ['--bind-address', 'SKIFF_BIND_ADDRESS', '0.0.0.0'],
      ['--advertise-address', 'SKIFF_ADVERTISE_ADDRESS', undefined],
      ['--datastore-endpoint', 'SKIFF_DATASTORE_ENDPOINT', 'sqlite://<data-dir>/server/db/state.db'],
      ['--write-kubeconfig', 'SKIFF_KUBECONFIG_OUTPUT', '<data-dir>/kubeconfig.yaml'],
      ['--write-kubeconfig-mode', 'SKIFF_KUBECONFIG_MODE', '600'],
      ['--token', 'SKIFF_TOKEN', undefined],
      ['--disable-agent', 'SKIFF_DISABLE_AGENT', 'false'],
      ['--node-name', 'SKIFF_NODE_NAME', undefined],
      ['--tls-san', 'SKIFF_TLS_SAN', undefined],
      ['--disable', 'SKIFF_DISABLE', undefined],
      ['--debug', 'SKIFF_DEBUG', 'false'],
      ['--help', undefined, undefined],
    ];
    for (const [flag, env, def] of expected) {
      const line = help.split('\n').find((l) => l.includes(`${flag} `) || l.trimEnd().endsWith(flag) || l.includes(`${flag}  `));
      assert.ok(line, `help lacks ${flag}`);
      if (env) assert.ok(line.includes(`$${env}`), `${flag} line lacks $${env}: ${line}`);
      if (def) assert.ok(line.includes(`default: ${def}`), `${flag} line lacks default ${def}: ${line}`);
    }
    assert.ok(help.includes('-o, --write-kubeconfig'));
    assert.ok(help.includes('-t, --token'));
  });
});
