/**
 * The health check node port of a LoadBalancer Service with externalTrafficPolicy Local, end to end: `skiff server` as
 * root with its embedded agent (process runtime), the real kubectl, in the iptables and the userspace proxy modes. The
 * API server allocates spec.healthCheckNodePort; the agent's proxy answers it on the node address: 200 with the
 * node's ready pod counted, 503 once the Deployment is scaled to 0, and nothing listens once the policy is Cluster.
 *
 * Ranges of its own: pods 10.85.0.0/16, Services 10.86.0.0/16, NodePorts 31400-31449.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cleanUpAgentServer, createNamespace, startAgentServer } from './helpers/agent-server.js';
import { e2eSkipReason } from './helpers/e2e-prereqs.js';
import { eventually } from './helpers/eventually.js';
import { applyFile, kubectlFor, type Kubectl } from './helpers/kubectl.js';
import type { ServerProcess } from './helpers/server-process.js';
import { docs, nodeDeployment } from './helpers/workloads.js';

const skipReason = () =>
  e2eSkipReason({
    prereqs: ['/usr/bin/unshare', '/usr/bin/nsenter', '/usr/lib/cni/bridge', '/usr/lib/cni/host-local', '/usr/lib/cni/loopback', '/usr/sbin/iptables-restore'],
    notRoot: 'the health check node port e2e test runs the agent as root (pod network, proxy rules); skipping',
    what: 'the health check node port end-to-end test',
  });

interface Answer {
  status: number;
  nosniff: string | undefined;
  body: any;
}

/** GET http://host:port/ with a new connection; 'refused' when nothing listens. */
function check(host: string, port: number): Promise<Answer | 'refused'> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path: '/', agent: false, timeout: 2000 }, (res) => {
      let b = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (b += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, nosniff: res.headers['x-content-type-options'] as string | undefined, body: JSON.parse(b) }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET http://${host}:${port}/ timed out`)));
    req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNREFUSED' ? resolve('refused') : reject(err)));
  });
}

for (const mode of ['iptables', 'userspace'] as const) {
  describe(`health check node port (${mode} proxy) end to end: skiff server as root, process runtime, real kubectl`, { skip: skipReason() }, () => {
    const suffix = randomBytes(3).toString('hex');
    const NODE = `e2e-hc-${mode.slice(0, 3)}-${suffix}`;
    const NS = NODE;
    let dataDir = '';
    let server: ServerProcess | undefined;
    let k: Kubectl;

    before(async () => {
      dataDir = mkdtempSync(join(tmpdir(), 'skiff-e2e-hc-'));
      const args = ['--data-dir', dataDir, '--node-name', NODE, '--runtime', 'process', '--kubelet-port', '0', '--https-listen-port', '0', '--bind-address', '127.0.0.1', '--cluster-cidr', '10.85.0.0/16', '--service-cidr', '10.86.0.0/16', '--service-node-port-range', '31400-31449', '--proxy-mode', mode];
      server = await startAgentServer(args, { timeoutMs: 60_000 });
      k = kubectlFor(join(dataDir, 'kubeconfig.yaml'));
      await createNamespace(k, NS);
    });

    after(() => cleanUpAgentServer({ server, k, ns: NS, dataDir }));

    it('answers 200 on the node with the pod, 503 after scaling to 0, and closes when the policy is Cluster', async () => {
      const web = "require('http').createServer((q, s) => s.end('ok')).listen(8080)";
      await applyFile(
        k,
        dataDir,
        'lb.yaml',
        docs(
          nodeDeployment(NS, 'web', 1, [{ name: 'web', script: web, readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 } }]),
          `
apiVersion: v1
kind: Service
metadata: {name: web, namespace: ${NS}}
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]`,
        ),
      );
      const svc = await k.json(['-n', NS, 'get', 'service', 'web']);
      const hcPort: number = svc.spec.healthCheckNodePort;
      assert.ok(hcPort >= 31400 && hcPort <= 31449, `healthCheckNodePort ${hcPort} from the range`);
      const node = await k.json(['get', 'node', NODE]);
      const nodeIP: string = node.status.addresses.find((a: { type: string }) => a.type === 'InternalIP').address;

      const ok = await eventually('the health check port answers 200', async () => {
        const a = await check(nodeIP, hcPort);
        return a !== 'refused' && a.status === 200 ? a : undefined;
      }, 60_000);
      assert.deepEqual(ok.body, { service: { namespace: NS, name: 'web' }, localEndpoints: 1, serviceProxyHealthy: true });
      assert.equal(ok.nosniff, 'nosniff');

      const scaled = await k(['-n', NS, 'scale', 'deployment', 'web', '--replicas=0']);
      assert.equal(scaled.code, 0, scaled.stderr);
      const none = await eventually('503 without a local endpoint', async () => {
        const a = await check(nodeIP, hcPort);
        return a !== 'refused' && a.status === 503 ? a : undefined;
      }, 30_000);
      assert.deepEqual(none.body, { service: { namespace: NS, name: 'web' }, localEndpoints: 0, serviceProxyHealthy: true });

      const patched = await k(['-n', NS, 'patch', 'service', 'web', '-p', '{"spec":{"externalTrafficPolicy":"Cluster"}}']);
      assert.equal(patched.code, 0, patched.stderr);
      await eventually('the port closed with the Local policy gone', async () => (await check(nodeIP, hcPort)) === 'refused', 30_000);
    });
  });
}
