/**
 * The userspace service proxy end to end: `skiff server` with its embedded agent on the process runtime, driven by the
 * real kubectl, `--proxy-mode userspace`.
 *
 * As root: the suite of test/helpers/service-proxy-suite.ts in userspace mode — a 3-replica HTTP Deployment behind
 * Services; the ClusterIP from another pod and from the node reaches all three pods through the agent's relay
 * (REDIRECT portals); a pod that turns unready leaves the rotation within 2 s; the NodePort answers on the node
 * address; sessionAffinity ClientIP sticks; hairpin; a UDP Service answers a pod; a Service without endpoints refuses
 * at once; a restart after kill -9 replaces the portal chains whole, a clean stop leaves no rule of ours, and a
 * restart in iptables mode removes them.
 *
 * Without root (the server run by setpriv as nobody, default proxy mode): the agent says it runs the userspace proxy
 * with NodePorts only and names the Services it cannot reach by ClusterIP; a NodePort Service in front of a pod (a host
 * process) answers on the node address.
 *
 * Ranges of its own: pods 10.93.0.0/16, Services 10.94.0.0/16, NodePorts 31500-31599.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { cleanUpAgentServer, createNamespace, startAgentServer } from './helpers/agent-server.js';
import { e2eSkipReason } from './helpers/e2e-prereqs.js';
import { eventually } from './helpers/eventually.js';
import { applyFile, kubectlFor, type Kubectl } from './helpers/kubectl.js';
import type { ServerProcess } from './helpers/server-process.js';
import { httpGet, serviceProxySuite } from './helpers/service-proxy-suite.js';

const run = promisify(execFile);
const skipReason = () =>
  e2eSkipReason({
    prereqs: ['/usr/bin/unshare', '/usr/bin/nsenter', '/usr/lib/cni/bridge', '/usr/lib/cni/host-local', '/usr/lib/cni/loopback', '/usr/sbin/iptables-restore', '/usr/bin/curl', '/usr/bin/setpriv'],
    notRoot: 'the userspace proxy e2e test starts servers as root and as nobody: it needs root; skipping',
    what: 'the userspace proxy end-to-end test',
  });

const NODE = `e2e-usp-${randomBytes(3).toString('hex')}`;
const NS = NODE;

serviceProxySuite('userspace', { name: 'e2e-usp', clusterCIDR: '10.93.0.0/16', serviceCIDR: '10.94.0.0/16', serviceIPPattern: '10\\.94\\.', nodePortRange: [31500, 31599], nodePort: 31550 }, skipReason());

describe('userspace service proxy without root: skiff server as nobody, NodePorts', { skip: skipReason() }, () => {
  const NOBODY = 65534;
  const PORT = 20000 + (randomBytes(2).readUInt16BE(0) % 10000);
  const NP = 31560;
  const ns = `${NS}-nr`;
  let dataDir: string;
  let server: ServerProcess | undefined;
  let k: Kubectl;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'skiff-e2e-usp-nr-'));
    chownSync(dataDir, NOBODY, NOBODY);
    const args = ['--data-dir', dataDir, '--node-name', `${NODE}-nr`, '--runtime', 'process', '--kubelet-port', '0', '--https-listen-port', '0', '--bind-address', '127.0.0.1', '--cluster-cidr', '10.93.0.0/16', '--service-cidr', '10.94.0.0/16', '--service-node-port-range', '31500-31599'];
    server = await startAgentServer(args, { timeoutMs: 60_000, prefix: ['/usr/bin/setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--'], env: { HOME: dataDir } });
    k = kubectlFor(join(dataDir, 'kubeconfig.yaml'));
  });

  after(() => cleanUpAgentServer({ server, k, ns, dataDir }));

  it('the agent runs the userspace proxy by default, says ClusterIPs do not answer, and a NodePort Service answers on the node address', async () => {
    assert.match(server!.output(), /service proxy: userspace \(the default without root and iptables-restore\), NodePorts only \(not root/);
    await createNamespace(k, ns);
    const web = `require('http').createServer((q, s) => s.end('hello from ' + process.getuid())).listen(${PORT});`;
    await applyFile(
      k,
      dataDir,
      'np.yaml',
      `
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: ${ns}, labels: {app: web}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: web, image: node, command: [node, -e, ${JSON.stringify(web)}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: ${ns}}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: ${PORT}, nodePort: ${NP}}]
`,
    );
    assert.equal((await k(['-n', ns, 'wait', '--for=condition=ready', 'pod/web', '--timeout=60s'], { timeoutMs: 65_000 })).code, 0);
    const node = await k.json(['get', 'node', `${NODE}-nr`]);
    const nodeIP = node.status.addresses.find((a: any) => a.type === 'InternalIP').address;
    const res = await eventually('the NodePort answers', async () => httpGet(nodeIP, NP).catch(() => undefined), 20_000);
    assert.equal(res.status, 200);
    assert.equal(res.body, `hello from ${NOBODY}`, 'the pod (a host process, as nobody) answered through the NodePort');
    await eventually('the warning naming the Service', async () => new RegExp(`not reachable by ClusterIP on this node: [^\\n]*${ns}/web`).test(server!.output()), 10_000);
    // The listener belongs to the agent process (nobody), not to a kernel rule.
    const { stdout } = await run('ss', ['-Hltnp', `sport = :${NP}`]);
    assert.match(stdout, new RegExp(`pid=${server!.child.pid}\\b`), stdout);
  });
});
