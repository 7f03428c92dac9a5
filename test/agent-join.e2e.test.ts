/**
 * End to end: a second node joins with the cluster token. `skiff server` (embedded agent on the process runtime, to
 * stay light) plus `skiff agent --server URL --token ... --runtime process` as node n2, both real processes, driven by
 * the real kubectl: n2 registers Ready as itself (system:node:n2), gets its own podCIDR, runs the pods scheduled to
 * it, and serves logs/exec through the API server; a wrong token is refused in words; kill -9 of the agent leaves its
 * containers running and a restarted agent adopts them. Node authorization: n2's certificate reads the secrets of its
 * own pods only and modifies no other Node (NodeRestriction); the join token itself is no identity (401). Run from dist/ (it spawns bin/skiff):
 *   npx tsc -p tsconfig.json && node --test dist/test/agent-join.e2e.test.js
 * Needs root (pod namespaces, cgroups, CNI) and kubectl; skips with the reason otherwise (fails under CI=true).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { hardCleanAgent } from './helpers/agent-cleanup.js';
import { needsCni, needsRoot, skipIfMissing } from './helpers/e2e-prereqs.js';
import { eventually } from './helpers/eventually.js';
import { kubectlFor, type Kubectl } from './helpers/kubectl.js';
import { spawnAgent, spawnServer, stopChild as stopProcess, type AgentProcess, type ServerProcess } from './helpers/server-process.js';

const skipReason = () => skipIfMissing(needsRoot('pod namespaces, cgroups and the CNI bridge of two real nodes') ?? needsCni());

const NS = 'join-e2e';
const N2 = 'n2';

describe('a second node joins with the cluster token', { skip: skipReason() }, () => {
  let dir1: string;
  let dir2: string;
  let server: ServerProcess | undefined;
  let agent: AgentProcess | undefined;
  let k: Kubectl;
  let n1: string;
  let token: string;
  let agentArgs: string[];
  const seenUids = new Set<string>();
  /** A kubeconfig for the server (trusting its CA as the agent got it) with `user`'s credentials only. */
  const writeKubeconfig = (path: string, name: string, user: object) =>
    writeFile(
      path,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: { server: server!.url, 'certificate-authority': join(dir2, 'agent', 'server-ca.crt') } }],
        users: [{ name, user }],
        contexts: [{ name, context: { cluster: 'c', user: name } }],
        'current-context': name,
      }),
    );

  const podOnN2 = async (name: string) => {
    const p = await k.json(['get', 'pod', '-n', NS, name]);
    seenUids.add(p.metadata.uid);
    return p;
  };

  before(async () => {
    const suffix = randomBytes(3).toString('hex');
    dir1 = await mkdtemp(`/tmp/skj1-${suffix}-`);
    dir2 = await mkdtemp(`/tmp/skj2-${suffix}-`);
    n1 = `j1-${suffix}`;
    // A cluster CIDR of our own: other clusters on this machine use 10.42.0.0/16 on their own bridges.
    const clusterCidr = `10.${160 + (parseInt(suffix.slice(0, 2), 16) % 40)}.0.0/16`;
    server = await spawnServer(['--data-dir', dir1, '--https-listen-port', '0', '--kubelet-port', '0', '--runtime', 'process', '--node-name', n1, '--cluster-cidr', clusterCidr], 60_000, {}, { agent: true });
    k = kubectlFor(join(dir1, 'kubeconfig.yaml'));
    token = (await readFile(join(dir1, 'server', 'token'), 'utf8')).trim();
    agentArgs = ['--server', server.url, '--token', token, '--data-dir', dir2, '--node-name', N2, '--runtime', 'process', '--kubelet-port', '0'];
    const started = spawnAgent(agentArgs);
    agent = started.agent;
    await started.ready;
    const r = await k(['create', 'namespace', NS]);
    assert.equal(r.code, 0, r.stderr);
  });

  after(async () => {
    try {
      if (server && server.child.exitCode === null) {
        // Pods first, through their nodes (an agent killed by a failed test is started again for that).
        if (!agent || agent.child.exitCode !== null || agent.child.signalCode !== null) {
          const again = spawnAgent(agentArgs);
          agent = again.agent;
          await again.ready.catch(() => {});
        }
        await k(['delete', 'namespace', NS, '--ignore-not-found', '--wait=true', '--timeout=40s'], { timeoutMs: 50_000 });
      }
      if (agent) await stopProcess(agent.child);
      if (server) await stopProcess(server.child);
    } finally {
      for (const dataDir of [dir2, dir1]) {
        if (!dataDir) continue;
        const report = await hardCleanAgent({ dataDir, podUids: seenUids });
        if (report.length) console.log(`hard clean of ${dataDir}:\n  ${report.join('\n  ')}`);
        await rm(dataDir, { recursive: true, force: true });
      }
    }
  });

  test('n2 registers Ready, acting as system:node:n2, with a podCIDR of its own', async () => {
    const node = await eventually('node n2 Ready with a podCIDR', async () => {
      const n = await k.json(['get', 'node', N2]);
      return n.spec?.podCIDR && n.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True') ? n : undefined;
    }, 30_000);
    const first = await k.json(['get', 'node', n1]);
    assert.ok(first.spec.podCIDR, 'the first node has a podCIDR');
    assert.notEqual(node.spec.podCIDR, first.spec.podCIDR);
    assert.equal(node.metadata.labels['kubernetes.io/hostname'], N2);
    assert.match(node.status.nodeInfo.containerRuntimeVersion, /^process:\/\//);
    assert.ok(node.status.daemonEndpoints.kubeletEndpoint.Port > 0);

    // The agent's own client certificate is system:node:n2 in system:nodes (never the admin).
    const kubeconfig = join(dir2, 'n2.kubeconfig');
    await writeKubeconfig(kubeconfig, 'n2', { 'client-certificate': join(dir2, 'agent', 'client-kubelet.crt'), 'client-key': join(dir2, 'agent', 'client-kubelet.key') });
    const whoami = await kubectlFor(kubeconfig).json(['auth', 'whoami']);
    assert.equal(whoami.status.userInfo.username, `system:node:${N2}`);
    assert.ok(whoami.status.userInfo.groups.includes('system:nodes'), `groups ${whoami.status.userInfo.groups}`);
    const own = await kubectlFor(kubeconfig)(['annotate', 'node', N2, 'skiff.test/by=n2', '--overwrite']);
    assert.equal(own.code, 0, `the node identity may write its own Node: ${own.stderr}`);
    // Its Lease heartbeat is its own too.
    const lease = await k.json(['get', 'lease', '-n', 'kube-node-lease', N2]);
    assert.equal(lease.spec.holderIdentity, N2);
  });

  test('n2 may not modify another node (NodeRestriction)', async () => {
    const other = await kubectlFor(join(dir2, 'n2.kubeconfig'))(['annotate', 'node', n1, 'skiff.test/by=n2', '--overwrite']);
    assert.notEqual(other.code, 0, 'n2 modified node n1');
    assert.match(other.stderr, new RegExp(`nodes "${n1}" is forbidden: node "${N2}" is not allowed to modify node "${n1}"`), other.stderr);
    const labels = await kubectlFor(join(dir2, 'n2.kubeconfig'))(['label', 'node', N2, 'node-role.kubernetes.io/control-plane=true']);
    assert.notEqual(labels.code, 0, 'n2 gave itself a role');
    assert.match(labels.stderr, /is not allowed to modify labels: node-role.kubernetes.io\/control-plane/, labels.stderr);
    // The server's own node has its roles, set by the server (NodeRestriction refuses them from a node).
    const own = await k.json(['get', 'node', n1]);
    assert.equal(own.metadata.labels['node-role.kubernetes.io/control-plane'], 'true');
  });

  // The Node authorizer has no opinion about n1's secret, and RBAC binds nothing to nodes: 403 with its reason.
  test("n2's certificate reads the secret its own pod uses, not one used only by a pod on n1 (Node authorizer)", async () => {
    const pod = (name: string, nodeName: string, secret: string) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: NS },
      spec: { nodeName, terminationGracePeriodSeconds: 1, containers: [{ name: 'c', image: 'busybox', command: ['sleep', '1000'] }], volumes: [{ name: 's', secret: { secretName: secret } }] },
    });
    const r = await k(['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: [
          { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'only-n1', namespace: NS }, stringData: { k: 'n1' } },
          { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'for-n2', namespace: NS }, stringData: { k: 'n2' } },
          pod('uses-only-n1', n1, 'only-n1'),
          pod('uses-for-n2', N2, 'for-n2'),
        ],
      }),
    });
    assert.equal(r.code, 0, r.stderr);
    const asN2 = kubectlFor(join(dir2, 'n2.kubeconfig'));
    const own = await eventually('n2 reads for-n2', async () => {
      const g = await asN2(['get', 'secret', '-n', NS, 'for-n2', '-o', 'json']);
      return g.code === 0 ? JSON.parse(g.stdout) : undefined;
    }, 15_000);
    assert.equal(Buffer.from(own.data.k, 'base64').toString(), 'n2');
    const other = await asN2(['get', 'secret', '-n', NS, 'only-n1', '-o', 'json']);
    assert.notEqual(other.code, 0, `n2 read n1's secret: ${other.stdout}`);
    assert.match(
      other.stderr,
      new RegExp(`secrets "only-n1" is forbidden: User "system:node:${N2}" cannot get resource "secrets" in API group "" in the namespace "${NS}": no relationship found between node '${N2}' and this object`),
      other.stderr,
    );
    const list = await asN2(['get', 'secrets', '-n', NS]);
    assert.notEqual(list.code, 0, `n2 listed secrets: ${list.stdout}`);
    assert.match(list.stderr, /forbidden/, list.stderr);
    // The pod that uses it runs on n2: its agent read the secret with the same certificate.
    await eventually('the pod with the secret volume Running on n2', async () => {
      const p = await podOnN2('uses-for-n2');
      return p.status?.phase === 'Running' ? p : undefined;
    }, 30_000);
  });

  test('the join token is not an identity: kubectl with it is 401, as with no credentials', async () => {
    const kubeconfig = join(dir2, 'token.kubeconfig');
    for (const t of [token, token.replace('::server:', '::node:'), token.split('::server:')[1]!]) {
      // A kubeconfig with only the token (the admin kubeconfig's client certificate would be sent along).
      await writeKubeconfig(kubeconfig, 't', { token: t });
      const r = await kubectlFor(kubeconfig)(['get', 'pods', '-A']);
      assert.notEqual(r.code, 0, 'the token listed pods');
      assert.match(r.stderr, /Unauthorized|must be logged in/, r.stderr);
    }
  });

  test('a pod scheduled to n2 runs there; kubectl logs and exec reach it through the API server', async () => {
    const r = await k(['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'on-n2', namespace: NS },
        spec: {
          nodeSelector: { 'kubernetes.io/hostname': N2 },
          terminationGracePeriodSeconds: 2,
          containers: [{ name: 'c', image: 'busybox', command: ['sh', '-c', 'echo hello-from-n2; exec sleep 1000'] }],
        },
      }),
    });
    assert.equal(r.code, 0, r.stderr);
    const p = await eventually('pod on n2 Running', async () => {
      const cur = await podOnN2('on-n2');
      return cur.status?.phase === 'Running' && cur.status.containerStatuses?.[0]?.ready ? cur : undefined;
    }, 30_000);
    assert.equal(p.spec.nodeName, N2);
    const node = await k.json(['get', 'node', N2]);
    const prefix = node.spec.podCIDR.replace(/\.0\/24$/, '.');
    assert.ok(p.status.podIP.startsWith(prefix), `pod IP ${p.status.podIP} in n2's podCIDR ${node.spec.podCIDR}`);
    const logs = await eventually('logs from n2', async () => {
      const l = await k(['logs', '-n', NS, 'on-n2']);
      return l.code === 0 && l.stdout.includes('hello-from-n2') ? l : undefined;
    }, 10_000);
    assert.equal(logs.stdout, 'hello-from-n2\n');
    const exec = await k(['exec', '-n', NS, 'on-n2', '--', 'sh', '-c', 'echo out; exit 5']);
    assert.equal(exec.code, 5, exec.stderr);
    assert.equal(exec.stdout, 'out\n');
  });

  test('a wrong token is refused with a message that says so, and the agent exits non-zero', async () => {
    const wrong = token.replace(/::server:.*$/, '::server:0123456789abcdef0123456789abcdef');
    assert.notEqual(wrong, token);
    for (const bad of [wrong, 'K10-less-bare-secret']) {
      const wrongDir = await mkdtemp('/tmp/skjw-');
      try {
        const { agent: a } = spawnAgent(['--server', server!.url, '--token', bad, '--data-dir', wrongDir, '--node-name', 'intruder', '--runtime', 'process', '--kubelet-port', '0']);
        const timer = setTimeout(() => a.child.kill('SIGKILL'), 30_000);
        const code = await a.exited;
        clearTimeout(timer);
        assert.notEqual(code, 0, a.output());
        assert.equal(typeof code, 'number', `exited by itself, not killed: ${code}\n${a.output()}`);
        assert.match(a.output(), /refused .*the token is wrong/, a.output());
        assert.ok(!a.output().includes(bad.split(':').pop()!), 'the secret is not echoed');
        assert.doesNotMatch(a.output(), /skiff agent ready/);
      } finally {
        await rm(wrongDir, { recursive: true, force: true });
      }
    }
    const nodes = (await k.json(['get', 'nodes'])).items.map((n: any) => n.metadata.name);
    assert.ok(!nodes.includes('intruder'), `nodes: ${nodes}`);
  });

  test('kill -9 of the agent leaves its containers running; the restarted agent adopts them', async () => {
    const before = await podOnN2('on-n2');
    const cs = before.status.containerStatuses[0];
    agent!.child.kill('SIGKILL');
    await agent!.exited;
    // The container outlives its agent: exec through a fresh agent later must find the same process.
    const started = spawnAgent(agentArgs);
    agent = started.agent;
    await started.ready;
    const after = await eventually('the pod still Running and Ready after the agent restart', async () => {
      const cur = await podOnN2('on-n2');
      const c = cur.status.containerStatuses?.[0];
      return cur.status.phase === 'Running' && c?.ready ? cur : undefined;
    }, 30_000);
    const c2 = after.status.containerStatuses[0];
    assert.equal(c2.containerID, cs.containerID, 'same container');
    assert.equal(c2.restartCount, cs.restartCount, 'restartCount unchanged');
    assert.equal(c2.state.running.startedAt, cs.state.running.startedAt);
    // The adopted container still answers, and its log was not restarted.
    const exec = await k(['exec', '-n', NS, 'on-n2', '--', 'sh', '-c', 'exit 3']);
    assert.equal(exec.code, 3, exec.stderr);
    const logs = await k(['logs', '-n', NS, 'on-n2']);
    assert.equal(logs.stdout, 'hello-from-n2\n');
  });
});
