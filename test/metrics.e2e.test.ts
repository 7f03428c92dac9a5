/**
 * The built-in metrics-server end to end: `skiff server` (a child process, embedded agent, --runtime process) and the
 * real kubectl. A pod burning CPU under a 500m limit, beside a container holding memory: the PodMetrics' CPU agrees
 * with the rate of its cgroup's cpuacct.usage over the same window, and its memory with the cgroup's working set
 * (usage - inactive file), within 10 %; `kubectl top pod -l`, `kubectl top pods -A --containers` and `kubectl top
 * nodes` show them; `kubectl get apiservices` lists v1beta1.metrics.k8s.io Available. A second server with
 * `--disable metrics-server` has no metrics API (`kubectl top` says so).
 *
 * Needs root (pod cgroups and namespaces); skips otherwise, except under CI=true. Containers outlive the agent, so the
 * after() hook hard-cleans (helpers/agent-cleanup.ts) whatever the test did not delete itself.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { containerCgroupDir, hardCleanAgent } from './helpers/agent-cleanup.js';
import { cleanUpAgentServer, createNamespace, startAgentServer } from './helpers/agent-server.js';
import { e2eSkipReason } from './helpers/e2e-prereqs.js';
import { eventually } from './helpers/eventually.js';
import { applyFile, kubectlFor, type Kubectl } from './helpers/kubectl.js';
import { spawnServer, stopChild, type ServerProcess } from './helpers/server-process.js';

const skipReason = () =>
  e2eSkipReason({
    prereqs: ['/usr/bin/unshare', '/usr/bin/nsenter', '/usr/lib/cni/bridge', '/usr/lib/cni/host-local', '/usr/lib/cni/loopback'],
    notRoot: 'the process runtime needs root for pod cgroups; skipping the metrics end-to-end test',
    what: 'the metrics end-to-end test',
  });

const suffix = randomBytes(3).toString('hex');
const NODE = `metrics-e2e-${suffix}`;
const NS = `metrics-e2e-${suffix}`;
/** This suite's pod range: a /24 of 10.97.0.0/16 (its own bridge), services in 10.98.0.0/16. */
const POD_CIDR = `10.97.${randomBytes(1)[0]}.0/24`;
const RESOLUTION_S = 5;

/** A cgroup v1 counter file as a number. */
const readNumber = (file: string) => Number(readFileSync(file, 'utf8').trim());
/** The cgroup's working set, as cAdvisor and kubelet compute it: usage minus inactive file pages. */
function workingSet(memoryDir: string): number {
  const usage = readNumber(join(memoryDir, 'memory.usage_in_bytes'));
  const inactive = Number(/^total_inactive_file (\d+)$/m.exec(readFileSync(join(memoryDir, 'memory.stat'), 'utf8'))?.[1] ?? 0);
  return Math.max(0, usage - inactive);
}
/** The counter at time t (ms), interpolated between the samples around it. */
function counterAt(samples: Array<[number, number]>, t: number): number {
  const i = samples.findIndex(([at]) => at >= t);
  if (i <= 0) throw new Error(`no cgroup samples around ${new Date(t).toISOString()} (have ${samples.length} from ${new Date(samples[0]?.[0] ?? 0).toISOString()})`);
  const [t0, v0] = samples[i - 1]!;
  const [t1, v1] = samples[i]!;
  return v0 + ((v1 - v0) * (t - t0)) / (t1 - t0);
}
/** Go duration text (metrics-server's window: `5.004s`, `1m0.5s`) in ms. */
function durationMs(text: string): number {
  const m = /^(?:(\d+)m)?([\d.]+)s$/.exec(text);
  if (!m) throw new Error(`unexpected window ${text}`);
  return (Number(m[1] ?? 0) * 60 + Number(m[2])) * 1000;
}

describe('metrics.k8s.io end to end: kubectl top against the cgroup counters', { skip: skipReason() }, () => {
  let dataDir: string;
  let server: ServerProcess | undefined;
  let k: Kubectl;
  const podUids = new Set<string>();
  let sampler: NodeJS.Timeout | undefined;
  /** [time ms, cpuacct.usage ns] of the burning container, every 100 ms. */
  const cpuSamples: Array<[number, number]> = [];
  let memoryDir = '';

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'skiff-e2e-metrics-'));
    server = await startAgentServer(
      ['--data-dir', dataDir, '--node-name', NODE, '--runtime', 'process', '--cluster-cidr', POD_CIDR, '--service-cidr', '10.98.0.0/16', '--kubelet-port', '0', '--https-listen-port', '0', '--bind-address', '127.0.0.1', '--metric-resolution', `${RESOLUTION_S}s`, '--disable', 'ingress,servicelb,coredns'],
    );
    k = kubectlFor(join(dataDir, 'kubeconfig.yaml'));
    await createNamespace(k, NS);
    await applyFile(
      k,
      dataDir,
      'burn.yaml',
      `
apiVersion: v1
kind: Pod
metadata: {name: burn, namespace: ${NS}, labels: {app: burn}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: burn
    image: busybox
    command: [sh, -c, "while :; do :; done"]
    resources: {limits: {cpu: 500m}}
  - name: hold
    image: node
    command: [node, -e, "const b = Buffer.alloc(48 << 20, 1); setInterval(() => b[0]++, 1000)"]
`,
    );
    const pod = await eventually('the burn pod running', async () => {
      const p = await k.json(['-n', NS, 'get', 'pod', 'burn']);
      podUids.add(p.metadata.uid);
      return p.status?.containerStatuses?.every((c: any) => c.state?.running) ? p : undefined;
    }, 60_000);
    const id = (name: string) => pod.status.containerStatuses.find((c: any) => c.name === name).containerID as string;
    const cpuDir = containerCgroupDir(pod.metadata.uid, id('burn'), 'cpuacct');
    memoryDir = containerCgroupDir(pod.metadata.uid, id('hold'), 'memory') ?? '';
    assert.ok(cpuDir && existsSync(join(cpuDir, 'cpuacct.usage')), `the burn container's cpuacct cgroup (${cpuDir})`);
    assert.ok(existsSync(join(memoryDir, 'memory.stat')), `the hold container's memory cgroup (${memoryDir})`);
    sampler = setInterval(() => {
      try {
        cpuSamples.push([Date.now(), readNumber(join(cpuDir, 'cpuacct.usage'))]);
      } catch {
        // the container is gone (after())
      }
    }, 100);
  });

  after(async () => {
    clearInterval(sampler);
    await cleanUpAgentServer({ server, k, ns: NS, dataDir, podUids, deleteTimeoutS: 40 });
  });

  it("PodMetrics agree with the container's cgroup counters within 10 % (CPU over the same window, working set)", async () => {
    const raw = `/apis/metrics.k8s.io/v1beta1/namespaces/${NS}/pods/burn`;
    // Two scrapes with the containers running, then one more so the window lies wholly inside the sampling.
    const first = await eventually('PodMetrics of burn', async () => {
      const r = await k(['get', '--raw', raw]);
      return r.code === 0 ? JSON.parse(r.stdout) : undefined;
    }, 60_000);
    const m = await eventually('a later scrape', async () => {
      const r = await k(['get', '--raw', raw]);
      const now = JSON.parse(r.stdout);
      return now.timestamp !== first.timestamp ? now : undefined;
    }, 4 * RESOLUTION_S * 1000);
    const memNow = workingSet(memoryDir);
    const burn = m.containers.find((c: any) => c.name === 'burn');
    const hold = m.containers.find((c: any) => c.name === 'hold');
    assert.match(burn.usage.cpu, /^\d+n$/);
    const cpu = Number(burn.usage.cpu.slice(0, -1)) / 1e9;
    const windowMs = durationMs(m.window);
    assert.ok(windowMs > RESOLUTION_S * 1000 * 0.8 && windowMs < RESOLUTION_S * 1000 * 3, `window ${m.window} near the resolution`);
    // The timestamp is in whole seconds (metav1.Time); the reading was taken within the second after it.
    const end = Date.parse(m.timestamp) + 500;
    await new Promise((r) => setTimeout(r, 600));
    const cgroupCpu = (counterAt(cpuSamples, end) - counterAt(cpuSamples, end - windowMs)) / 1e9 / (windowMs / 1000);
    assert.ok(cgroupCpu > 0.05, `the burner runs (${cgroupCpu} cores by its cgroup)`);
    assert.ok(cgroupCpu <= 0.55, `the 500m limit holds (${cgroupCpu} cores by its cgroup)`);
    console.log(`burn: ${cpu.toFixed(3)} cores by the metrics API, ${cgroupCpu.toFixed(3)} by its cgroup over ${m.window}; hold: ${hold.usage.memory} vs working set ${memNow}`);
    assert.ok(Math.abs(cpu - cgroupCpu) / cgroupCpu <= 0.1, `CPU ${cpu} cores by the metrics API, ${cgroupCpu} by the cgroup over the same ${m.window}`);
    const mem = Number(/^(\d+)Ki$/.exec(hold.usage.memory)?.[1] ?? Number.NaN) * 1024 || Number(hold.usage.memory);
    assert.ok(mem > 40 * 1024 * 1024, `the hold container's working set (${hold.usage.memory}) holds its 48 MiB buffer`);
    assert.ok(Math.abs(mem - memNow) / memNow <= 0.1, `memory ${mem} by the metrics API, ${memNow} by the cgroup's working set`);
  });

  it('kubectl top pod -l, top pods -A --containers and top nodes show them', async () => {
    const pod = await k(['-n', NS, 'top', 'pod', '-l', 'app=burn', '--no-headers']);
    assert.equal(pod.code, 0, pod.stderr);
    const [name, cpuText, memText] = pod.stdout.trim().split(/\s+/);
    assert.equal(name, 'burn');
    assert.ok(Number(cpuText!.replace(/m$/, '')) > 50, `CPU ${cpuText}`);
    assert.ok(Number(memText!.replace(/Mi$/, '')) >= 40, `memory ${memText}`);
    const all = await k(['top', 'pods', '-A', '--containers', '--no-headers']);
    assert.equal(all.code, 0, all.stderr);
    const rows = all.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/));
    assert.deepEqual(rows.filter((r) => r[0] === NS && r[1] === 'burn').map((r) => r[2]).sort(), ['burn', 'hold']);
    const nodes = await k(['top', 'nodes', '--no-headers']);
    assert.equal(nodes.code, 0, nodes.stderr);
    const node = nodes.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/)).find((r) => r[0] === NODE);
    assert.ok(node, nodes.stdout);
    assert.match(node[1]!, /^\d+m$/);
    assert.ok(Number(node[1]!.slice(0, -1)) > 50, `the node is busy with the burner: ${node[1]}`);
    // No pod matches: kubectl says so (a pod without metrics yet would be "metrics not available yet").
    const none = await k(['-n', NS, 'top', 'pod', '-l', 'app=none']);
    assert.equal(none.code, 0, none.stderr);
    assert.match(none.stderr, new RegExp(`No resources found in ${NS} namespace`));
  });

  it('kubectl get apiservices lists v1beta1.metrics.k8s.io, Available', async () => {
    const list = await k.json(['get', 'apiservices']);
    const m = list.items.find((a: any) => a.metadata.name === 'v1beta1.metrics.k8s.io');
    assert.equal(m?.status.conditions.find((c: any) => c.type === 'Available')?.status, 'True');
    const table = await k(['get', 'apiservice', 'v1beta1.metrics.k8s.io', '--no-headers']);
    assert.match(table.stdout, /^v1beta1\.metrics\.k8s\.io\s+Local\s+True\s+/);
    assert.ok(list.items.some((a: any) => a.metadata.name === 'v1.apps'), 'the built-in group versions too');
  });

  it('--disable metrics-server: no metrics API, and kubectl top says so', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skiff-e2e-nometrics-'));
    const plain = await spawnServer(['--data-dir', dir, '--https-listen-port', '0', '--bind-address', '127.0.0.1', '--service-cidr', '10.98.0.0/16', '--disable', 'metrics-server,ingress,servicelb,coredns'], 30_000);
    try {
      const kp = kubectlFor(join(dir, 'kubeconfig.yaml'));
      const top = await kp(['top', 'nodes']);
      assert.notEqual(top.code, 0);
      assert.match(top.stderr, /Metrics API not available/);
      const groups = JSON.parse((await kp(['get', '--raw', '/apis'])).stdout);
      assert.ok(!groups.groups.some((g: any) => g.name === 'metrics.k8s.io'));
    } finally {
      await stopChild(plain.child);
      await hardCleanAgent({ dataDir: dir, podUids: [] });
    }
  });
});
