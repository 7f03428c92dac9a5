/**
 * Cluster DNS end to end: `skiff server` (a child process, embedded agent, --runtime process, its own cluster and
 * service CIDRs 10.73.0.0/16 and 10.83.0.0/16) and the real kubectl. Services made with kubectl are answered by the DNS
 * server at the address the kube-dns EndpointSlice publishes, queried from the test process (UDP and TCP) and from
 * inside a pod's network namespace; a ClusterFirst pod's resolv.conf names --cluster-dns. The lookup through the
 * ClusterIP (10.83.0.10) needs the service proxy and is skipped while `skiff server --help` has no --proxy-mode.
 *
 * Needs root (pod namespaces, cgroups, CNI); skips otherwise, except under CI=true.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import { cleanUpAgentServer, createNamespace, startAgentServer } from './helpers/agent-server.js';
import { queryTcp, queryUdp } from './helpers/dns-query.js';
import { e2eSkipReason } from './helpers/e2e-prereqs.js';
import { eventually } from './helpers/eventually.js';
import { applyFile, kubectlFor, type Kubectl } from './helpers/kubectl.js';
import { SKIFF_BIN, type ServerProcess } from './helpers/server-process.js';
import { docs, nodeDeployment, sleeperPod } from './helpers/workloads.js';

const skipReason = () =>
  e2eSkipReason({
    prereqs: ['/usr/bin/unshare', '/usr/bin/nsenter', '/usr/bin/getent', '/usr/lib/cni/bridge', '/usr/lib/cni/host-local'],
    notRoot: 'pods on the process runtime need root; skipping the cluster DNS end-to-end test',
    what: 'the cluster DNS end-to-end test',
  });

const suffix = randomBytes(3).toString('hex');
const NODE = `e2e-dns-${suffix}`;
const NS = `e2e-dns-${suffix}`;
const CLUSTER_DNS = '10.83.0.10';

/** Whether this build has the service proxy (the ClusterIP case needs it). */
function proxyPresent(): boolean {
  const help = execFileSync(process.execPath, [SKIFF_BIN, 'server', '--help'], { encoding: 'utf8' });
  return /--proxy-mode/.test(help);
}

describe('cluster DNS end to end: skiff server, real kubectl, pods on the process runtime', { skip: skipReason() }, () => {
  let dataDir: string;
  let server: ServerProcess | undefined;
  let k: Kubectl;
  let dnsAddress = '';
  let dnsPort = 0;
  const podUids = new Set<string>();

  const exec = async (pod: string, cmd: string[]) => {
    const r = await k(['-n', NS, 'exec', pod, '--', ...cmd], { timeoutMs: 20_000 });
    return r;
  };

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'skiff-e2e-dns-'));
    k = kubectlFor(join(dataDir, 'kubeconfig.yaml'));
    server = await startAgentServer(
      ['--data-dir', dataDir, '--node-name', NODE, '--runtime', 'process', '--cluster-cidr', '10.73.0.0/16', '--service-cidr', '10.83.0.0/16', '--kubelet-port', '0', '--https-listen-port', '0', '--bind-address', '127.0.0.1'],
      { timeoutMs: 40_000, failure: /cluster DNS did not start/ },
    );
    await createNamespace(k, NS);
    const web = `require('http').createServer((q, s) => s.end('web')).listen(8080)`;
    await applyFile(
      k,
      dataDir,
      'dns.yaml',
      docs(
        nodeDeployment(NS, 'web', 2, [{ name: 'web', script: web, ports: [{ name: 'http', containerPort: 8080 }] }]),
        sleeperPod(NS, 'client', 'node'),
        `
apiVersion: v1
kind: Service
metadata: {name: web, namespace: ${NS}}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: ${NS}}
spec:
  clusterIP: None
  selector: {role: db}
  ports: [{name: pg, port: 5432}]
---
apiVersion: v1
kind: Service
metadata: {name: ext, namespace: ${NS}}
spec: {type: ExternalName, externalName: www.example.org}
---
apiVersion: v1
kind: Pod
metadata: {name: db-0, namespace: ${NS}, labels: {role: db}}
spec:
  hostname: db-0
  subdomain: db
  terminationGracePeriodSeconds: 1
  containers:
  - {name: db, image: node, command: [node, -e, ${JSON.stringify(web.replace('8080', '5432'))}], ports: [{name: pg, containerPort: 5432}]}`,
      ),
    );
    for (const p of ['db-0', 'client']) {
      const r = await k(['-n', NS, 'wait', '--for=condition=ready', `pod/${p}`, '--timeout=40s'], { timeoutMs: 45_000 });
      assert.equal(r.code, 0, r.stderr);
    }
    const r = await k(['-n', NS, 'wait', '--for=condition=available', 'deployment/web', '--timeout=40s'], { timeoutMs: 45_000 });
    assert.equal(r.code, 0, r.stderr);
  });

  after(async () => {
    const s = server;
    await cleanUpAgentServer({
      server,
      k,
      ns: NS,
      dataDir,
      podUids,
      beforeClean: async () => {
        if (s && process.env.SKIFF_E2E_SERVER_LOG) writeFileSync(process.env.SKIFF_E2E_SERVER_LOG, s.output());
      },
    });
  });

  it('skiff keeps the kube-dns Service (no selector, --cluster-dns) and an EndpointSlice of its own at the DNS address', async () => {
    const svc = await k.json(['-n', 'kube-system', 'get', 'service', 'kube-dns']);
    assert.equal(svc.spec.clusterIP, CLUSTER_DNS, 'the 10th address of --service-cidr');
    assert.equal(svc.spec.selector, undefined);
    assert.deepEqual(svc.spec.ports.map((p: any) => `${p.name}/${p.port}/${p.protocol}`), ['dns/53/UDP', 'dns-tcp/53/TCP']);
    const slice = await k.json(['-n', 'kube-system', 'get', 'endpointslice', `kube-dns-${NODE}`]);
    assert.equal(slice.metadata.labels['endpointslice.kubernetes.io/managed-by'], 'cluster-dns.skiff.io');
    assert.equal(slice.metadata.labels['kubernetes.io/service-name'], 'kube-dns');
    assert.equal(slice.metadata.ownerReferences[0].uid, svc.metadata.uid);
    const node = await k.json(['get', 'node', NODE]);
    const internalIP = node.status.addresses.find((a: any) => a.type === 'InternalIP').address;
    dnsAddress = slice.endpoints[0].addresses[0];
    assert.equal(dnsAddress, internalIP, 'DNS listens on the node address pods reach');
    dnsPort = slice.ports.find((p: any) => p.name === 'dns').port;
    assert.equal(slice.ports.find((p: any) => p.name === 'dns-tcp').port, dnsPort);
    assert.match(server!.output(), new RegExp(`cluster DNS for cluster.local on ${dnsAddress.replace(/\./g, '\\.')}:${dnsPort}`));

    // Deleted by a user, it comes back.
    assert.equal((await k(['-n', 'kube-system', 'delete', 'endpointslice', `kube-dns-${NODE}`])).code, 0);
    await eventually('the kube-dns EndpointSlice back', async () => (await k(['-n', 'kube-system', 'get', 'endpointslice', `kube-dns-${NODE}`])).code === 0, 10_000);
  });

  it('answers kubectl-made Services at its address over UDP and TCP: ClusterIP, headless, hostname+subdomain, SRV, ExternalName, PTR, pods', async () => {
    assert.ok(dnsPort > 0, 'the first test found the DNS address');
    const web = await k.json(['-n', NS, 'get', 'service', 'web']);
    const db0 = await k.json(['-n', NS, 'get', 'pod', 'db-0']);
    const data = (r: any) => (r.answers ?? []).map((a: any) => (typeof a.data === 'object' ? `${a.data.port} ${a.data.target}` : a.data)).sort();
    await eventually('the headless Service has its endpoint', async () => data(await queryUdp(dnsPort, `db.${NS}.svc.cluster.local`, 'A', { host: dnsAddress })).length === 1, 10_000);

    assert.deepEqual(data(await queryUdp(dnsPort, `web.${NS}.svc.cluster.local`, 'A', { host: dnsAddress })), [web.spec.clusterIP]);
    assert.deepEqual(data(await queryUdp(dnsPort, `db.${NS}.svc.cluster.local`, 'A', { host: dnsAddress })), [db0.status.podIP]);
    assert.deepEqual(data(await queryUdp(dnsPort, `db-0.db.${NS}.svc.cluster.local`, 'A', { host: dnsAddress })), [db0.status.podIP]);
    assert.deepEqual(data(await queryUdp(dnsPort, `_http._tcp.web.${NS}.svc.cluster.local`, 'SRV', { host: dnsAddress })), [`80 web.${NS}.svc.cluster.local`]);
    assert.deepEqual(data(await queryUdp(dnsPort, `_pg._tcp.db.${NS}.svc.cluster.local`, 'SRV', { host: dnsAddress })), [`5432 db-0.db.${NS}.svc.cluster.local`]);
    assert.deepEqual(data(await queryUdp(dnsPort, `ext.${NS}.svc.cluster.local`, 'A', { host: dnsAddress })), ['www.example.org']);
    const rev = web.spec.clusterIP.split('.').reverse().join('.');
    assert.deepEqual(data(await queryUdp(dnsPort, `${rev}.in-addr.arpa`, 'PTR', { host: dnsAddress })), [`web.${NS}.svc.cluster.local`]);
    assert.deepEqual(data(await queryUdp(dnsPort, `10-73-0-99.${NS}.pod.cluster.local`, 'A', { host: dnsAddress })), ['10.73.0.99']);
    assert.deepEqual(data(await queryUdp(dnsPort, `kubernetes.default.svc.cluster.local`, 'A', { host: dnsAddress })), ['10.83.0.1']);
    assert.deepEqual(data(await queryUdp(dnsPort, `kube-dns.kube-system.svc.cluster.local`, 'A', { host: dnsAddress })), [CLUSTER_DNS]);
    const nx = await queryUdp(dnsPort, `nope.${NS}.svc.cluster.local`, 'A', { host: dnsAddress });
    assert.equal(nx.rcode, 'NXDOMAIN');
    const [tcp] = await queryTcp(dnsPort, [{ name: `web.${NS}.svc.cluster.local`, type: 'A' }], dnsAddress);
    assert.deepEqual(data(tcp), [web.spec.clusterIP]);

    // The headless Service follows its pod: deleted, the name has no address left.
    assert.equal((await k(['-n', NS, 'delete', 'pod', 'db-0', '--wait=false'])).code, 0);
    await eventually('db without addresses', async () => data(await queryUdp(dnsPort, `db.${NS}.svc.cluster.local`, 'A', { host: dnsAddress })).length === 0, 15_000);
  });

  it("a ClusterFirst pod's resolv.conf names --cluster-dns with the search path, and the pod resolves at the DNS address", async () => {
    assert.ok(dnsPort > 0);
    const conf = await exec('client', ['cat', '/etc/resolv.conf']);
    assert.equal(conf.code, 0, conf.stderr);
    assert.match(conf.stdout, new RegExp(`^nameserver ${CLUSTER_DNS.replace(/\./g, '\\.')}$`, 'm'));
    assert.match(conf.stdout, new RegExp(`^search ${NS}\\.svc\\.cluster\\.local svc\\.cluster\\.local cluster\\.local`, 'm'));
    assert.match(conf.stdout, /^options ndots:5$/m);
    // From the pod's network namespace to the node address (what the proxy's DNAT of 10.83.0.10 leads to).
    const web = await k.json(['-n', NS, 'get', 'service', 'web']);
    const script = `const r = new (require('dns').promises.Resolver)(); r.setServers(['${dnsAddress}:${dnsPort}']); r.resolve4('web.${NS}.svc.cluster.local').then((a) => console.log(a.join(',')), (e) => { console.error(e.code); process.exit(1); });`;
    const r = await exec('client', ['node', '-e', script]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), web.spec.clusterIP);
  });

  it('a dnsPolicy None pod with the DNS address as its nameserver resolves a short name with getent', async (t) => {
    assert.ok(dnsPort > 0);
    if (dnsPort !== 53) {
      t.skip(`port 53 on ${dnsAddress} was taken (cluster DNS is on port ${dnsPort}), and resolv.conf cannot name a port`);
      return;
    }
    await applyFile(
      k,
      dataDir,
      'none.yaml',
      `
apiVersion: v1
kind: Pod
metadata: {name: none, namespace: ${NS}}
spec:
  terminationGracePeriodSeconds: 1
  dnsPolicy: None
  dnsConfig: {nameservers: [${dnsAddress}], searches: [${NS}.svc.cluster.local, svc.cluster.local, cluster.local], options: [{name: ndots, value: "5"}]}
  containers:
  - {name: c, image: node, command: [sleep, "3600"]}
`,
    );
    assert.equal((await k(['-n', NS, 'wait', '--for=condition=ready', 'pod/none', '--timeout=30s'], { timeoutMs: 35_000 })).code, 0);
    const web = await k.json(['-n', NS, 'get', 'service', 'web']);
    const r = await exec('none', ['getent', 'hosts', 'web']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^${web.spec.clusterIP.replace(/\./g, '\\.')}\\s+web\\.${NS}\\.svc\\.cluster\\.local`));
  });

  it('through the ClusterIP: a ClusterFirst pod resolves web.NS.svc.cluster.local via the service proxy', async (t) => {
    if (!proxyPresent()) {
      t.skip('no service proxy yet (`skiff server --help` has no --proxy-mode): 10.83.0.10 is not reachable from pods');
      return;
    }
    const web = await k.json(['-n', NS, 'get', 'service', 'web']);
    await eventually(
      'getent through 10.83.0.10',
      async () => {
        const r = await exec('client', ['getent', 'hosts', `web.${NS}.svc.cluster.local`]);
        return r.code === 0 && r.stdout.startsWith(web.spec.clusterIP) ? r : false;
      },
      15_000,
    );
  });
});
