/**
 * bench/e2e: pods from Deployments created through the API until every pod is Running on simulated nodes, with a real
 * `skiff server` (SQLite store, controllers, scheduler, simulated kubelets) in its own process. Reports 1k/5k/10k pods
 * so the growth curve shows, the server's peak RSS, and a baseline measured in the same run: the same number of pods
 * created already bound to nodes (no controllers, no scheduler: the API server and simulated kubelets alone).
 * Target: 10,000 pods on 1,000 nodes in <= 20 s, RSS <= 1.5 GB. Prints one JSON object.
 * Usage: npm run build && node dist/bench/e2e.js [--nodes 1000] [--pods 1000,5000,10000]
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { spawnServer, waitExit } from '../test/helpers/server-process.js';

const arg = (name: string, dflt: string) => (process.argv.includes(`--${name}`) ? process.argv[process.argv.indexOf(`--${name}`) + 1] : dflt);
const nodes = Number(arg('nodes', '1000'));
const sizes = arg('pods', '1000,5000,10000').split(',').map(Number);
const PER_DEPLOYMENT = 100;

interface Conn {
  port: number;
  tls: { ca: string; cert: string; key: string };
  agent: https.Agent;
  pid: number;
}

function request(c: Conn, method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = https.request(
      { host: '127.0.0.1', port: c.port, method, path, agent: c.agent, ...c.tls, headers: data ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (x) => chunks.push(x));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}

/** CPU seconds (user + system) the process has used so far, from /proc/<pid>/stat (clock ticks of 1/100 s). */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** The store's current revision, from a one-item list's resourceVersion. */
async function revision(c: Conn): Promise<number> {
  const r = await request(c, 'GET', '/api/v1/namespaces?limit=1');
  return Number(JSON.parse(r.text).metadata.resourceVersion);
}

async function rssMb(pid: number): Promise<number> {
  const s = await readFile(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(s)![1]) / 1024);
}

/** Counts Running pods of a namespace through a watch; resolves when `target` are Running. */
function runningCounter(c: Conn, namespace: string, target: number, onRss: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const running = new Set<string>();
    const req = https.request(
      { host: '127.0.0.1', port: c.port, method: 'GET', path: `/api/v1/namespaces/${namespace}/pods?watch=true`, agent: new https.Agent(), ...c.tls },
      (res) => {
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buf += chunk;
          let nl;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            const ev = JSON.parse(line);
            const name = ev.object.metadata.name;
            if (ev.type !== 'DELETED' && ev.object.status?.phase === 'Running') running.add(name);
            else running.delete(name);
          }
          onRss();
          if (running.size >= target) {
            req.destroy();
            resolve();
          }
        });
      },
    );
    req.on('error', (err) => {
      if ((err as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(err);
    });
    req.end();
  });
}

async function createNamespace(c: Conn, name: string) {
  const r = await request(c, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  if (r.status !== 201) throw new Error(`namespace ${name}: ${r.status} ${r.text}`);
}

async function viaDeployments(c: Conn, pods: number, peak: { mb: number }): Promise<number> {
  const ns = `deploy-${pods}`;
  await createNamespace(c, ns);
  const start = performance.now();
  const done = runningCounter(c, ns, pods, () => void rssMb(c.pid).then((mb) => (peak.mb = Math.max(peak.mb, mb))));
  const count = Math.ceil(pods / PER_DEPLOYMENT);
  await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const name = `d${i}`;
      const r = await request(c, 'POST', `/apis/apps/v1/namespaces/${ns}/deployments`, {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name },
        spec: {
          replicas: Math.min(PER_DEPLOYMENT, pods - i * PER_DEPLOYMENT),
          selector: { matchLabels: { app: name } },
          template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'pause:3.9', resources: { requests: { cpu: '10m', memory: '16Mi' } } }] } },
        },
      });
      if (r.status !== 201) throw new Error(`deployment ${name}: ${r.status} ${r.text}`);
    }),
  );
  await done;
  return (performance.now() - start) / 1000;
}

async function boundPods(c: Conn, pods: number): Promise<number> {
  const ns = `bound-${pods}`;
  await createNamespace(c, ns);
  const start = performance.now();
  const done = runningCounter(c, ns, pods, () => {});
  let next = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < pods) {
        const i = next++;
        const r = await request(c, 'POST', `/api/v1/namespaces/${ns}/pods`, {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: `p${i}` },
          spec: { nodeName: `sim-node-${i % nodes}`, containers: [{ name: 'c', image: 'pause:3.9' }] },
        });
        if (r.status !== 201) throw new Error(`pod p${i}: ${r.status} ${r.text}`);
      }
    }),
  );
  await done;
  return (performance.now() - start) / 1000;
}

async function main() {
  const results: Record<string, unknown>[] = [];
  for (const pods of sizes) {
    const dir = await mkdtemp(join(tmpdir(), 'skiff-bench-e2e-'));
    // 1,000 nodes need more /24s than the default cluster CIDR 10.42.0.0/16 holds (256): 10.64.0.0/10 holds 16,384 and
    // overlaps nothing skiff uses (services 10.43/16, simulated InternalIPs 10.254/16, their fallback 10.128/10).
    const args = ['--data-dir', dir, '--https-listen-port', '0', '--bind-address', '127.0.0.1', '--simulate-nodes', String(nodes), '--cluster-cidr', '10.64.0.0/10'];
    // SKIFF_BENCH_SERVER_ARGS adds server flags (e.g. `--disable serviceaccount` to compare with a release without it).
    args.push(...(process.env.SKIFF_BENCH_SERVER_ARGS ?? '').split(' ').filter(Boolean));
    const server = await spawnServer(args, 60_000, {
      // SKIFF_BENCH_NODE_OPTIONS adds to the server's Node options (e.g. `--import` of a profiler hook).
      NODE_OPTIONS: `--max-old-space-size=4096 ${process.env.SKIFF_BENCH_NODE_OPTIONS ?? ''}`.trim(),
    });
    try {
      const kc = parseYaml(await readFile(join(dir, 'kubeconfig.yaml'), 'utf8'));
      const b64 = (s: string) => Buffer.from(s, 'base64').toString();
      const c: Conn = {
        port: server.port,
        pid: server.child.pid!,
        agent: new https.Agent({ keepAlive: true, maxSockets: 64 }),
        tls: { ca: b64(kc.clusters[0].cluster['certificate-authority-data']), cert: b64(kc.users[0].user['client-certificate-data']), key: b64(kc.users[0].user['client-key-data']) },
      };
      // Wait for every simulated node to be registered, Ready, and given its pod CIDR by the node IPAM controller.
      for (;;) {
        const r = await request(c, 'GET', '/api/v1/nodes');
        const ready = JSON.parse(r.text).items.filter((n: any) => n.spec?.podCIDR && n.status?.conditions?.some((x: any) => x.type === 'Ready' && x.status === 'True')).length;
        if (ready >= nodes) break;
        await new Promise((r2) => setTimeout(r2, 250));
      }
      const peak = { mb: await rssMb(c.pid) };
      const cpu0 = await cpuSeconds(c.pid);
      const rev0 = await revision(c);
      const deploySeconds = await viaDeployments(c, pods, peak);
      const cpu1 = await cpuSeconds(c.pid);
      const rev1 = await revision(c);
      const rssAfter = await rssMb(c.pid);
      const baselineSeconds = await boundPods(c, pods);
      const cpu2 = await cpuSeconds(c.pid);
      const rev2 = await revision(c);
      results.push({
        pods,
        nodes,
        deployments_to_running_s: Math.round(deploySeconds * 100) / 100,
        pods_per_s: Math.round(pods / deploySeconds),
        peak_rss_mb: Math.max(peak.mb, rssAfter),
        baseline_bound_pods_to_running_s: Math.round(baselineSeconds * 100) / 100,
        ratio_over_baseline: Math.round((deploySeconds / baselineSeconds) * 100) / 100,
        // The server's CPU time in each phase: less sensitive than wall time to other load on the machine.
        server_cpu_s: { deployments: Math.round((cpu1 - cpu0) * 100) / 100, bound_pods: Math.round((cpu2 - cpu1) * 100) / 100 },
        // Writes the store took in each phase (its revision counter): every create, update and delete of any object.
        store_writes: { deployments: rev1 - rev0, bound_pods: rev2 - rev1 },
      });
      c.agent.destroy();
    } finally {
      server.child.kill('SIGTERM');
      await waitExit(server.child);
      await rm(dir, { recursive: true, force: true });
    }
  }
  console.log(JSON.stringify({ bench: 'e2e', store: 'sqlite', per_deployment: PER_DEPLOYMENT, results, targets: { '10000_pods_on_1000_nodes_s': '<= 20', peak_rss_mb: '<= 1536' } }, null, 2));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
