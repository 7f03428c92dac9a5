/**
 * A UDP Service end to end (iptables mode), in service-proxy.e2e.test.ts's style: `skiff server` as root with its
 * embedded agent on the process runtime, driven by the real kubectl. Two UDP echo pods (node one-liners answering
 * each datagram with their pod name) behind a ClusterIP Service of protocol UDP; datagrams from another pod.
 *
 * Covered: the ClusterIP reaches both pods over UDP, and the node itself reaches it too; a client that keeps its source
 * port after its pod went away is answered by the other pod, because the proxy deletes the conntrack entries of the
 * gone endpoint (without that, every datagram of the flow would follow the stale entry to the dead address for as
 * long as the client keeps sending — kube-proxy's UDP conntrack cleanup, pkg/proxy/conntrack).
 *
 * The cluster uses its own ranges (pod 10.95.128.0/17, service 10.96.128.0/17, NodePorts 31300-31349).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cleanUpAgentServer, createNamespace, startAgentServer } from './helpers/agent-server.js';
import { e2eSkipReason } from './helpers/e2e-prereqs.js';
import { eventually } from './helpers/eventually.js';
import { applyFile, kubectlFor, type Kubectl } from './helpers/kubectl.js';
import type { ServerProcess } from './helpers/server-process.js';
import { udpAsk } from './helpers/service-proxy-suite.js';
import { docs, nodeDeployment, sleeperPod } from './helpers/workloads.js';

const skipReason = () =>
  e2eSkipReason({
    prereqs: ['/usr/bin/unshare', '/usr/bin/nsenter', '/usr/lib/cni/bridge', '/usr/lib/cni/host-local', '/usr/lib/cni/loopback', '/usr/sbin/iptables-restore', '/usr/sbin/conntrack'],
    notRoot: 'the iptables service proxy needs root; skipping the UDP service end-to-end test',
    what: 'the UDP service end-to-end test',
  });

const suffix = randomBytes(3).toString('hex');
const NODE = `e2e-udp-${suffix}`;
const NS = `e2e-udp-${suffix}`;
/** A fixed source port for the flow that outlives its endpoint. */
const CLIENT_PORT = 40000 + (randomBytes(2).readUInt16BE(0) % 10000);

const ECHO = `const os = require('os'); const s = require('dgram').createSocket('udp4');
s.on('message', (m, r) => s.send(os.hostname() + ' ' + m, r.port, r.address)); s.bind(9000);`;

/**
 * A script for `node -e` in the client pod: `count` datagrams, each from a new socket (or all from `port`), one
 * line per answer (`<pod> <payload>`) or `TIMEOUT`.
 */
const askScript = (ip: string, count: number, port?: number) => `const dgram = require('dgram');
(async () => {
  for (let i = 0; i < ${count}; i++) {
    const s = dgram.createSocket({ type: 'udp4', reuseAddr: true });
    await new Promise((r) => s.bind(${port ?? 0}, r));
    const line = await new Promise((resolve) => {
      const t = setTimeout(() => resolve('TIMEOUT'), 1000);
      s.once('message', (m) => { clearTimeout(t); resolve(String(m)); });
      s.send('ping' + i, 5353, ${JSON.stringify(ip)});
    });
    console.log(line);
    s.close();
  }
})();`;

describe('a UDP Service (iptables mode): echo pods behind a ClusterIP, reached from another pod', { skip: skipReason() }, () => {
  let dataDir: string;
  let server: ServerProcess | undefined;
  let k: Kubectl;
  let clusterIP = '';

  const ask = async (count: number, port?: number): Promise<string[]> => {
    const r = await k(['-n', NS, 'exec', 'client', '--', 'node', '-e', askScript(clusterIP, count, port)], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.split('\n').filter((l) => l.length > 0);
  };
  const echoPods = async (): Promise<string[]> => {
    const list = await k.json(['-n', NS, 'get', 'pods', '-l', 'app=echo']);
    return list.items.filter((p: any) => !p.metadata.deletionTimestamp).map((p: any) => p.metadata.name).sort();
  };
  const readyEndpoints = async (): Promise<string[]> => {
    const slices = await k.json(['-n', NS, 'get', 'endpointslices', '-l', 'kubernetes.io/service-name=echo']);
    return slices.items.flatMap((sl: any) => sl.endpoints ?? []).filter((e: any) => e.conditions?.ready).map((e: any) => e.targetRef?.name).sort();
  };

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'skiff-e2e-udp-'));
    server = await startAgentServer([
      '--data-dir', dataDir, '--node-name', NODE, '--runtime', 'process', '--kubelet-port', '0', '--https-listen-port', '0', '--bind-address', '127.0.0.1',
      '--cluster-cidr', '10.95.128.0/17', '--service-cidr', '10.96.128.0/17', '--service-node-port-range', '31300-31349', '--proxy-mode', 'iptables',
      '--ingress-http-port', '0', '--ingress-https-port', '0',
    ]);
    k = kubectlFor(join(dataDir, 'kubeconfig.yaml'));
    await createNamespace(k, NS);
    await applyFile(k, dataDir, 'udp.yaml', docs(
      nodeDeployment(NS, 'echo', 2, [{ name: 'echo', script: ECHO, ports: [{ containerPort: 9000, protocol: 'UDP' }] }]),
      sleeperPod(NS),
      `
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: ${NS}}
spec:
  selector: {app: echo}
  ports: [{name: echo, port: 5353, targetPort: 9000, protocol: UDP}]`,
    ));
    clusterIP = (await k.json(['-n', NS, 'get', 'service', 'echo'])).spec.clusterIP;
    const r = await k(['-n', NS, 'wait', '--for=condition=available', 'deployment/echo', '--timeout=60s'], { timeoutMs: 65_000 });
    if (r.code !== 0) {
      const pods = await k(['-n', NS, 'get', 'pods', '-o', 'wide']);
      const events = await k(['-n', NS, 'get', 'events']);
      assert.fail(`${r.stderr}\n${pods.stdout}\n${events.stdout}\nserver output (tail):\n${server!.output().slice(-3000)}`);
    }
    assert.equal((await k(['-n', NS, 'wait', '--for=condition=ready', 'pod/client', '--timeout=30s'], { timeoutMs: 35_000 })).code, 0);
    await eventually('two ready endpoints', async () => (await readyEndpoints()).length === 2, 30_000);
  });

  after(() => cleanUpAgentServer({ server, k, ns: NS, dataDir }));

  it('the ClusterIP answers over UDP from both pods, to another pod and to the node itself', async () => {
    assert.match(clusterIP, /^10\.96\.(1[2-9][0-9]|2[0-5][0-9])\./);
    const pods = await echoPods();
    assert.equal(pods.length, 2);
    const answers: string[] = [];
    await eventually('both echo pods answering through the ClusterIP', async () => {
      answers.push(...(await ask(10)));
      return pods.every((p) => answers.some((a) => a.startsWith(`${p} ping`)));
    }, 60_000).catch((err: Error) => assert.fail(`${err.message}; answers: ${answers.join(', ')}`));
    for (const a of answers.filter((x) => x !== 'TIMEOUT')) assert.match(a, /^\S+ ping\d+$/, a);
    const fromNode = await eventually('an answer to the node itself', async () => udpAsk(clusterIP, 5353, 'from-node'), 10_000);
    assert.ok(pods.some((p) => fromNode === `${p} from-node`), fromNode);
  });

  it('a flow whose endpoint went away is answered by the other pod (stale conntrack entries are deleted)', async () => {
    const first = await eventually(`an answer to port ${CLIENT_PORT}`, async () => {
      const [a] = await ask(1, CLIENT_PORT);
      return a && a !== 'TIMEOUT' ? a : undefined;
    }, 30_000);
    const gone = first.split(' ')[0]!;
    const del = await k(['-n', NS, 'delete', 'pod', gone, '--wait=true', '--timeout=30s'], { timeoutMs: 40_000 });
    assert.equal(del.code, 0, del.stderr);
    await eventually(`${gone} out of the EndpointSlice`, async () => !(await readyEndpoints()).includes(gone), 20_000);
    // Same source port, so the same conntrack tuple: a stale entry would send every datagram to the deleted pod.
    const after: string[] = [];
    await eventually('an answer on the same flow from a live pod', async () => {
      after.push(...(await ask(1, CLIENT_PORT)));
      return after.at(-1) !== 'TIMEOUT';
    }, 15_000).catch((err: Error) => assert.fail(`${err.message}; answers: ${after.join(', ')}`));
    const answeredBy = after.at(-1)!.split(' ')[0]!;
    assert.notEqual(answeredBy, gone);
    assert.ok((await echoPods()).includes(answeredBy), `${answeredBy} is a live echo pod`);
  });
});
