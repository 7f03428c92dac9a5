/**
 * ServiceLB with externalTrafficPolicy Local, end to end on two nodes: a server on the host and two `skiff agent`s
 * (process runtime, iptables proxy) in network namespaces of their own on one link (test/helpers/netns-nodes.ts). The
 * Service's one pod runs on node A. As k3s (svclb pods only on nodes with a local endpoint): the Service's status lists
 * A's address only, A answers and the pod sees the client's own address (no masquerade), B does not answer; when the
 * pod moves to B, the status follows. The client is the host, reaching the nodes through the test's router.
 * Run from dist/ (it spawns bin/skiff):
 *   npx tsc -p tsconfig.json && node --test dist/test/servicelb-local.e2e.test.js
 * Needs root, nsenter, the CNI plugins and kubectl; skips with the reason otherwise (fails under CI=true).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import http from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { needsCni, needsFile, needsRoot, skipIfMissing } from './helpers/e2e-prereqs.js';
import { eventually } from './helpers/eventually.js';
import { kubectlFor, type Kubectl } from './helpers/kubectl.js';
import { startNetnsAgent, tearDownNetnsCluster, type NetnsAgent } from './helpers/netns-agent.js';
import { makeNetnsNodes, type NetnsTopology } from './helpers/netns-nodes.js';
import { spawnServer, type ServerProcess } from './helpers/server-process.js';

const skipReason = () => skipIfMissing(needsRoot('network namespaces, veths, bridges, iptables and CNI') ?? needsCni() ?? needsFile('/usr/bin/nsenter', 'nsenter (util-linux) is not installed'));

const CLUSTER_CIDR = '10.95.0.0/16';
const SERVICE_CIDR = '10.96.0.0/16';
const NS = 'servicelb-local';
const LB_PORT = 27000 + (randomBytes(2).readUInt16BE(0) % 1000);
/** The pod answers with the address the connection came from. */
const ECHO_PEER = `require('http').createServer((q, s) => s.end(JSON.stringify({ pod: require('os').hostname(), peer: q.socket.remoteAddress }))).listen(8080)`;

function get(host: string, port: number): Promise<{ pod: string; peer: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path: '/', agent: false, timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body));
        } catch (err) {
          reject(err);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}

describe('ServiceLB, externalTrafficPolicy Local: only nodes with a local endpoint answer, and the pod sees the client', { skip: skipReason() }, () => {
  const suffix = randomBytes(3).toString('hex');
  const prefix = `skl${suffix.slice(0, 4)}`;
  let topology: NetnsTopology | undefined;
  let serverDir: string;
  let server: ServerProcess | undefined;
  let k: Kubectl;
  const agents: NetnsAgent[] = [];
  const seenUids = new Set<string>();

  const pod = (nodeName: string) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'echo', namespace: NS, labels: { app: 'echo' } },
    spec: {
      nodeName,
      terminationGracePeriodSeconds: 1,
      containers: [{ name: 'echo', image: 'node', command: ['node', '-e', ECHO_PEER], readinessProbe: { httpGet: { path: '/', port: 8080 }, periodSeconds: 1 } }],
    },
  });
  const lbIPs = async (): Promise<string[]> => ((await k.json(['-n', NS, 'get', 'service', 'echo-lb'])).status?.loadBalancer?.ingress ?? []).map((i: { ip: string }) => i.ip).sort();
  const runningOn = async (nodeName: string) => {
    const r = await k(['apply', '-f', '-'], { input: JSON.stringify(pod(nodeName)) });
    assert.equal(r.code, 0, r.stderr);
    const p = await eventually(`the pod Ready on ${nodeName}`, async () => {
      const v = await k.json(['-n', NS, 'get', 'pod', 'echo']);
      return v.status?.conditions?.some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True') ? v : undefined;
    }, 60_000);
    seenUids.add(p.metadata.uid);
    return p;
  };

  /**
   * Until the Service has its status, the node's ServiceLB listener forwards (and the pod sees the node); once the
   * status names the node, the service proxy's rules for that address take the traffic first and DNAT it to the local
   * endpoint without masquerading (kube-proxy's Local policy), so the pod sees the client. Then it stays so.
   */
  const clientSeen = async (n: NetnsAgent) => {
    const peers: string[] = [];
    await eventually(`the pod seeing the client's own address through ${n.name}`, async () => {
      const r = await get(n.node.ip, LB_PORT).catch(() => undefined);
      if (r) peers.push(r.peer.replace(/^::ffff:/, ''));
      return peers.at(-1) === n.node.hostIp;
    }, 20_000).catch((err: Error) => assert.fail(`${err.message}; peers seen: ${peers.join(', ')}`));
    for (let i = 0; i < 5; i++) assert.equal((await get(n.node.ip, LB_PORT)).peer.replace(/^::ffff:/, ''), n.node.hostIp);
  };

  before(async () => {
    topology = await makeNetnsNodes({ prefix, links: [2] });
    serverDir = await mkdtemp(`/tmp/skl-s-${suffix}-`);
    const hostIps = [...new Set(topology.nodes.map((n) => n.hostIp))];
    server = await spawnServer(['--data-dir', serverDir, '--https-listen-port', '0', '--cluster-cidr', CLUSTER_CIDR, '--service-cidr', SERVICE_CIDR, ...hostIps.flatMap((ip) => ['--tls-san', ip])], 60_000);
    k = kubectlFor(join(serverDir, 'kubeconfig.yaml'));
    const token = (await readFile(join(serverDir, 'server', 'token'), 'utf8')).trim();
    for (const [i, letter] of ['a', 'b'].entries()) {
      agents.push({ name: `slb-${letter}-${suffix}`, node: topology.nodes[i]!, dataDir: await mkdtemp(`/tmp/skl-${letter}-${suffix}-`), out: '' });
    }
    // Only ServiceLB is under test: the ingress on ports of its own, out of the way of other tests. The agents take
    // the cluster CIDR from the server.
    const extra = ['--proxy-mode', 'iptables', '--ingress-http-port', '0', '--ingress-https-port', '0'];
    await Promise.all(agents.map((a) => startNetnsAgent(a, { serverPort: server!.port, token, extra })));
    assert.equal((await k(['create', 'namespace', NS])).code, 0);
  });

  after(async () => {
    const { leftovers } = await tearDownNetnsCluster({ server, k, ns: NS, agents, serverDir, topology, prefix, podUids: seenUids });
    assert.deepEqual(leftovers, [], 'nothing of the test is left on the host');
  });

  test("the node with the pod answers with the client's address; the other does not answer and is not in the status", async () => {
    const [a, b] = agents as [NetnsAgent, NetnsAgent];
    await runningOn(a.name);
    const svc = await k(['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'echo-lb', namespace: NS },
        spec: { type: 'LoadBalancer', externalTrafficPolicy: 'Local', selector: { app: 'echo' }, ports: [{ name: 'http', port: LB_PORT, targetPort: 8080 }] },
      }),
    });
    assert.equal(svc.code, 0, svc.stderr);
    await eventually("the status with A's address", async () => (await lbIPs()).length > 0, 30_000);
    assert.deepEqual(await lbIPs(), [a.node.ip]);

    await clientSeen(a);
    await assert.rejects(get(b.node.ip, LB_PORT), 'B has no local endpoint and does not answer');
  });

  test('the pod moves to B: the status and the answering node follow', async () => {
    const [a, b] = agents as [NetnsAgent, NetnsAgent];
    const del = await k(['-n', NS, 'delete', 'pod', 'echo', '--wait=true', '--timeout=30s'], { timeoutMs: 40_000 });
    assert.equal(del.code, 0, del.stderr);
    await runningOn(b.name);
    await eventually("the status with B's address only", async () => JSON.stringify(await lbIPs()) === JSON.stringify([b.node.ip]), 30_000);
    await clientSeen(b);
    await assert.rejects(get(a.node.ip, LB_PORT), 'A no longer answers');
  });
});
