/**
 * End to end: a joined agent learns the cluster's ranges from its server at join (GET /v1-skiff/config, as k3s agents
 * read /v1-k3s/config), so `skiff agent --server --token` alone routes the server's --service-cidr to its pod bridge
 * and treats the server's --cluster-cidr (not only its own podCIDR, not the 10.42.0.0/16 default) as pod-to-pod;
 * an agent's own --cluster-cidr wins. A server without its embedded agent and one `skiff agent` (process runtime) on
 * this host, both real processes; what is checked is the kernel state the agent wrote (ip route, iptables-save).
 * Run from dist/ (it spawns bin/skiff):
 *   npx tsc -p tsconfig.json && node --test dist/test/agent-cluster-ranges.e2e.test.js
 * Needs root, iptables and the CNI plugins; skips with the reason otherwise (fails under CI=true).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { hardCleanAgent } from './helpers/agent-cleanup.js';
import { needsCni, needsRoot, skipIfMissing } from './helpers/e2e-prereqs.js';
import { eventually } from './helpers/eventually.js';
import { kubectlFor, type Kubectl } from './helpers/kubectl.js';
import { spawnAgent, spawnServer, stopChild, type AgentProcess, type ServerProcess } from './helpers/server-process.js';

const CLUSTER_CIDR = '10.95.0.0/16';
const SERVICE_CIDR = '10.96.0.0/16';

const skipReason = () => skipIfMissing(needsRoot('the pod bridge, routes and iptables of a real node') ?? needsCni());

/** The device the kernel routes a prefix to (skiff's routes are proto 92), or undefined. */
function routeDevice(prefix: string): string | undefined {
  const routes = JSON.parse(execFileSync('ip', ['-j', 'route', 'show', 'exact', prefix], { encoding: 'utf8' }) || '[]') as Array<{ dev?: string }>;
  return routes[0]?.dev;
}

function natRules(): string {
  return execFileSync('iptables-save', ['-t', 'nat'], { encoding: 'utf8' });
}

function podAndService(nodeName: string): object {
  return {
    apiVersion: 'v1',
    kind: 'List',
    items: [
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'sleeper', namespace: 'default', labels: { app: 'sleeper' } }, spec: { nodeName, terminationGracePeriodSeconds: 1, containers: [{ name: 'c', image: 'busybox', command: ['sleep', '1000'] }] } },
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'sleeper', namespace: 'default' }, spec: { selector: { app: 'sleeper' }, ports: [{ port: 80 }] } },
    ],
  };
}

describe('a joined agent takes the cluster and service CIDRs from its server', { skip: skipReason() }, () => {
  let serverDir: string;
  let agentDir: string;
  let server: ServerProcess | undefined;
  let agent: AgentProcess | undefined;
  let k: Kubectl;
  let agentArgs: string[];
  const node = `rng-${randomBytes(3).toString('hex')}`;
  const podUids = new Set<string>();

  before(async () => {
    const suffix = randomBytes(3).toString('hex');
    serverDir = await mkdtemp(`/tmp/skr1-${suffix}-`);
    agentDir = await mkdtemp(`/tmp/skr2-${suffix}-`);
    server = await spawnServer(['--data-dir', serverDir, '--https-listen-port', '0', '--cluster-cidr', CLUSTER_CIDR, '--service-cidr', SERVICE_CIDR], 60_000);
    k = kubectlFor(join(serverDir, 'kubeconfig.yaml'));
    const token = (await readFile(join(serverDir, 'server', 'token'), 'utf8')).trim();
    agentArgs = ['--server', server.url, '--token', token, '--data-dir', agentDir, '--node-name', node, '--runtime', 'process', '--kubelet-port', '0', '--proxy-mode', 'iptables'];
  });

  after(async () => {
    try {
      if (server && server.child.exitCode === null && agent && agent.child.exitCode === null) {
        await k(['delete', 'pod', 'sleeper', '--ignore-not-found', '--wait=true', '--timeout=30s'], { timeoutMs: 40_000 });
      }
      if (agent) await stopChild(agent.child);
      if (server) await stopChild(server.child);
    } finally {
      for (const dataDir of [agentDir, serverDir]) {
        if (!dataDir) continue;
        const report = await hardCleanAgent({ dataDir, podUids });
        if (report.length) console.log(`hard clean of ${dataDir}:\n  ${report.join('\n  ')}`);
        await rm(dataDir, { recursive: true, force: true });
      }
    }
  });

  test('without --cluster-cidr: the service CIDR is routed to the pod bridge and the cluster CIDR is pod-to-pod', async () => {
    const started = spawnAgent(agentArgs);
    agent = started.agent;
    await started.ready;
    const n = await eventually('the node with a podCIDR', async () => (await k.json(['get', 'node', node])).spec?.podCIDR as string | undefined, 30_000);
    assert.ok(n.startsWith('10.95.'), `podCIDR ${n} comes from the server's --cluster-cidr`);
    assert.match(agent.output(), /cluster CIDR 10\.95\.0\.0\/16 \(from the server\), service CIDR 10\.96\.0\.0\/16/);
    // The pod bridge appears with the first pod, and the proxy routes the service CIDR at its next sync (a Service).
    const r = await k(['apply', '-f', '-'], { input: JSON.stringify(podAndService(node)) });
    assert.equal(r.code, 0, r.stderr);
    const pod = await eventually('the pod running', async () => {
      const p = await k.json(['get', 'pod', 'sleeper']);
      return p.status?.phase === 'Running' ? p : undefined;
    }, 40_000);
    podUids.add(pod.metadata.uid);
    assert.ok(pod.status.podIP.startsWith('10.95.'), `pod IP ${pod.status.podIP}`);

    const bridge = await eventually(`a route for ${SERVICE_CIDR}`, async () => routeDevice(SERVICE_CIDR), 20_000);
    assert.match(bridge, /^skiff[0-9a-f]{6}$/, `${SERVICE_CIDR} routed to the agent's pod bridge, not ${bridge}`);
    // Pods of other nodes (anywhere in the cluster CIDR) are not masqueraded: the whole range, not this node's /24.
    const masq = natRules().split('\n').filter((l) => l.startsWith(`-A SKIFF-MASQ-${bridge} `));
    assert.ok(masq.some((l) => l.includes(`-d ${CLUSTER_CIDR} `) && l.endsWith('-j RETURN')), `masquerade chain:\n${masq.join('\n')}`);
    assert.ok(!masq.some((l) => l.includes('-d 10.42.0.0/16 ')), `the flag's default is not this cluster's range:\n${masq.join('\n')}`);
    // The proxy's detect-local is the cluster CIDR too: ClusterIP traffic from outside it is marked for masquerade.
    const kubernetesIP = (await k.json(['get', 'service', 'kubernetes'])).spec.clusterIP as string;
    const proxyRules = await eventually('the proxy rules for the kubernetes Service', async () => {
      const lines = natRules().split('\n').filter((l) => l.includes(`-d ${kubernetesIP}/32`) && l.includes('-j SK') && l.includes('MARK-MASQ'));
      return lines.length ? lines : undefined;
    }, 20_000);
    assert.ok(proxyRules.some((l) => l.includes(`! -s ${CLUSTER_CIDR} `)), proxyRules.join('\n'));

    await stopChild(agent.child);
    assert.equal(routeDevice(SERVICE_CIDR), undefined, 'the agent removes its service route when it stops');
    podUids.add(pod.metadata.uid);
  });

  test("the agent's own --cluster-cidr wins over the server's", async () => {
    const started = spawnAgent([...agentArgs, '--cluster-cidr', '10.95.0.0/17']);
    agent = started.agent;
    await started.ready;
    assert.match(agent.output(), /cluster CIDR 10\.95\.0\.0\/17 \(--cluster-cidr\), service CIDR 10\.96\.0\.0\/16/);
    const bridge = await eventually(`a route for ${SERVICE_CIDR}`, async () => routeDevice(SERVICE_CIDR), 20_000);
    const masq = await eventually('the masquerade chain with the flag\'s range', async () => {
      const lines = natRules().split('\n').filter((l) => l.startsWith(`-A SKIFF-MASQ-${bridge} `));
      return lines.some((l) => l.includes('-d 10.95.0.0/17 ')) ? lines : undefined;
    }, 20_000);
    assert.ok(!masq.some((l) => l.includes(`-d ${CLUSTER_CIDR} `)), masq.join('\n'));
  });
});
