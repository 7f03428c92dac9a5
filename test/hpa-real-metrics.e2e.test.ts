/**
 * End-to-end with real metrics (issue 10): `skiff server` with its embedded agent on the process runtime, the
 * metrics.k8s.io API fed by the agent's cgroup stats, and the server's own HPA controller. A CPU burner Deployment
 * (request 100m, limit 200m) behind an HPA at 50 % scales out while a load file exists, and back in after a short
 * scale-down window (spec.behavior) once the file is gone. Needs root (pods are host processes in cgroups and
 * namespaces); skips otherwise, and when this server does not serve metrics.k8s.io.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pickFreeSubnet } from '../src/agent/network/network-testing.js';
import { hardCleanAgent } from './helpers/agent-cleanup.js';
import { eventually } from './helpers/eventually.js';
import { applyFile, kubectlFor, kubectlSkip, type Kubectl } from './helpers/kubectl.js';
import { spawnServer, waitExit, type ServerProcess } from './helpers/server-process.js';

const prereqs = ['/usr/bin/unshare', '/usr/bin/nsenter', '/usr/lib/cni/bridge', '/usr/lib/cni/host-local', '/usr/lib/cni/loopback'];
function skipReason(): string | false {
  const k = kubectlSkip();
  if (k) return k;
  if (process.getuid?.() !== 0) return 'the process runtime needs root; skipping the HPA real-metrics end-to-end test';
  const missing = prereqs.filter((p) => !existsSync(p));
  return missing.length ? `missing on this machine: ${missing.join(', ')}` : false;
}

const suffix = randomBytes(3).toString('hex');
const NODE = `e2e-hpa-${suffix}`;
const NS = `e2e-hpa-${suffix}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('HPA with real metrics: a CPU burner scales out and back in (process runtime)', { skip: skipReason() }, () => {
  let dataDir: string;
  let mnt: string;
  let server: ServerProcess | undefined;
  let k: Kubectl;
  let metricsServed = false;
  const podUids = new Set<string>();

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'skiff-e2e-hpa-'));
    mnt = mkdtempSync(join(tmpdir(), 'skiff-e2e-hpa-load-'));
    chmodSync(mnt, 0o755);
    const cidr = await pickFreeSubnet(24);
    server = await spawnServer(
      ['--data-dir', dataDir, '--node-name', NODE, '--runtime', 'process', '--cluster-cidr', cidr, '--kubelet-port', '0', '--https-listen-port', '0', '--bind-address', '127.0.0.1'],
      30_000,
      {},
      { agent: true },
    );
    const s = server;
    const deadline = Date.now() + 30_000;
    while (!/skiff node ready/.test(s.output())) {
      if (s.child.exitCode !== null || Date.now() > deadline) throw new Error(`the embedded node agent is not ready; server output:\n${s.output()}`);
      await sleep(100);
    }
    k = kubectlFor(join(dataDir, 'kubeconfig.yaml'));
    metricsServed = (await k(['get', '--raw', '/apis/metrics.k8s.io/v1beta1'])).code === 0;
    await k(['create', 'namespace', NS]);
    await eventually('the default service account', async () => (await k(['-n', NS, 'get', 'serviceaccount', 'default'])).code === 0, 20_000);
  });

  after(async () => {
    if (server && k) {
      const list = await k.json(['-n', NS, 'get', 'pods']).catch(() => ({ items: [] }));
      for (const p of list.items) podUids.add(p.metadata.uid);
      await k(['delete', 'namespace', NS, '--ignore-not-found', '--timeout=40s'], { timeoutMs: 45_000 }).catch(() => undefined);
    }
    if (server) {
      const child = server.child;
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await waitExit(child);
        clearTimeout(t);
      }
    }
    if (dataDir) {
      const report = await hardCleanAgent({ dataDir, podUids, extraPaths: [mnt] });
      if (report.length > 0) console.log(`hard clean of ${dataDir}:\n  ${report.join('\n  ')}`);
    }
  });

  it('scales out under load and back in after the window', async (t) => {
    if (!metricsServed) {
      t.skip('this server does not serve metrics.k8s.io/v1beta1 yet');
      return;
    }
    const load = join(mnt, 'load');
    writeFileSync(load, 'on');
    // Burns while the load file exists (200m at most: the limit), idles otherwise.
    const burn = `while :; do if [ -f ${load} ]; then i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; else sleep 1; fi; done`;
    await applyFile(
      k,
      dataDir,
      'burner.yaml',
      `
apiVersion: apps/v1
kind: Deployment
metadata: {name: burner, namespace: ${NS}}
spec:
  replicas: 1
  selector: {matchLabels: {app: burner}}
  template:
    metadata: {labels: {app: burner}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: burner
        image: busybox
        command: [sh, -c, ${JSON.stringify(burn)}]
        resources: {requests: {cpu: 100m}, limits: {cpu: 200m}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: burner, namespace: ${NS}}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: burner}
  minReplicas: 1
  maxReplicas: 3
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}
  behavior:
    scaleDown: {stabilizationWindowSeconds: 10}
`,
    );
    const out = await eventually(
      'the HPA to scale the burner out to 3',
      async () => {
        const h = await k.json(['-n', NS, 'get', 'hpa', 'burner']);
        return h.status?.currentReplicas === 3 && h;
      },
      180_000,
    );
    const cpu = out.status.currentMetrics?.[0]?.resource?.current?.averageUtilization;
    assert.ok(cpu > 50, `utilization above the target while burning (${cpu}%)`);
    const events = (await k.json(['-n', NS, 'get', 'events', '--field-selector', 'involvedObject.name=burner,involvedObject.kind=HorizontalPodAutoscaler'])).items as any[];
    assert.ok(
      events.some((e) => e.reason === 'SuccessfulRescale' && /^New size: [23]; reason: cpu resource utilization \(percentage of request\) above target$/.test(e.message)),
      JSON.stringify(events.map((e) => e.message)),
    );

    rmSync(load);
    await eventually(
      'the HPA to scale the burner back in to 1',
      async () => (await k.json(['-n', NS, 'get', 'deployment', 'burner'])).spec.replicas === 1,
      180_000,
    );
    const after = (await k.json(['-n', NS, 'get', 'events', '--field-selector', 'involvedObject.name=burner,involvedObject.kind=HorizontalPodAutoscaler'])).items as any[];
    assert.ok(after.some((e) => e.message === 'New size: 1; reason: All metrics below target'), JSON.stringify(after.map((e) => e.message)));
  });
});
