/**
 * End to end: the pod network across nodes, as k3s's flannel makes it. A `skiff server` on the host (control plane
 * only) and three `skiff agent` processes, each in a network namespace of its own, linked through a router namespace
 * of the test's (test/helpers/netns-nodes.ts; the host's netfilter and sysctls play no part between nodes): agents A and
 * B share one link (host-gw between them), C is on another subnet that the router routes to (vxlan to C). Every agent runs the process runtime with its own data dir. Pods on A reach pods on B
 * and on C by pod IP, with their own source address (not masqueraded); deleting node C removes the other agents'
 * routes, neighbour and FDB entries for it. Run from dist/ (it spawns bin/skiff):
 *   npx tsc -p tsconfig.json && node --test dist/test/multinode-network.e2e.test.js
 * Needs root (namespaces, veths, bridges, vxlan, CNI) and kubectl; skips with the reason otherwise (fails under CI=true).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { needsCni, needsFile, needsRoot, skipIfMissing } from './helpers/e2e-prereqs.js';
import { eventually } from './helpers/eventually.js';
import { kubectlFor, type Kubectl } from './helpers/kubectl.js';
import { startNetnsAgent, stopNetnsAgent, tearDownNetnsCluster, type NetnsAgent } from './helpers/netns-agent.js';
import { inNode, makeNetnsNodes, type NetnsNode, type NetnsTopology } from './helpers/netns-nodes.js';
import { spawnServer, type ServerProcess } from './helpers/server-process.js';

const skipReason = () => skipIfMissing(needsRoot('network namespaces, veths, bridges, vxlan and CNI') ?? needsCni() ?? needsFile('/usr/bin/nsenter', 'nsenter (util-linux) is not installed'));

const CLUSTER_CIDR = '10.72.0.0/16';
const SERVICE_CIDR = '10.82.0.0/16';
const NS = 'multinode-net';

describe('pods on different nodes reach each other (host-gw on a shared link, vxlan across subnets)', { skip: skipReason() }, () => {
  const suffix = randomBytes(3).toString('hex');
  const prefix = `skmn${suffix.slice(0, 4)}`;
  let topology: NetnsTopology | undefined;
  let serverDir: string;
  let server: ServerProcess | undefined;
  let k: Kubectl;
  const agents: NetnsAgent[] = [];
  const seenUids = new Set<string>();
  const timings: Record<string, number> = {};

  let token: string;
  const startAgent = async (a: NetnsAgent, extra: string[] = []) => {
    await startNetnsAgent(a, { serverPort: server!.port, token, clusterCIDR: CLUSTER_CIDR, extra });
  };

  const stopAgent = stopNetnsAgent;

  const routeTo = async (n: NetnsNode, dst: string) => JSON.parse(await inNode(n, ['ip', '-j', '-4', 'route', 'show', dst])) as Array<{ dst: string; gateway?: string; dev?: string; flags?: string[] }>;
  const podCidrOf = async (name: string) => (await k.json(['get', 'node', name])).spec.podCIDR as string;

  before(async () => {
    const started = performance.now();
    topology = await makeNetnsNodes({ prefix, links: [2, 1] });
    serverDir = await mkdtemp(`/tmp/skmn-s-${suffix}-`);
    const hostIps = [...new Set(topology.nodes.map((n) => n.hostIp))];
    server = await spawnServer(['--data-dir', serverDir, '--https-listen-port', '0', '--cluster-cidr', CLUSTER_CIDR, '--service-cidr', SERVICE_CIDR, ...hostIps.flatMap((ip) => ['--tls-san', ip])], 60_000);
    k = kubectlFor(join(serverDir, 'kubeconfig.yaml'));
    token = (await readFile(join(serverDir, 'server', 'token'), 'utf8')).trim();
    for (const [i, letter] of ['a', 'b', 'c'].entries()) {
      const dataDir = await mkdtemp(`/tmp/skmn-${letter}-${suffix}-`);
      agents.push({ name: `mn-${letter}-${suffix}`, node: topology.nodes[i]!, dataDir, out: '' });
    }
    await Promise.all(agents.map((a) => startAgent(a)));
    timings.clusterUpMs = Math.round(performance.now() - started);
    const r = await k(['create', 'namespace', NS]);
    assert.equal(r.code, 0, r.stderr);
  });

  after(async () => {
    const extraPaths = ['b', 'c'].map((x) => `/tmp/skmn-www-${suffix}-${x}`);
    const { removed, leftovers } = await tearDownNetnsCluster({ server, k, ns: NS, agents, serverDir, topology, prefix, podUids: seenUids, extraPaths });
    if (topology) console.log(`removed: ${removed.join(', ')}`);
    console.log(`timings: ${JSON.stringify(timings)}`);
    assert.deepEqual(leftovers, [], 'nothing of the test is left on the host');
  });

  const web = (name: string, node: string, www: string) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NS, labels: { app: name } },
    spec: {
      nodeName: node,
      terminationGracePeriodSeconds: 1,
      containers: [{ name: 'web', image: 'busybox', command: ['sh', '-c', `echo hello-from-${name} > ${www}/index.html && head -c 300000 /dev/zero | tr '\\0' x > ${www}/big && exec busybox httpd -f -vv -p 8080 -h ${www}`], volumeMounts: [{ name: 'www', mountPath: www }] }],
      volumes: [{ name: 'www', emptyDir: {} }],
    },
  });
  const client = (name: string, node: string) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NS },
    spec: { nodeName: node, terminationGracePeriodSeconds: 1, containers: [{ name: 'c', image: 'busybox', command: ['sleep', '3600'] }] },
  });
  const running = (name: string) =>
    eventually(`pod ${name} running with an IP`, async () => {
      const p = await k.json(['get', 'pod', '-n', NS, name]);
      seenUids.add(p.metadata.uid);
      return p.status?.phase === 'Running' && p.status.podIP && p.status.containerStatuses?.[0]?.ready ? p : undefined;
    }, 60_000);
  /** GET from a client pod to a pod IP; resolves with the body, or throws with wget's words. */
  const fetchFrom = async (pod: string, ip: string) => {
    const r = await k(['exec', '-n', NS, pod, '--', 'wget', '-q', '-T', '3', '-O', '-', `http://${ip}:8080/`], { timeoutMs: 15_000 });
    if (r.code !== 0) throw new Error(`wget from ${pod} to ${ip}: ${r.stderr}`);
    return r.stdout.trim();
  };

  let pods: Record<string, any> = {};
  /** busybox httpd -vv logs `[::ffff:<ip>]:<port>: url:/` per request. */
  const sawClient = (ip: string) => new RegExp(`^\\[(::ffff:)?${ip.replace(/\./g, '\\.')}\\]:\\d+: url:/$`, 'm');

  test('three nodes Ready with podCIDRs of the cluster CIDR; the agents say which backend they use', async () => {
    for (const a of agents) {
      const n = await eventually(`node ${a.name} Ready with a podCIDR`, async () => {
        const node = await k.json(['get', 'node', a.name]);
        return node.spec?.podCIDR && node.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True') ? node : undefined;
      }, 30_000);
      assert.match(n.spec.podCIDR, /^10\.72\.\d+\.0\/24$/);
      assert.ok(n.status.addresses.some((x: any) => x.type === 'InternalIP' && x.address === a.node.ip), JSON.stringify(n.status.addresses));
      assert.match(a.out, /pod network: skiff's bridge .*routes between nodes: host-gw to nodes on a shared link, vxlan to the others/);
    }
    const started = performance.now();
    const manifests: any[] = [web('web-b', agents[1]!.name, `/tmp/skmn-www-${suffix}-b`), web('web-c', agents[2]!.name, `/tmp/skmn-www-${suffix}-c`), client('client-a', agents[0]!.name), client('client-c', agents[2]!.name)];
    for (const m of manifests) if (m.spec.volumes) await mkdir((m.spec.containers[0] as any).volumeMounts[0].mountPath, { recursive: true });
    const r = await k(['apply', '-f', '-'], { input: manifests.map((m) => JSON.stringify(m)).join('\n') });
    assert.equal(r.code, 0, r.stderr);
    pods = Object.fromEntries(await Promise.all(['web-b', 'web-c', 'client-a', 'client-c'].map(async (n) => [n, await running(n)] as const)));
    timings.fourPodsRunningMs = Math.round(performance.now() - started);
  });

  test('host-gw: a pod on A reaches a pod on B (same link) by pod IP, with its own source address', async () => {
    const [a, b] = [agents[0]!, agents[1]!];
    const cidrB = await podCidrOf(b.name);
    const route = await eventually(`A's route to ${cidrB}`, async () => (await routeTo(a.node, cidrB))[0], 20_000);
    assert.equal(route.gateway, b.node.ip, `host-gw: via B's node IP: ${JSON.stringify(route)}`);
    assert.ok(!route.flags?.includes('onlink'));
    const started = performance.now();
    const body = await eventually('A → B over host-gw', () => fetchFrom('client-a', pods['web-b'].status.podIP), 20_000);
    timings.hostGwFirstRequestMs = Math.round(performance.now() - started);
    assert.equal(body, 'hello-from-web-b');
    const logs = await k(['logs', '-n', NS, 'web-b']);
    assert.match(logs.stdout, sawClient(pods['client-a'].status.podIP), `web-b saw the client pod's own IP ${pods['client-a'].status.podIP}, not a masqueraded one:\n${logs.stdout}`);
    // No vxlan between A and B: A's vxlan device exists only because C needs it, and B's entry is not on it.
    const neigh = await inNode(a.node, ['ip', '-j', 'neigh', 'show', 'to', cidrB.replace(/\/24$/, '')]);
    assert.equal(JSON.parse(neigh).length, 0, neigh);
  });

  test('vxlan: pods on A and on C (another subnet, routed by the router) reach each other; VTEP MACs are published', async () => {
    const [a, c] = [agents[0]!, agents[2]!];
    const [cidrA, cidrC] = [await podCidrOf(a.name), await podCidrOf(c.name)];
    const nodeC = await eventually('C publishes its VTEP MAC', async () => (await k.json(['get', 'node', c.name])).metadata.annotations?.['skiff.dev/vtep-mac'], 20_000);
    assert.match(nodeC, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    const route = await eventually(`A's vxlan route to ${cidrC}`, async () => (await routeTo(a.node, cidrC)).find((r) => r.flags?.includes('onlink')), 20_000);
    assert.equal(route.gateway, cidrC.replace(/\/24$/, ''), `via C's VTEP (its podCIDR's network address): ${JSON.stringify(route)}`);
    assert.match(route.dev!, /^skv/);
    const vx = JSON.parse(await inNode(a.node, ['ip', '-j', 'link', 'show', 'dev', route.dev!]))[0];
    assert.equal(vx.mtu, 1450, 'the vxlan device takes its lower link\'s MTU less 50 bytes');
    const fdb = JSON.parse(await inNode(a.node, ['bridge', '-j', 'fdb', 'show', 'dev', route.dev!])) as Array<{ mac: string; dst?: string }>;
    assert.ok(fdb.some((f) => f.mac === nodeC && f.dst === c.node.ip), `FDB entry ${nodeC} → ${c.node.ip}: ${JSON.stringify(fdb)}`);
    // C is off-link to both A and B: both go over its vxlan device.
    const fromC = await routeTo(c.node, cidrA);
    assert.ok(fromC[0]?.flags?.includes('onlink'), JSON.stringify(fromC));

    const started = performance.now();
    assert.equal(await eventually('A → C over vxlan', () => fetchFrom('client-a', pods['web-c'].status.podIP), 20_000), 'hello-from-web-c');
    timings.vxlanFirstRequestMs = Math.round(performance.now() - started);
    assert.equal(await eventually('C → B over vxlan', () => fetchFrom('client-c', pods['web-b'].status.podIP), 20_000), 'hello-from-web-b');
    const logs = await k(['logs', '-n', NS, 'web-c']);
    assert.match(logs.stdout, sawClient(pods['client-a'].status.podIP), `web-c saw the client pod's own IP:\n${logs.stdout}`);
    // A response of many full-size segments: the pods' MTU is the bridge's 1500 and vxlan carries 1450, so this works
    // through path-MTU discovery (flannel lowers the pods' MTU instead).
    const big = await k(['exec', '-n', NS, 'client-a', '--', 'sh', '-c', `wget -q -T 5 -O - http://${pods['web-c'].status.podIP}:8080/big | wc -c`], { timeoutMs: 20_000 });
    assert.equal(big.stdout.trim(), '300000', `300 kB over vxlan: ${big.stderr}`);
    // Ten more requests each way, timed.
    const t0 = performance.now();
    for (let i = 0; i < 10; i++) assert.equal(await fetchFrom('client-a', pods['web-c'].status.podIP), 'hello-from-web-c');
    timings.vxlanTenRequestsViaKubectlExecMs = Math.round(performance.now() - t0);
  });

  test('routes stay while an agent is down (as flannel leaves them); --flannel-backend vxlan on a shared link', async () => {
    const [a, b] = [agents[0]!, agents[1]!];
    const cidrB = await podCidrOf(b.name);
    await stopAgent(a);
    assert.equal((await routeTo(a.node, cidrB))[0]?.gateway, b.node.ip, 'the route to B outlives the stopped agent');
    // From A's namespace itself (its agent is down, so no kubectl exec into client-a): B's pod answers.
    assert.equal((await inNode(a.node, ['curl', '-sS', '-m', '3', `http://${pods['web-b'].status.podIP}:8080/`])).trim(), 'hello-from-web-b');
    const started = performance.now();
    await Promise.all([startAgent(a, ['--flannel-backend', 'vxlan']), stopAgent(b).then(() => startAgent(b, ['--flannel-backend', 'vxlan']))]);
    assert.match(a.out, /routes between nodes: vxlan to every other node/);
    const cidrA = await podCidrOf(a.name);
    for (const [from, to, cidr] of [[a, b, cidrB], [b, a, cidrA]] as const) {
      const route = await eventually(`${from.name}'s vxlan route to ${to.name}`, async () => (await routeTo(from.node, cidr)).find((r) => r.flags?.includes('onlink')), 20_000);
      assert.equal(route.gateway, cidr.replace(/\/24$/, ''), JSON.stringify(route));
    }
    timings.restartTwoAgentsAsVxlanMs = Math.round(performance.now() - started);
    assert.equal(await eventually('A → B over vxlan on the shared link', () => fetchFrom('client-a', pods['web-b'].status.podIP), 20_000), 'hello-from-web-b');
    const logs = await k(['logs', '-n', NS, 'web-b']);
    assert.equal(logs.stdout.match(new RegExp(sawClient(pods['client-a'].status.podIP).source, 'gm'))?.length, 2, `web-b saw client-a's own IP twice (host-gw, then vxlan):\n${logs.stdout}`);
  });

  test('a deleted node loses its routes, neighbour and FDB entries on the other nodes; the others keep theirs', async () => {
    const [a, b, c] = [agents[0]!, agents[1]!, agents[2]!];
    const [cidrB, cidrC] = [await podCidrOf(b.name), await podCidrOf(c.name)];
    const dev = (await routeTo(a.node, cidrC))[0]!.dev!;
    await k(['delete', 'pod', '-n', NS, 'web-c', 'client-c', '--wait=true', '--timeout=30s'], { timeoutMs: 40_000 });
    await stopAgent(c);
    const started = performance.now();
    const r = await k(['delete', 'node', c.name]);
    assert.equal(r.code, 0, r.stderr);
    await eventually(`A's route to ${cidrC} removed`, async () => (await routeTo(a.node, cidrC)).length === 0, 20_000);
    timings.routeRemovedAfterNodeDeleteMs = Math.round(performance.now() - started);
    await eventually(`B's route to ${cidrC} removed`, async () => (await routeTo(b.node, cidrC)).length === 0, 20_000);
    // A and B now use vxlan between them too (previous test): B's entries stay, C's are gone.
    const neigh = JSON.parse(await inNode(a.node, ['ip', '-j', 'neigh', 'show', 'dev', dev])) as Array<{ dst: string }>;
    assert.deepEqual(neigh.map((n) => n.dst), [cidrB.replace(/\/24$/, '')], `only B's VTEP left on ${dev}: ${JSON.stringify(neigh)}`);
    const fdb = (JSON.parse(await inNode(a.node, ['bridge', '-j', 'fdb', 'show', 'dev', dev])) as Array<{ dst?: string }>).filter((f) => f.dst);
    assert.deepEqual(fdb.map((f) => f.dst), [b.node.ip], `only B's FDB entry left on ${dev}: ${JSON.stringify(fdb)}`);
    assert.equal((await routeTo(a.node, cidrB))[0]?.gateway, cidrB.replace(/\/24$/, ''), 'the route to B stays');
    assert.equal(await fetchFrom('client-a', pods['web-b'].status.podIP), 'hello-from-web-b');
  });
});
