/**
 * Prometheus end to end (issue 10): a real Prometheus (Debian `prometheus`), started by the test with a generated
 * configuration and its own storage dir, scrapes every target of a real `skiff server` (child process, embedded agent,
 * --runtime process) at a 1 s interval:
 *   apiserver  https://127.0.0.1:<port>/metrics           bearer token of a ServiceAccount bound to system:monitoring
 *   kubelet    https://<node IP>:<kubelet port>/metrics    the same token: the agent asks the API server (TokenReview,
 *                                                          SubjectAccessReview on nodes/metrics), as kubelet's webhook modes
 *   cadvisor   https://<node IP>:<kubelet port>/metrics/cadvisor   client certificate (the agent authorizes system:masters)
 * then asks its HTTP API for `rate(apiserver_request_total[1m])`, `kubelet_running_pods` and the running pod's
 * `container_cpu_usage_seconds_total`, and gets data; every target is up.
 *
 * Needs root (pod cgroups and namespaces) and /usr/bin/prometheus; skips otherwise, except under CI=true.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { hardCleanAgent } from './helpers/agent-cleanup.js';
import { eventually } from './helpers/eventually.js';
import { applyFile, kubectlFor, kubectlSkip, type Kubectl } from './helpers/kubectl.js';
import { spawnServer, stopChild, type ServerProcess } from './helpers/server-process.js';

const PROMETHEUS = '/usr/bin/prometheus';
const isRoot = process.getuid?.() === 0;
const prereqs = [PROMETHEUS, '/usr/bin/unshare', '/usr/bin/nsenter', '/usr/lib/cni/bridge', '/usr/lib/cni/host-local', '/usr/lib/cni/loopback'];
function skipReason(): string | false {
  const k = kubectlSkip();
  if (k) return k;
  const missing = prereqs.filter((p) => !existsSync(p));
  let reason: string | false = false;
  if (!isRoot) reason = 'the process runtime needs root for pod cgroups; skipping the Prometheus end-to-end test';
  else if (missing.length > 0) reason = `missing on this machine: ${missing.join(', ')} (Debian: prometheus); skipping the Prometheus end-to-end test`;
  if (reason && process.env.CI === 'true') throw new Error(`${reason} (CI=true forbids skipping)`);
  return reason;
}

const suffix = randomBytes(3).toString('hex');
const NODE = `prom-e2e-${suffix}`;
const NS = `prom-e2e-${suffix}`;
/** This suite's pod range: a /24 of 10.67.0.0/16 (its own bridge), services in 10.68.0.0/16. */
const POD_CIDR = `10.67.${randomBytes(1)[0]}.0/24`;

/** A port free right now on 127.0.0.1 (Prometheus takes no port 0: bind, read, release). */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve, reject) => srv.listen(0, '127.0.0.1', resolve).once('error', reject));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

describe('Prometheus scrapes the API server and the agent', { skip: skipReason(), timeout: 110_000 }, () => {
  let dataDir: string;
  let server: ServerProcess | undefined;
  let prometheus: ChildProcess | undefined;
  let promLog = '';
  let promUrl = '';
  let agentUrl = '';
  let agentCa = '';
  let tokens = { prometheus: '', nobody: '' };
  let k: Kubectl;
  const podUids = new Set<string>();

  const query = async (q: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> => {
    const r = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(q)}`);
    const body = (await r.json()) as { status: string; data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> }; error?: string };
    assert.equal(body.status, 'success', `query ${q}: ${body.error}`);
    return body.data.result;
  };

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'skiff-e2e-prometheus-'));
    server = await spawnServer(
      ['--data-dir', dataDir, '--node-name', NODE, '--runtime', 'process', '--cluster-cidr', POD_CIDR, '--service-cidr', '10.68.0.0/16', '--kubelet-port', '0', '--https-listen-port', '0', '--bind-address', '127.0.0.1', '--disable', 'ingress,servicelb,coredns,metrics-server'],
      30_000,
      {},
      { agent: true },
    );
    const s = server;
    await eventually('the embedded agent', async () => {
      if (/embedded node agent did not start/.test(s.output()) || s.child.exitCode !== null) throw new Error(`the agent did not start:\n${s.output()}`);
      return /skiff node ready/.test(s.output());
    }, 30_000);
    k = kubectlFor(join(dataDir, 'kubeconfig.yaml'));
    assert.equal((await k(['create', 'namespace', NS])).code, 0);
    await eventually('the default service account', async () => (await k(['-n', NS, 'get', 'serviceaccount', 'default'])).code === 0, 20_000);
    await applyFile(
      k,
      dataDir,
      'sleeper.yaml',
      `
apiVersion: v1
kind: Pod
metadata: {name: sleeper, namespace: ${NS}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: sleep, image: busybox, command: [sleep, "3600"]}
`,
    );
    await eventually('the sleeper running', async () => {
      const p = await k.json(['-n', NS, 'get', 'pod', 'sleeper']);
      podUids.add(p.metadata.uid);
      return p.status?.phase === 'Running';
    }, 60_000);

    // Credentials: a ServiceAccount token, bound to system:monitoring (the API server's /metrics) and to a role with
    // nodes/metrics (the agent's, via SubjectAccessReview); the admin's client certificate (system:masters) for cadvisor.
    const dir = join(dataDir, 'prometheus');
    assert.equal((await k(['-n', NS, 'create', 'serviceaccount', 'prometheus'])).code, 0);
    assert.equal((await k(['-n', NS, 'create', 'serviceaccount', 'nobody'])).code, 0);
    assert.equal((await k(['create', 'clusterrolebinding', `prometheus-${suffix}`, '--clusterrole=system:monitoring', `--serviceaccount=${NS}:prometheus`])).code, 0);
    assert.equal((await k(['create', 'clusterrole', `node-metrics-${suffix}`, '--verb=get', '--resource=nodes/metrics'])).code, 0);
    assert.equal((await k(['create', 'clusterrolebinding', `node-metrics-${suffix}`, `--clusterrole=node-metrics-${suffix}`, `--serviceaccount=${NS}:prometheus`])).code, 0);
    const token = await k(['-n', NS, 'create', 'token', 'prometheus', '--duration', '1h']);
    assert.equal(token.code, 0, token.stderr);
    const nobody = await k(['-n', NS, 'create', 'token', 'nobody', '--duration', '1h']);
    assert.equal(nobody.code, 0, nobody.stderr);
    const kc = parseYaml(readFileSync(join(dataDir, 'kubeconfig.yaml'), 'utf8'));
    const b64 = (x: string) => Buffer.from(x, 'base64').toString();
    const apiUrl = new URL(kc.clusters[0].cluster.server);
    const files = { token: join(dataDir, 'prom-token'), ca: join(dataDir, 'prom-ca.crt'), cert: join(dataDir, 'prom-client.crt'), key: join(dataDir, 'prom-client.key') };
    writeFileSync(files.token, token.stdout.trim(), { mode: 0o600 });
    writeFileSync(files.ca, b64(kc.clusters[0].cluster['certificate-authority-data']));
    writeFileSync(files.cert, b64(kc.users[0].user['client-certificate-data']));
    writeFileSync(files.key, b64(kc.users[0].user['client-key-data']), { mode: 0o600 });
    const node = await k.json(['get', 'node', NODE]);
    const nodeIP = node.status.addresses.find((a: { type: string }) => a.type === 'InternalIP').address as string;
    const kubeletPort = node.status.daemonEndpoints.kubeletEndpoint.Port as number;
    assert.ok(kubeletPort > 0, 'the node reports its kubelet port');
    agentUrl = `https://${nodeIP}:${kubeletPort}`;
    agentCa = b64(kc.clusters[0].cluster['certificate-authority-data']);
    tokens = { prometheus: token.stdout.trim(), nobody: nobody.stdout.trim() };
    const agentTls = { ca_file: files.ca, cert_file: files.cert, key_file: files.key };
    const config = {
      global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
      scrape_configs: [
        { job_name: 'apiserver', scheme: 'https', authorization: { credentials_file: files.token }, tls_config: { ca_file: files.ca }, static_configs: [{ targets: [apiUrl.host] }] },
        { job_name: 'kubelet', scheme: 'https', authorization: { credentials_file: files.token }, tls_config: { ca_file: files.ca }, static_configs: [{ targets: [`${nodeIP}:${kubeletPort}`] }] },
        { job_name: 'cadvisor', scheme: 'https', metrics_path: '/metrics/cadvisor', tls_config: agentTls, static_configs: [{ targets: [`${nodeIP}:${kubeletPort}`] }] },
      ],
    };
    writeFileSync(join(dataDir, 'prometheus.yml'), JSON.stringify(config));
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    prometheus = spawn(PROMETHEUS, [`--config.file=${join(dataDir, 'prometheus.yml')}`, `--storage.tsdb.path=${dir}`, `--web.listen-address=127.0.0.1:${port}`, '--storage.tsdb.retention.time=1h'], { stdio: ['ignore', 'pipe', 'pipe'] });
    prometheus.stdout!.on('data', (d) => (promLog += d));
    prometheus.stderr!.on('data', (d) => (promLog += d));
    await eventually('Prometheus ready', async () => {
      if (prometheus!.exitCode !== null) throw new Error(`prometheus exited ${prometheus!.exitCode}:\n${promLog}`);
      return (await fetch(`${promUrl}/-/ready`).catch(() => undefined))?.ok === true;
    }, 30_000);
  });

  after(async () => {
    if (prometheus && prometheus.exitCode === null) {
      const exited = new Promise((r) => prometheus!.once('exit', r));
      prometheus.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (prometheus.exitCode === null) prometheus.kill('SIGKILL');
    }
    if (server && k) await k(['delete', 'namespace', NS, '--ignore-not-found', '--timeout=40s'], { timeoutMs: 45_000 }).catch(() => undefined);
    if (server) await stopChild(server.child);
    const report = await hardCleanAgent({ dataDir, podUids });
    if (report.length > 0) console.log(`hard clean of ${dataDir}:\n  ${report.join('\n  ')}`);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("the agent answers bearer tokens as kubelet: 401 unknown, 403 without nodes/metrics, 200 with it", async () => {
    const get = (path: string, token?: string) =>
      new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = request(`${agentUrl}${path}`, { ca: agentCa, agent: false, headers: token ? { Authorization: `Bearer ${token}` } : {} }, (res) => {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        });
        req.on('error', reject);
        req.end();
      });
    assert.equal((await get('/metrics')).status, 401);
    assert.equal((await get('/metrics', 'not-a-token')).status, 401);
    const denied = await get('/metrics/cadvisor', tokens.nobody);
    assert.equal(denied.status, 403, denied.text);
    assert.match(denied.text, new RegExp(`Forbidden \\(user=system:serviceaccount:${NS}:nobody, verb=get, resource=nodes, subresource=metrics\\)`));
    // nodes/metrics does not open the other subresources.
    assert.equal((await get('/pods', tokens.prometheus)).status, 403);
    const ok = await get('/metrics', tokens.prometheus);
    assert.equal(ok.status, 200, ok.text);
    assert.match(ok.text, /^# TYPE kubelet_running_pods gauge$/m);
    // Through the API server's nodes/proxy, as Prometheus' kubernetes-nodes-cadvisor example job scrapes.
    const proxied = await k(['get', '--raw', `/api/v1/nodes/${NODE}/proxy/metrics/cadvisor`]);
    assert.equal(proxied.code, 0, proxied.stderr);
    assert.match(proxied.stdout, new RegExp(`^container_memory_working_set_bytes\\{container="sleep",.*namespace="${NS}",pod="sleeper"\\} \\d+`, 'm'));
  });

  it('has every target up and answers queries for the API request rate, running pods and container CPU', async () => {
    await eventually('all three targets up', async () => {
      const r = (await (await fetch(`${promUrl}/api/v1/targets?state=active`)).json()) as { data: { activeTargets: Array<{ labels: { job: string }; health: string; lastError: string }> } };
      const health = Object.fromEntries(r.data.activeTargets.map((t) => [t.labels.job, `${t.health} ${t.lastError}`.trim()]));
      assert.deepEqual(health, { apiserver: 'up', kubelet: 'up', cadvisor: 'up' });
      return true;
    }, 30_000);
    const rate = await eventually('a request rate', async () => {
      const r = await query('sum by (verb) (rate(apiserver_request_total[1m]))');
      return r.length > 0 && r.some((x) => Number(x.value[1]) > 0) ? r : undefined;
    }, 30_000);
    // The controllers and the agent keep listing and watching: reads are among the verbs.
    assert.ok(rate.some((x) => ['GET', 'LIST', 'WATCH'].includes(x.metric.verb!)), JSON.stringify(rate));
    const running = await query('kubelet_running_pods');
    assert.equal(running.length, 1, JSON.stringify(running));
    assert.ok(Number(running[0]!.value[1]) >= 1, `kubelet_running_pods ${running[0]!.value[1]}`);
    assert.equal(running[0]!.metric.job, 'kubelet');
    const containers = await query('kubelet_running_containers{container_state="running"}');
    assert.ok(Number(containers[0]?.value[1]) >= 1, `kubelet_running_containers ${JSON.stringify(containers)}`);
    const started = await query('kubelet_pod_start_duration_seconds_count');
    assert.ok(Number(started[0]?.value[1]) >= 1, `kubelet_pod_start_duration_seconds_count ${JSON.stringify(started)}`);
    const cpu = await eventually('the sleeper container CPU series', async () => {
      const r = await query(`container_cpu_usage_seconds_total{namespace="${NS}",pod="sleeper",container="sleep"}`);
      return r.length === 1 ? r : undefined;
    }, 15_000);
    assert.match(cpu[0]!.metric.image!, /busybox/);
    assert.ok(Number(cpu[0]!.value[1]) >= 0);
    const mem = await query(`container_memory_working_set_bytes{namespace="${NS}",pod="sleeper",container="sleep"}`);
    assert.equal(mem.length, 1, JSON.stringify(mem));
    assert.ok(Number(mem[0]!.value[1]) > 0, `working set ${mem[0]!.value[1]}`);
    const objects = await query('apiserver_storage_objects{resource="namespaces"}');
    assert.ok(Number(objects[0]?.value[1]) >= 5, JSON.stringify(objects));
  });
});
