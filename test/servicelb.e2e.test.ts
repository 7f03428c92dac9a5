/**
 * ServiceLB end to end: `skiff server` (embedded agent, --runtime process) driven by the real kubectl. A LoadBalancer
 * Service gets the node's address in status.loadBalancer.ingress and answers there (TCP to a Deployment of one-line
 * node HTTP servers, UDP to their echo sidecars); a Service whose port is already taken on the node stays pending with a Warning Event saying
 * why, and gets its address once the port is free; deleting a Service closes its port.
 * Needs root (pod network namespaces, CNI); skips otherwise, except under CI=true.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hardCleanAgent } from './helpers/agent-cleanup.js';
import { cleanUpAgentServer, createNamespace, startAgentServer } from './helpers/agent-server.js';
import { e2eSkipReason } from './helpers/e2e-prereqs.js';
import { eventually } from './helpers/eventually.js';
import { applyFile, kubectlFor, kubectlSkip, type Kubectl } from './helpers/kubectl.js';
import { spawnServer, waitExit, type ServerProcess } from './helpers/server-process.js';
import { httpGet, udpAsk } from './helpers/service-proxy-suite.js';
import { docs, nodeDeployment } from './helpers/workloads.js';

const skipReason = () =>
  e2eSkipReason({
    prereqs: ['/usr/bin/unshare', '/usr/bin/nsenter', '/usr/lib/cni/bridge', '/usr/lib/cni/host-local'],
    notRoot: 'the process runtime needs root for pod namespaces and CNI; skipping the ServiceLB end-to-end test',
    what: 'the ServiceLB end-to-end test',
  });

const suffix = randomBytes(3).toString('hex');
const NODE = `e2e-slb-${suffix}`;
const NS = `e2e-slb-${suffix}`;
const LB_PORT = 26000 + (randomBytes(2).readUInt16BE(0) % 1000) * 2;
const TAKEN_PORT = LB_PORT + 1;
const UDP_PORT = LB_PORT;

const ECHO = `const s = require('dgram').createSocket('udp4'); s.on('message', (m, r) => s.send('echo:' + m + ' from ' + require('os').hostname(), r.port, r.address)); s.bind(5353)`;
const WEB = `require('http').createServer((q, s) => s.end(JSON.stringify({ pod: require('os').hostname(), url: q.url }))).listen(8080)`;

describe('ServiceLB end to end: LoadBalancer Services answer on the node address', { skip: skipReason() }, () => {
  let dataDir: string;
  let server: ServerProcess | undefined;
  let k: Kubectl;
  let nodeIP: string;
  let blocker: net.Server | undefined;

  const svcYaml = (name: string, port: number) => `
apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${NS}}
spec: {type: LoadBalancer, selector: {app: web}, ports: [{name: http, port: ${port}, targetPort: 8080}]}
`;
  const lbIPs = async (name: string): Promise<string[]> => ((await k.json(['-n', NS, 'get', 'service', name])).status?.loadBalancer?.ingress ?? []).map((i: any) => i.ip);

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'skiff-e2e-servicelb-'));
    server = await startAgentServer(
      ['--data-dir', dataDir, '--node-name', NODE, '--runtime', 'process', '--kubelet-port', '0', '--https-listen-port', '0', '--bind-address', '127.0.0.1',
        '--cluster-cidr', '10.74.128.0/17', '--service-cidr', '10.84.128.0/17', '--service-node-port-range', '31250-31299',
        // The ingress is not under test here: out of the way of other tests' ports.
        '--ingress-http-port', '0', '--ingress-https-port', '0'],
    );
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = dataDir;
    k = kubectlFor(join(dataDir, 'kubeconfig.yaml'));
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
    const node = await k.json(['get', 'node', NODE]);
    nodeIP = node.status.addresses.find((a: any) => a.type === 'InternalIP').address;
    await createNamespace(k, NS);
    await applyFile(k, dataDir, 'web.yaml', docs(
      nodeDeployment(NS, 'web', 2, [
        { name: 'web', script: WEB, readinessProbe: { httpGet: { path: '/ready', port: 8080 }, periodSeconds: 1 } },
        { name: 'echo', script: ECHO },
      ]),
      svcYaml('web-lb', LB_PORT),
    ));
    const r = await k(['-n', NS, 'wait', '--for=condition=available', 'deployment/web', '--timeout=60s'], { timeoutMs: 65_000 });
    assert.equal(r.code, 0, r.stderr);
  });

  after(async () => {
    blocker?.close();
    if (process.env.SKIFF_E2E_SERVER_LOG && server) writeFileSync(process.env.SKIFF_E2E_SERVER_LOG, server.output());
    await cleanUpAgentServer({ server, k, ns: NS, dataDir, deleteTimeoutS: 40 });
  });

  it('a LoadBalancer Service gets the node address as its ingress IP and answers there, from both pods', async () => {
    const ips = await eventually('an ingress IP', async () => {
      const v = await lbIPs('web-lb');
      return v.length ? v : undefined;
    }, 30_000);
    assert.deepEqual(ips, [nodeIP]);
    const svc = await k.json(['-n', NS, 'get', 'service', 'web-lb']);
    assert.ok(svc.metadata.finalizers.includes('svccontroller.skiff.dev/servicelb'), 'ServiceLB claimed the Service');
    const pods = new Set<string>();
    await eventually('both pods answering on the LoadBalancer address', async () => {
      const r = await httpGet(nodeIP, LB_PORT, 3000, '/hello');
      assert.equal(r.status, 200);
      const body = JSON.parse(r.body);
      assert.equal(body.url, '/hello');
      pods.add(body.pod);
      return pods.size === 2;
    }, 30_000);
  });

  it('a UDP LoadBalancer Service answers datagrams on the node address, from both pods', async () => {
    await applyFile(k, dataDir, 'udp.yaml', `
apiVersion: v1
kind: Service
metadata: {name: udp-lb, namespace: ${NS}}
spec: {type: LoadBalancer, selector: {app: web}, ports: [{name: echo, port: ${UDP_PORT}, targetPort: 5353, protocol: UDP}]}
`);
    assert.deepEqual(await eventually('an ingress IP for the UDP Service', async () => {
      const v = await lbIPs('udp-lb');
      return v.length ? v : undefined;
    }, 30_000), [nodeIP]);
    const from = new Set<string>();
    await eventually('replies from both pods on the LoadBalancer address', async () => {
      // A socket per datagram: a new source port is a new flow, so ServiceLB may pick another pod.
      const reply = await udpAsk(nodeIP, UDP_PORT, 'ping');
      const m = /^echo:ping from (\S+)$/.exec(reply ?? '');
      if (m) from.add(m[1]!);
      return from.size === 2;
    }, 30_000);
  });

  it('a port already taken on the node leaves the Service pending with a Warning Event, until the port is free', async () => {
    blocker = net.createServer((s) => s.end('not the service\n'));
    await new Promise<void>((resolve, reject) => blocker!.once('error', reject).listen(TAKEN_PORT, '0.0.0.0', () => resolve()));
    await applyFile(k, dataDir, 'taken.yaml', svcYaml('taken-lb', TAKEN_PORT));
    const event = await eventually('the Warning Event', async () => {
      const list = await k.json(['-n', NS, 'get', 'events', '--field-selector', 'involvedObject.name=taken-lb']);
      return list.items.find((e: any) => e.type === 'Warning' && e.reason === 'UnavailableLoadBalancer');
    }, 30_000);
    assert.match(event.message, /0\/1 nodes are available: 1 node\(s\) didn't have free ports for the requested pod ports/);
    assert.match(event.message, new RegExp(`${TAKEN_PORT}/TCP`));
    assert.match(event.message, /already in use/);
    assert.deepEqual(await lbIPs('taken-lb'), []);
    const printed = await k(['-n', NS, 'get', 'service', 'taken-lb', '--no-headers']);
    assert.match(printed.stdout, /<pending>/);

    // The agent retries; once the port is free the Service gets its address.
    await new Promise((r) => blocker!.close(r));
    blocker = undefined;
    const ips = await eventually('the address once the port is free', async () => {
      const v = await lbIPs('taken-lb');
      return v.length ? v : undefined;
    }, 30_000);
    assert.deepEqual(ips, [nodeIP]);
    assert.equal((await httpGet(nodeIP, TAKEN_PORT, 3000)).status, 200);
  });

  it('deleting a LoadBalancer Service releases its claim and closes its port', async () => {
    const r = await k(['-n', NS, 'delete', 'service', 'taken-lb', '--timeout=20s'], { timeoutMs: 25_000 });
    assert.equal(r.code, 0, r.stderr);
    await eventually('the port closed', async () => {
      try {
        await httpGet(nodeIP, TAKEN_PORT, 3000);
        return false;
      } catch (err) {
        return /ECONNREFUSED/.test((err as Error).message);
      }
    }, 15_000);
  });
});

describe('--disable ingress and --disable servicelb undo what an earlier start set up', { skip: kubectlSkip() }, () => {
  let dataDir: string;
  let server: ServerProcess | undefined;
  let k: Kubectl;
  const start = async (extra: string[]) => {
    // A control plane only (no agent): the server halves are what --disable turns off.
    server = await spawnServer(['--data-dir', dataDir, '--https-listen-port', '0', '--bind-address', '127.0.0.1', '--service-cidr', '10.84.128.0/17', '--service-node-port-range', '31250-31299', ...extra], 30_000);
  };
  const stop = async () => {
    const child = server?.child;
    server = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await waitExit(child);
    clearTimeout(timer);
  };

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'skiff-e2e-disable-'));
    await start([]);
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = dataDir;
    k = kubectlFor(join(dataDir, 'kubeconfig.yaml'));
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
  });
  after(async () => {
    await stop();
    if (dataDir) await hardCleanAgent({ dataDir });
  });

  it('enabled: IngressClass skiff exists and a LoadBalancer Service is claimed (pending: no node answers)', async () => {
    await eventually('IngressClass skiff', async () => (await k(['get', 'ingressclass', 'skiff'])).code === 0, 20_000);
    await applyFile(k, dataDir, 'lb.yaml', `
apiVersion: v1
kind: Service
metadata: {name: lb, namespace: default}
spec: {type: LoadBalancer, selector: {app: x}, ports: [{port: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: metallb, namespace: default}
spec: {type: LoadBalancer, loadBalancerClass: metallb.io/metallb, selector: {app: x}, ports: [{port: 8081}]}
`);
    await eventually('the claim', async () => ((await k.json(['get', 'service', 'lb'])).metadata.finalizers ?? []).includes('svccontroller.skiff.dev/servicelb'), 20_000);
    const event = await eventually('the Warning Event', async () => (await k.json(['get', 'events', '--field-selector', 'involvedObject.name=lb'])).items.find((e: any) => e.reason === 'UnavailableLoadBalancer'), 20_000);
    assert.equal(event.message, '0/0 nodes are available for LoadBalancer Services');
    assert.equal((await k.json(['get', 'service', 'metallb'])).metadata.finalizers, undefined, 'another loadBalancerClass is left alone');
  });

  it('restarted with --disable ingress,servicelb: the IngressClass is gone and the claim released', async () => {
    await stop();
    await start(['--disable', 'ingress,servicelb']);
    assert.equal((await k(['get', 'ingressclass', 'skiff'])).code, 1);
    assert.deepEqual((await k.json(['get', 'service', 'lb'])).metadata.finalizers ?? [], []);
    const del = await k(['delete', 'service', 'lb', '--timeout=10s'], { timeoutMs: 15_000 });
    assert.equal(del.code, 0, del.stderr);
  });
});
