/**
 * NetworkPolicy across nodes: each agent enforces the policies for its own pods (kube-router's split in k3s). A
 * `skiff server` on the host (control plane only) and two `skiff agent`s (process runtime), each in a network
 * namespace of its own on one link (test/helpers/netns-nodes.ts; host-gw between them). A web pod runs on B, two
 * clients on A (one labelled `role: client`).
 *
 * Covered: before any policy both clients reach the web pod on the other node; a default-deny ingress on the web pod
 * is enforced by B (its rules, in B's namespace, name the web pod; A's name no pod) and drops both; an allow rule with
 * a podSelector reopens for the labelled client only — B resolves a pod of another node from its labels; an egress
 * default deny on the labelled client is enforced by A, whose rules then name that client, and drops its traffic
 * before it leaves A; an ipBlock egress allow reopens it.
 * Run from dist/ (it spawns bin/skiff):
 *   npx tsc -p tsconfig.json && node --test dist/test/network-policy-multinode.e2e.test.js
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createNamespace, waitNodeReady } from './helpers/agent-server.js';
import { needsCni, needsFile, needsRoot, skipIfMissing } from './helpers/e2e-prereqs.js';
import { eventually } from './helpers/eventually.js';
import { kubectlFor, type Kubectl } from './helpers/kubectl.js';
import { startNetnsAgent, tearDownNetnsCluster, type NetnsAgent } from './helpers/netns-agent.js';
import { inNode, makeNetnsNodes, type NetnsTopology } from './helpers/netns-nodes.js';
import { spawnServer, type ServerProcess } from './helpers/server-process.js';

const skipReason = () => skipIfMissing(needsRoot('network namespaces, veths, bridges, CNI, iptables') ?? needsCni() ?? needsFile('/usr/bin/nsenter', 'nsenter (util-linux) is not installed') ?? needsFile('/usr/bin/curl', 'curl is not installed'));

const CLUSTER_CIDR = '10.91.0.0/16';
const SERVICE_CIDR = '10.92.0.0/16';

describe('network policy across nodes: each agent enforces for its own pods', { skip: skipReason() }, () => {
  const suffix = randomBytes(3).toString('hex');
  const prefix = `sknp${suffix.slice(0, 4)}`;
  const NS = `np-mn-${suffix}`;
  let topology: NetnsTopology | undefined;
  let serverDir: string;
  let server: ServerProcess | undefined;
  let k: Kubectl;
  let token: string;
  const agents: NetnsAgent[] = [];
  const seenUids = new Set<string>();
  const ips: Record<string, string> = {};

  const startAgent = async (a: NetnsAgent) => {
    await startNetnsAgent(a, { serverPort: server!.port, token, clusterCIDR: CLUSTER_CIDR, extra: ['--ingress-http-port', '0', '--ingress-https-port', '0'] });
    assert.match(a.out, /network policy: iptables, chains SKIFF-POD-FW-[0-9a-f]{4}\*/);
  };
  /** The agent's network policy rules, in its node's namespace. */
  const policyRules = async (a: NetnsAgent) => (await inNode(a.node, ['iptables', '-w', '5', '-S'])).split('\n').filter((l) => /SKIFF-(POD-FW|NWPLCY)-/.test(l));
  /** From a client pod on A to the web pod on B: 'OK' or 'ERR<curl exit>'. */
  const reach = async (pod: string): Promise<string> => {
    const r = await k(['-n', NS, 'exec', pod, '--', 'sh', '-c', `curl -s -o /dev/null --connect-timeout 1 -m 2 http://${ips.web}:8080/ && echo OK || echo ERR$?`], { timeoutMs: 20_000 });
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim();
  };
  const expectReach = (pod: string, want: string) => eventually(`${pod} → web: ${want}`, async () => (await reach(pod)) === want, 20_000);
  const apply = async (yaml: string) => {
    const r = await k(['apply', '-f', '-'], { input: yaml });
    assert.equal(r.code, 0, r.stderr);
  };

  before(async () => {
    topology = await makeNetnsNodes({ prefix, links: [2] });
    serverDir = await mkdtemp(`/tmp/sknp-s-${suffix}-`);
    const hostIps = [...new Set(topology.nodes.map((n) => n.hostIp))];
    server = await spawnServer(['--data-dir', serverDir, '--https-listen-port', '0', '--cluster-cidr', CLUSTER_CIDR, '--service-cidr', SERVICE_CIDR, '--disable', 'coredns,ingress,servicelb', ...hostIps.flatMap((ip) => ['--tls-san', ip])], 60_000);
    k = kubectlFor(join(serverDir, 'kubeconfig.yaml'));
    token = (await readFile(join(serverDir, 'server', 'token'), 'utf8')).trim();
    for (const [i, letter] of ['a', 'b'].entries()) {
      const dataDir = await mkdtemp(`/tmp/sknp-${letter}-${suffix}-`);
      agents.push({ name: `np-${letter}-${suffix}`, node: topology.nodes[i]!, dataDir, out: '' });
    }
    await Promise.all(agents.map((a) => startAgent(a)));
    await createNamespace(k, NS);
    const [a, b] = agents as [NetnsAgent, NetnsAgent];
    for (const n of [a, b]) await waitNodeReady(k, n.name, 30_000);
    const web = `require('http').createServer((q, s) => s.end('web')).listen(8080)`;
    const pod = (name: string, node: string, labels: Record<string, string>, container: object) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: NS, labels }, spec: { nodeName: node, terminationGracePeriodSeconds: 1, containers: [container] } });
    const manifests = [
      pod('web', b.name, { app: 'web' }, { name: 'web', image: 'node', command: ['node', '-e', web], ports: [{ name: 'http', containerPort: 8080 }] }),
      pod('client', a.name, { role: 'client' }, { name: 'c', image: 'busybox', command: ['sleep', '3600'] }),
      pod('stranger', a.name, { role: 'stranger' }, { name: 'c', image: 'busybox', command: ['sleep', '3600'] }),
    ];
    await apply(manifests.map((m) => JSON.stringify(m)).join('\n'));
    for (const name of ['web', 'client', 'stranger']) {
      const p = await eventually(`pod ${name} running with an IP`, async () => {
        const p = await k.json(['get', 'pod', '-n', NS, name]);
        seenUids.add(p.metadata.uid);
        return p.status?.phase === 'Running' && p.status.podIP && p.status.containerStatuses?.[0]?.ready ? p : undefined;
      }, 60_000);
      ips[name] = p.status.podIP;
    }
  });

  after(async () => {
    const { leftovers } = await tearDownNetnsCluster({ server, k, ns: NS, agents, serverDir, topology, prefix, podUids: seenUids });
    assert.deepEqual(leftovers, [], 'nothing of the test is left on the host');
  });

  test('before any policy both clients on A reach the web pod on B', async () => {
    assert.notEqual(ips.web!.split('.')[2], ips.client!.split('.')[2], 'the pods are in different podCIDRs (different nodes)');
    await expectReach('client', 'OK');
    await expectReach('stranger', 'OK');
  });

  test('ingress: B enforces the policy for its pod; A has nothing to enforce', async () => {
    const [a, b] = agents as [NetnsAgent, NetnsAgent];
    await apply(`{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"deny","namespace":"${NS}"},"spec":{"podSelector":{"matchLabels":{"app":"web"}},"policyTypes":["Ingress"]}}`);
    await expectReach('client', 'ERR28');
    assert.equal(await reach('stranger'), 'ERR28');
    const onB = await policyRules(b);
    assert.ok(onB.some((r) => r.includes(`-d ${ips.web}/32`) && r.includes('ingress')), `B isolates its web pod:\n${onB.join('\n')}`);
    const onA = await policyRules(a);
    assert.ok(!onA.some((r) => /-[sd] 10\.91\./.test(r)), `A isolates none of its pods:\n${onA.join('\n')}`);

    await apply(`{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"from-clients","namespace":"${NS}"},"spec":{"podSelector":{"matchLabels":{"app":"web"}},"ingress":[{"from":[{"podSelector":{"matchLabels":{"role":"client"}}}],"ports":[{"port":"http"}]}]}}`);
    await expectReach('client', 'OK');
    assert.equal(await reach('stranger'), 'ERR28', 'the unlabelled pod of node A stays out');
    assert.ok((await policyRules(b)).some((r) => r.includes(`-s ${ips.client}/32`) && r.includes('--dport 8080')), 'B names the client on A, and resolved the named port on its own pod');
  });

  test('egress: A enforces it for its client, before the packet leaves A', async () => {
    const [a, b] = agents as [NetnsAgent, NetnsAgent];
    await apply(`{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"client-no-egress","namespace":"${NS}"},"spec":{"podSelector":{"matchLabels":{"role":"client"}},"policyTypes":["Egress"]}}`);
    await expectReach('client', 'ERR28');
    const onA = await policyRules(a);
    assert.ok(onA.some((r) => r.includes(`-s ${ips.client}/32`) && r.includes('egress')), `A isolates its client:\n${onA.join('\n')}`);
    assert.ok(!(await policyRules(b)).some((r) => r.includes(`-s ${ips.client}/32`) && r.includes('egress')), "B does not enforce A's pod's egress");
    // Dropped on A: B's FORWARD never counts a packet from the client after this point (the web pod's ingress chain).
    const counts = async () => (await inNode(b.node, ['iptables', '-w', '5', '-v', '-x', '-n', '-L', 'FORWARD'])).split('\n').filter((l) => l.includes('SKIFF-POD-FW-'));
    const before = await counts();
    assert.equal(before.length, 1, `B's FORWARD jump to its policy chain: ${before.join('\n')}`);
    assert.equal(await reach('client'), 'ERR28');
    assert.deepEqual(await counts(), before, "nothing of the dropped connection reached B's FORWARD chain");
    await apply(`{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"client-to-pods","namespace":"${NS}"},"spec":{"podSelector":{"matchLabels":{"role":"client"}},"policyTypes":["Egress"],"egress":[{"to":[{"ipBlock":{"cidr":"${CLUSTER_CIDR}"}}],"ports":[{"protocol":"TCP","port":8080}]}]}}`);
    await expectReach('client', 'OK');
  });
});
