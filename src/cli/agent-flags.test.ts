import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { agentHelp, parseAgentFlags } from './agent-flags.js';
import { FlagError } from './flag-error.js';
import type { HostFacts } from './flag-parser.js';

describe('parseAgentFlags', () => {
  let dir: string;
  let host: Partial<HostFacts>;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'skiff-agent-flags-'));
    host = { uid: 0, home: '/root', hostname: 'Edge-1', defaultConfigFile: join(dir, 'absent.yaml') };
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('parses the join flags, with env fallbacks and the shared simulated-node flags', () => {
    const c = parseAgentFlags(['-s', 'https://10.0.0.1:6443/', '--simulate', '2', '--kubeconfig', '/etc/skiff/admin.yaml', '--simulate-pod-ready-delay', '0s'], { SKIFF_TOKEN: 'K10abc::server:s' }, host);
    assert.deepEqual(c, {
      server: 'https://10.0.0.1:6443',
      token: 'K10abc::server:s',
      dataDir: '/var/lib/skiff',
      simulate: 2,
      kubeconfig: '/etc/skiff/admin.yaml',
      agent: { nodeName: 'edge-1', nodeLabels: {}, nodeTaints: [], runtime: 'auto', pauseImage: 'registry.k8s.io/pause:3.9', privateRegistry: '/etc/skiff/registries.yaml', kubeletPort: 10250, ingressHttpPort: 80, ingressHttpsPort: 443, flannelBackend: 'auto', cniBinDir: '/usr/lib/cni' },
      simulateNodeCapacity: { cpu: '32', memory: '256Gi', pods: '110' },
      simulatePodReadyDelayMs: 0,
      debug: false,
      logFormat: 'text',
      notices: [],
      help: false,
    });
    assert.equal(parseAgentFlags(['-t', 'x', '--node-name', 'rack-7'], { SKIFF_URL: 'https://h:6443' }, host).agent.nodeName, 'rack-7');
  });

  // Without it the agent takes the server's --cluster-cidr at join (/v1-skiff/config); given, the agent's own wins.
  it('keeps --cluster-cidr only when it was given (flag or environment), not its default', () => {
    const base = ['-s', 'https://h:6443', '-t', 'x'];
    assert.equal(parseAgentFlags(base, {}, host).agent.clusterCidrs, undefined);
    assert.deepEqual(parseAgentFlags([...base, '--cluster-cidr', '10.95.0.0/16'], {}, host).agent.clusterCidrs, ['10.95.0.0/16']);
    assert.deepEqual(parseAgentFlags(base, { SKIFF_CLUSTER_CIDR: '10.42.0.0/16' }, host).agent.clusterCidrs, ['10.42.0.0/16']);
  });

  it("accepts the kubelet's own kubernetes.io labels and any other domain's", () => {
    const c = parseAgentFlags([...['--server', 'https://h:6443', '--token', 't'], '--node-label', 'node.kubernetes.io/exclude-from-external-load-balancers=true,topology.kubernetes.io/zone=a,example.com/team=x'], {}, host);
    assert.deepEqual(c.agent.nodeLabels, { 'node.kubernetes.io/exclude-from-external-load-balancers': 'true', 'topology.kubernetes.io/zone': 'a', 'example.com/team': 'x' });
  });

  it('reads a config file shared with a server, ignoring the server keys', async () => {
    const path = join(dir, 'shared.yaml');
    await writeFile(path, 'data-dir: /srv/skiff\nserver: https://h:6443\ntoken: t\nsimulate: 4\nkubeconfig: /k.yaml\nlog-format: json\n');
    const c = parseAgentFlags(['-c', path], {}, host);
    assert.equal(c.simulate, 4);
    assert.equal(c.logFormat, 'json');
    assert.equal(c.server, 'https://h:6443');
  });

  const base = ['--server', 'https://h:6443', '--token', 't'];
  const bad: Array<[string, string[], RegExp, string]> = [
    ['a missing --server', ['--token', 't'], /flag --server is required/, '--server'],
    ['a server that is not https', ['--server', 'http://h:6443', '--token', 't'], /"http:\/\/h:6443" for --server: must be the https:\/\/ URL/, '--server'],
    ['a missing --token', ['--server', 'https://h:6443'], /flag --token is required/, '--token'],
    ['--simulate without --kubeconfig (a node certificate may write only its own Node)', [...base, '--simulate', '1'], /flag --kubeconfig is required with --simulate/, '--kubeconfig'],
    ['--kubeconfig for a real node', [...base, '--kubeconfig', '/k.yaml'], /flag --kubeconfig is for --simulate/, '--kubeconfig'],
    ['a server flag', [...base, '--https-listen-port', '7443'], /flag --https-listen-port is not a flag of skiff agent \(it belongs to skiff server/, '--https-listen-port'],
    ['an unknown flag', [...base, '--labels', 'a=b'], /unknown flag --labels \(see 'skiff agent --help'\)/, '--labels'],
    ['a bad node name', [...base, '--node-name', 'Rack_7'], /"Rack_7" for --node-name/, '--node-name'],
    ['a node-role label (NodeRestriction refuses it from a node, as kubelet does)', [...base, '--node-label', 'team=a,node-role.kubernetes.io/worker=true'], /unknown 'kubernetes.io' or 'k8s.io' labels specified with --node-label: node-role.kubernetes.io\/worker \(a node may set only/, '--node-label'],
  ];
  for (const [name, argv, message, flag] of bad) {
    it(`rejects ${name}`, () => {
      assert.throws(
        () => parseAgentFlags(argv, {}, host),
        (err: unknown) => err instanceof FlagError && message.test(err.message) && err.flag === flag,
      );
    });
  }

  it('gives help before checking required flags', () => {
    assert.equal(parseAgentFlags(['--help'], {}, host).help, true);
    const help = agentHelp();
    assert.match(help, /^Usage: skiff agent --server URL --token TOKEN \[flags\]/);
    for (const flag of ['-s, --server URL', '-t, --token TOKEN', '--simulate N', '--node-name NAME', '--simulate-node-capacity LIST', '--log-format FORMAT', '--debug']) {
      assert.ok(help.includes(flag), `agent help lacks ${flag}`);
    }
    assert.match(help, /--server URL +https:\/\/HOST:6443 .*\[\$SKIFF_URL\]/);
    assert.ok(!help.includes('--https-listen-port'), 'agent help shows a server flag');
  });
});
