/**
 * NetworkPolicy enforcement end to end: `skiff server` as root with its embedded agent on the process runtime, driven
 * by the real kubectl. Two namespaces: a web pod (a node one-liner on 8080, declared as the named port `http`, and on
 * 8081) and clients in both; the clients reach the web pod by pod IP across the node's CNI bridge, so the rules must
 * see bridged traffic (br_netfilter, bridge-nf-call-iptables=1).
 *
 * Covered: before any policy every client connects; a default-deny ingress policy blocks them (curl times out:
 * packets are dropped) while the node itself (the kubelet's readiness probe, and this test process) still reaches the
 * pod; a podSelector allow rule reopens port 8080 for the labelled client of the web pod's namespace only; a
 * namespaceSelector rule opens it for the other namespace; a named-port rule opens `http` but not 8081; an egress
 * default deny blocks a client's outgoing connection and an ipBlock allow (with an except) reopens it; a policy that
 * cannot be honoured gets a Warning Event; deleting the policies reopens; kill -9 leaves the rules (pods stay
 * isolated), a restart replaces stale chains whole, a clean stop removes every rule of ours; with
 * --disable-network-policy nothing is enforced.
 * The time from `kubectl apply` to enforcement (as seen by a client; an upper bound) is printed, not asserted.
 *
 * The cluster uses its own ranges (pod 10.91.0.0/16, service 10.92.0.0/16) so other clusters on this machine are not
 * touched; the agent's chains are named after its own bridge.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { hardCleanAgent } from './helpers/agent-cleanup.js';
import { createNamespace, startAgentServer, stopAgentServer } from './helpers/agent-server.js';
import { e2eSkipReason } from './helpers/e2e-prereqs.js';
import { eventually } from './helpers/eventually.js';
import { applyFile, kubectlFor, type Kubectl } from './helpers/kubectl.js';
import type { ServerProcess } from './helpers/server-process.js';

const run = promisify(execFile);
const skipReason = () =>
  e2eSkipReason({
    prereqs: ['/usr/bin/unshare', '/usr/bin/nsenter', '/usr/lib/cni/bridge', '/usr/lib/cni/host-local', '/usr/lib/cni/loopback', '/usr/sbin/iptables-restore', '/usr/bin/curl'],
    notRoot: 'network policy enforcement needs root; skipping the network policy end-to-end test',
    what: 'the network policy end-to-end test',
  });

const suffix = randomBytes(3).toString('hex');
const NODE = `e2e-np-${suffix}`;
const NS_A = `np-a-${suffix}`;
const NS_B = `np-b-${suffix}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function httpGet(host: string, port: number, timeoutMs = 2000): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path: '/', timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error(`GET http://${host}:${port}/ timed out`)));
    req.on('error', reject);
  });
}

/** Our filter rules: chains and the rules naming them. */
async function ourRules(tag: string): Promise<string[]> {
  const { stdout } = await run('iptables', ['-w', '5', '-t', 'filter', '-S'], { maxBuffer: 256 * 1024 * 1024 });
  return stdout.split('\n').filter((l) => l.includes(`SKIFF-POD-FW-${tag}`) || l.includes(`SKIFF-NWPLCY-${tag}-`));
}

describe('network policy end to end: skiff server as root, process runtime, real kubectl', { skip: skipReason() }, () => {
  let dataDir: string;
  let server: ServerProcess | undefined;
  let k: Kubectl;
  let tag = '';
  let webIP = '';
  const outputs: Array<() => string> = [];
  const timings: string[] = [];

  const startServer = async (extra: string[] = []) => {
    server = await startAgentServer(
      [
        '--data-dir', dataDir, '--node-name', NODE, '--runtime', 'process', '--kubelet-port', '0', '--https-listen-port', '0', '--bind-address', '127.0.0.1',
        '--cluster-cidr', '10.91.0.0/16', '--service-cidr', '10.92.0.0/16', '--disable', 'coredns,ingress,servicelb', ...extra,
        // SKIFF_E2E_PROXY_MODE=nftables: the policy rules (iptables-nft) beside the proxy's nftables table.
        ...(process.env.SKIFF_E2E_PROXY_MODE ? ['--proxy-mode', process.env.SKIFF_E2E_PROXY_MODE] : []), ...(process.env.SKIFF_E2E_SERVER_LOG ? ['--debug'] : []),
      ],
    );
    outputs.push(server.output);
    const s = server;
    if (extra.includes('--disable-network-policy')) return;
    const m = /network policy: iptables, chains SKIFF-POD-FW-([0-9a-f]{4})\*/.exec(s.output());
    assert.ok(m, `the agent announced its network policy chains; output:\n${s.output()}`);
    tag = m[1]!;
  };
  const stopServer = async (signal: NodeJS.Signals = 'SIGTERM') => {
    const s = server;
    server = undefined;
    await stopAgentServer(s, signal);
  };

  /** From `pod` in `ns`, one GET per port of the web pod: 'OK', or 'ERR<curl exit>' (28: timed out, 7: refused). */
  const reach = async (ns: string, pod: string, ports: number[] = [8080]): Promise<string[]> => {
    const script = ports.map((p) => `curl -s -o /dev/null --connect-timeout 1 -m 2 http://${webIP}:${p}/ && echo OK || echo ERR$?`).join('; ');
    const r = await k(['-n', ns, 'exec', pod, '--', 'sh', '-c', script], { timeoutMs: 30_000 });
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.split('\n').filter((l) => l.length > 0);
  };
  /** Applies a policy and waits until `pod` sees `want`; prints how long that took. */
  const applyAndWait = async (what: string, yaml: string, ns: string, pod: string, want: string[], ports: number[] = [8080]) => {
    const rulesBefore = (await ourRules(tag)).join('\n');
    const t0 = performance.now();
    // The kernel's rules polled every 20 ms meanwhile: when they change, the policy is enforced.
    let inKernelMs: number | undefined;
    let polling = true;
    const poller = (async () => {
      while (polling && inKernelMs === undefined) {
        if ((await ourRules(tag)).join('\n') !== rulesBefore) inKernelMs = performance.now() - t0;
        else await sleep(20);
      }
    })();
    try {
      await applyFile(k, dataDir, `${what.replace(/\W+/g, '-')}.yaml`, yaml);
      await eventually(`${what}: ${ns}/${pod} sees ${want.join(',')}`, async () => JSON.stringify(await reach(ns, pod, ports)) === JSON.stringify(want), 20_000);
    } finally {
      polling = false;
      await poller;
    }
    const ms = Math.round(performance.now() - t0);
    assert.ok(inKernelMs !== undefined, `${what}: the rules changed`);
    timings.push(`${what}: rules ${Math.round(inKernelMs)} ms, client ${ms} ms`);
    console.log(`# ${what}: rules in the kernel ${Math.round(inKernelMs)} ms after kubectl apply started; the client saw it within ${ms} ms (kubectl exec and curl's 1 s timeout included)`);
  };
  const policyYaml = (ns: string, name: string, spec: string) => `apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: ${name}, namespace: ${ns}}\nspec:\n${spec}\n`;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'skiff-e2e-np-'));
    await startServer();
    k = kubectlFor(join(dataDir, 'kubeconfig.yaml'));
    for (const [ns, team] of [[NS_A, 'a'], [NS_B, 'b']] as const) {
      await createNamespace(k, ns);
      assert.equal((await k(['label', 'namespace', ns, `np-team-${suffix}=${team}`])).code, 0);
    }
    const web = `const http = require('http'); for (const p of [8080, 8081]) http.createServer((q, s) => s.end('web:' + p)).listen(p);`;
    const client = (ns: string, name: string, labels: string) => `---
apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ${ns}, labels: {${labels}}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: c, image: busybox, command: [sleep, "3600"]}
`;
    await applyFile(
      k,
      dataDir,
      'pods.yaml',
      `apiVersion: v1
kind: Pod
metadata: {name: web, namespace: ${NS_A}, labels: {app: web}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: node
    command: [node, -e, ${JSON.stringify(web)}]
    ports: [{name: http, containerPort: 8080}]
    readinessProbe:
      httpGet: {path: /, port: 8080}
      periodSeconds: 1
      failureThreshold: 1
${client(NS_A, 'client-ok', 'role: client')}${client(NS_A, 'client-other', 'role: other')}${client(NS_B, 'client-b', 'role: client')}`,
    );
    for (const [ns, pod] of [[NS_A, 'web'], [NS_A, 'client-ok'], [NS_A, 'client-other'], [NS_B, 'client-b']] as const) {
      const r = await k(['-n', ns, 'wait', '--for=condition=ready', `pod/${pod}`, '--timeout=60s'], { timeoutMs: 65_000 });
      assert.equal(r.code, 0, `${ns}/${pod}: ${r.stderr}`);
    }
    webIP = (await k.json(['-n', NS_A, 'get', 'pod', 'web'])).status.podIP;
    assert.match(webIP, /^10\.91\./, 'the web pod is on the pod network');
  });

  after(async () => {
    if (timings.length > 0) console.log(`# policy change → enforced (upper bounds): ${timings.join('; ')}`);
    if (server && k) for (const ns of [NS_A, NS_B]) await k(['delete', 'namespace', ns, '--ignore-not-found', '--timeout=30s'], { timeoutMs: 35_000 }).catch(() => undefined);
    await stopServer();
    if (process.env.SKIFF_E2E_SERVER_LOG) writeFileSync(process.env.SKIFF_E2E_SERVER_LOG, outputs.map((o, i) => `===== server process ${i + 1}\n${o()}`).join('\n'));
    const report = await hardCleanAgent({ dataDir });
    if (report.length > 0) console.log(`hard clean of ${dataDir}:\n  ${report.join('\n  ')}`);
    if (tag) assert.deepEqual(await ourRules(tag), [], 'no network policy rule of this agent is left');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('before any policy every client reaches the web pod, in both namespaces', async () => {
    assert.equal((await run('sysctl', ['-n', 'net.bridge.bridge-nf-call-iptables'])).stdout.trim(), '1', 'bridged traffic passes iptables here');
    assert.deepEqual(await reach(NS_A, 'client-ok', [8080, 8081]), ['OK', 'OK']);
    assert.deepEqual(await reach(NS_A, 'client-other'), ['OK']);
    assert.deepEqual(await reach(NS_B, 'client-b'), ['OK']);
  });

  it('a default-deny ingress policy drops every client, while the node itself (probes) still reaches the pod', async () => {
    await applyAndWait('default deny ingress', policyYaml(NS_A, 'default-deny', '  podSelector: {}\n  policyTypes: [Ingress]'), NS_A, 'client-ok', ['ERR28']);
    assert.deepEqual(await reach(NS_A, 'client-other'), ['ERR28'], 'dropped (timeout), not refused');
    assert.deepEqual(await reach(NS_B, 'client-b'), ['ERR28']);
    assert.equal(await httpGet(webIP, 8080), 200, 'the node reaches its pod');
    // The readiness probe (every second, failureThreshold 1) keeps passing.
    await sleep(2500);
    const ready = (await k.json(['-n', NS_A, 'get', 'pod', 'web'])).status.conditions.find((c: any) => c.type === 'Ready');
    assert.equal(ready.status, 'True', 'the kubelet probe still reaches the isolated pod');
    // The rules name this cluster's pods only.
    const rules = await ourRules(tag);
    assert.ok(rules.some((r) => r.includes(`-d ${webIP}/32`)), rules.join('\n'));
    for (const r of rules) for (const m of r.matchAll(/-[sd] (\d+\.\d+\.\d+\.\d+)/g)) assert.match(m[1]!, /^10\.91\./, r);
  });

  it('a podSelector allow rule reopens port 8080 for the labelled client of its own namespace only', async () => {
    await applyAndWait(
      'allow podSelector',
      policyYaml(NS_A, 'web-from-clients', '  podSelector: {matchLabels: {app: web}}\n  ingress:\n  - from: [{podSelector: {matchLabels: {role: client}}}]\n    ports: [{protocol: TCP, port: 8080}]'),
      NS_A,
      'client-ok',
      ['OK', 'ERR28'],
      [8080, 8081],
    );
    assert.deepEqual(await reach(NS_A, 'client-other'), ['ERR28'], 'not labelled');
    assert.deepEqual(await reach(NS_B, 'client-b'), ['ERR28'], 'labelled, but in another namespace');
  });

  it('a namespaceSelector rule opens the pod to the other namespace', async () => {
    await applyAndWait(
      'allow namespaceSelector',
      policyYaml(NS_A, 'web-from-team-b', `  podSelector: {matchLabels: {app: web}}\n  ingress:\n  - from: [{namespaceSelector: {matchLabels: {np-team-${suffix}: b}}}]`),
      NS_B,
      'client-b',
      ['OK', 'OK'],
      [8080, 8081],
    );
    assert.deepEqual(await reach(NS_A, 'client-other'), ['ERR28'], 'its own namespace is not team b');
  });

  it('a named port rule opens the port named http (8080) and not 8081', async () => {
    await applyAndWait(
      'allow named port',
      policyYaml(NS_A, 'web-http', '  podSelector: {matchLabels: {app: web}}\n  ingress:\n  - from: [{podSelector: {}}]\n    ports: [{port: http}]'),
      NS_A,
      'client-other',
      ['OK', 'ERR28'],
      [8080, 8081],
    );
  });

  it('an egress default deny blocks a client\'s outgoing connection; an ipBlock allow reopens it', async () => {
    await applyAndWait('egress default deny', policyYaml(NS_B, 'deny-egress', '  podSelector: {}\n  policyTypes: [Egress]'), NS_B, 'client-b', ['ERR28', 'ERR28'], [8080, 8081]);
    await applyAndWait(
      'allow egress ipBlock',
      policyYaml(NS_B, 'egress-to-pods', `  podSelector: {matchLabels: {role: client}}\n  policyTypes: [Egress]\n  egress:\n  - to: [{ipBlock: {cidr: 10.91.0.0/16, except: [10.91.255.0/24]}}]\n    ports: [{protocol: TCP, port: 8080}]`),
      NS_B,
      'client-b',
      ['OK', 'ERR28'],
      [8080, 8081],
    );
    await applyAndWait(
      'egress ipBlock except',
      policyYaml(NS_B, 'egress-to-pods', `  podSelector: {matchLabels: {role: client}}\n  policyTypes: [Egress]\n  egress:\n  - to: [{ipBlock: {cidr: 10.91.0.0/16, except: [${webIP}/32]}}]\n    ports: [{protocol: TCP, port: 8080}]`),
      NS_B,
      'client-b',
      ['ERR28'],
    );
  });

  it('an egress-isolated server still answers (replies are not egress) and still passes its probe', async () => {
    await applyFile(k, dataDir, 'web-no-egress.yaml', policyYaml(NS_A, 'web-no-egress', '  podSelector: {matchLabels: {app: web}}\n  policyTypes: [Egress]'));
    await eventually('the web pod egress-isolated', async () => (await ourRules(tag)).some((r) => r.includes(`-s ${webIP}/32`) && r.includes('egress')), 10_000);
    assert.deepEqual(await reach(NS_A, 'client-ok', [8080]), ['OK'], 'the reply of an allowed connection passes');
    assert.equal(await httpGet(webIP, 8080), 200, 'the node reaches it');
    await sleep(2500);
    const ready = (await k.json(['-n', NS_A, 'get', 'pod', 'web'])).status.conditions.find((c: any) => c.type === 'Ready');
    assert.equal(ready.status, 'True', 'the probe replies pass');
  });

  it('a policy that cannot be honoured gets a Warning Event and allows nothing more', async () => {
    await applyFile(k, dataDir, 'ipv6.yaml', policyYaml(NS_A, 'v6-only', '  podSelector: {matchLabels: {role: other}}\n  ingress:\n  - from: [{ipBlock: {cidr: "fd00::/64"}}]'));
    const ev = await eventually('a PolicyNotEnforced event', async () => {
      const list = await k.json(['-n', NS_A, 'get', 'events', '--field-selector', 'involvedObject.name=v6-only']);
      return list.items.find((e: any) => e.reason === 'PolicyNotEnforced');
    }, 15_000);
    assert.equal(ev.type, 'Warning');
    assert.equal(ev.involvedObject.kind, 'NetworkPolicy');
    assert.match(ev.message, /IPv6 block "fd00::\/64" is not enforced/);
    assert.equal(ev.source.host, NODE);
  });

  it('a restart after kill -9 keeps pods isolated and replaces stale chains; deleting the policies reopens', async () => {
    const before = await ourRules(tag);
    assert.ok(before.length > 10, before.join('\n'));
    await stopServer('SIGKILL');
    assert.deepEqual(await ourRules(tag), before, 'the rules outlive a killed agent (pods stay isolated)');
    assert.equal(await httpGet(webIP, 8080), 200);
    await run('iptables', ['-w', '5', '-t', 'filter', '-N', `SKIFF-NWPLCY-${tag}-STALE00000`]);
    const oldTag = tag;
    await startServer();
    assert.equal(tag, oldTag, 'the same agent names its chains the same');
    assert.ok(!(await ourRules(tag)).some((r) => r.includes('STALE')), 'the stale chain was replaced at start');
    const jumps = (await ourRules(tag)).filter((r) => /^-A (FORWARD|INPUT) /.test(r));
    assert.equal(jumps.length, 2, `one jump per hook: ${jumps.join('\n')}`);
    assert.deepEqual(await reach(NS_A, 'client-other', [8080, 8081]), ['OK', 'ERR28'], 'enforced as before');

    const t0 = performance.now();
    assert.equal((await k(['-n', NS_A, 'delete', 'networkpolicy', '--all'])).code, 0);
    await eventually('every client reaches 8081 again', async () => JSON.stringify(await reach(NS_A, 'client-other', [8081])) === '["OK"]', 20_000);
    timings.push(`policies deleted: ${Math.round(performance.now() - t0)} ms`);
    assert.deepEqual(await reach(NS_B, 'client-b', [8080]), ['ERR28'], "client-b's own egress policy still holds");

    await stopServer('SIGTERM');
    assert.deepEqual(await ourRules(tag), [], 'no rule of ours after a clean stop');
  });

  it('--disable-network-policy: no rules, and the policies left are not enforced', async () => {
    await startServer(['--disable-network-policy']);
    assert.match(server!.output(), /network policy: disabled \(--disable-network-policy\)/);
    assert.equal((await k.json(['-n', NS_B, 'get', 'networkpolicies'])).items.length, 2, "client-b's egress policies are still there");
    await eventually('client-b reaches the web pod', async () => JSON.stringify(await reach(NS_B, 'client-b', [8080])) === '["OK"]', 20_000);
    assert.deepEqual(await ourRules(tag), []);
  });
});
