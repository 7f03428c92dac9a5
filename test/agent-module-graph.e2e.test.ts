/**
 * End to end: a joined `skiff agent` loads the agent's code only. Its memory target (issue 7: <= 60 MB idle) depends on
 * not loading what only the server needs (API server, store, controllers, scheduler, CEL, the console, the metrics
 * server, the DNS server) nor what only other paths need (the CRI client with gRPC and protobufjs on the process
 * runtime, the simulator, the X.509 library). A server without its agent and one `skiff agent --runtime process` run
 * as real processes; the agent runs under a module loader hook (node:module register) that writes every module it
 * loads to a file, while it registers its node and runs a pod with a readiness probe, a ConfigMap volume, logs and
 * exec (the paths a working node takes). Fails on the tree before the split (8cbe8ae: node-restriction, the
 * simulator, the CRI client were loaded). Run from dist/ (it spawns bin/skiff):
 *   npx tsc -p tsconfig.json && node --test dist/test/agent-module-graph.e2e.test.js
 * Needs root and the CNI plugins (the real node's default paths: pod bridge, iptables proxy, network policy); skips
 * with the reason otherwise (fails under CI=true).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { hardCleanAgent } from './helpers/agent-cleanup.js';
import { needsCni, needsRoot, skipIfMissing } from './helpers/e2e-prereqs.js';
import { eventually } from './helpers/eventually.js';
import { kubectlFor, type Kubectl } from './helpers/kubectl.js';
import { SKIFF_BIN, spawnAgent, spawnServer, stopChild, type AgentProcess, type ServerProcess } from './helpers/server-process.js';

const skipReason = () => skipIfMissing(needsRoot('the pod bridge, cgroups and iptables of a real node') ?? needsCni());

const CLUSTER_CIDR = '10.57.0.0/16';
const NS = 'modgraph';

/** The checkout's root (bin/skiff's parent): loaded files are reported relative to it. */
const ROOT = fileURLToPath(new URL('..', pathToFileURL(SKIFF_BIN)));

/** Modules a node agent must never load, and why (relative to the checkout; the compiled tree under dist/src/). */
const FORBIDDEN: Array<[RegExp, string]> = [
  [/^dist\/src\/(apiserver|storage|controllers|scheduler|console|metrics)\//, 'server-only code'],
  [/^dist\/src\/cli\/(server|control-plane)\.js$/, 'the server command'],
  [/^dist\/src\/dns\/(dns-server|cluster-dns|upstream-forwarder|compute-dns-answer)\.js$/, 'the cluster DNS server'],
  // node-objects.js is shared: the real node's Lease is built as the simulated ones are.
  [/^dist\/src\/agent\/simulated\/(?!node-objects\.js$)/, 'the simulated nodes (only with --simulate)'],
  [/^dist\/src\/agent\/runtime\/cri\/(?!host-requirements\.js$)/, 'the CRI runtime (the agent runs the process runtime)'],
  [/^dist\/src\/agent\/probes\/grpc-probe\.js$/, 'the gRPC probe (no pod has one)'],
  [/^node_modules\/(@grpc\/grpc-js|protobufjs|better-sqlite3|@marcbachmann\/cel-js|fast-json-patch|rotating-file-stream|dns-packet)\//, 'a package of the server or of the CRI client'],
  // ~10 MB that would stay: the join's CSRs are made with node:crypto, the ingress's default certificate with openssl.
  [/^node_modules\/(@peculiar\/|reflect-metadata\/)/, 'the X.509 library'],
];

function podManifest(node: string): object {
  return {
    apiVersion: 'v1',
    kind: 'List',
    items: [
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings', namespace: NS }, data: { greeting: 'hello from the config map' } },
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'worker', namespace: NS },
        spec: {
          nodeName: node,
          terminationGracePeriodSeconds: 1,
          containers: [
            {
              name: 'c',
              image: 'busybox',
              command: ['/bin/sh', '-c', 'cat /config/greeting; echo; trap "exit 0" TERM; while :; do sleep 1 & wait $!; done'],
              readinessProbe: { exec: { command: ['cat', '/config/greeting'] }, periodSeconds: 1 },
              volumeMounts: [{ name: 'config', mountPath: '/config' }],
            },
          ],
          volumes: [{ name: 'config', configMap: { name: 'settings' } }],
        },
      },
    ],
  };
}

describe('a joined agent loads no server-only module', { skip: skipReason() }, () => {
  let dir: string;
  let serverDir: string;
  let agentDir: string;
  let server: ServerProcess | undefined;
  let agent: AgentProcess | undefined;
  let k: Kubectl;
  let moduleLog: string;
  const node = `mod-${randomBytes(3).toString('hex')}`;
  const podUids = new Set<string>();

  before(async () => {
    const suffix = randomBytes(3).toString('hex');
    dir = await mkdtemp(`/tmp/skm0-${suffix}-`);
    serverDir = await mkdtemp(`/tmp/skm1-${suffix}-`);
    agentDir = await mkdtemp(`/tmp/skm2-${suffix}-`);
    moduleLog = join(dir, 'modules.txt');
    // The hook runs on the loader's thread; it appends each module's URL as it is loaded.
    const hooks = join(dir, 'hooks.mjs');
    await writeFile(hooks, `import { appendFileSync } from 'node:fs';\nexport async function load(url, context, next) {\n  appendFileSync(${JSON.stringify(moduleLog)}, url + '\\n');\n  return next(url, context);\n}\n`);
    const register = join(dir, 'register.mjs');
    await writeFile(register, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`);
    server = await spawnServer(['--data-dir', serverDir, '--https-listen-port', '0', '--cluster-cidr', CLUSTER_CIDR], 60_000);
    k = kubectlFor(join(serverDir, 'kubeconfig.yaml'));
    const token = (await readFile(join(serverDir, 'server', 'token'), 'utf8')).trim();
    const started = spawnAgent(['--server', server.url, '--token', token, '--data-dir', agentDir, '--node-name', node, '--runtime', 'process', '--kubelet-port', '0', '--ingress-http-port', '0', '--ingress-https-port', '0'], 60_000, { nodeArgs: ['--import', pathToFileURL(register).href] });
    agent = started.agent;
    await started.ready;
  });

  after(async () => {
    try {
      if (server && server.child.exitCode === null && agent && agent.child.exitCode === null) {
        await k(['delete', 'namespace', NS, '--ignore-not-found', '--wait=true', '--timeout=30s'], { timeoutMs: 40_000 });
      }
      if (agent) await stopChild(agent.child);
      if (server) await stopChild(server.child);
    } finally {
      for (const dataDir of [agentDir, serverDir]) {
        if (!dataDir) continue;
        const report = await hardCleanAgent({ dataDir, podUids });
        if (report.length) console.log(`hard clean of ${dataDir}:\n  ${report.join('\n  ')}`);
        await rm(dataDir, { recursive: true, force: true });
      }
      if (dir) await rm(dir, { recursive: true, force: true });
    }
  });

  test('a working node (pod with a probe, a ConfigMap volume, logs and exec) loads the agent graph only', async () => {
    await eventually('the node Ready', async () => (await k.json(['get', 'node', node])).status?.conditions?.some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True'), 40_000);
    let r = await k(['create', 'namespace', NS]);
    assert.equal(r.code, 0, r.stderr);
    r = await k(['apply', '-f', '-'], { input: JSON.stringify(podManifest(node)) });
    assert.equal(r.code, 0, r.stderr);
    const pod = await eventually('the pod Ready', async () => {
      const p = await k.json(['get', 'pod', '-n', NS, 'worker']);
      if (p.metadata?.uid) podUids.add(p.metadata.uid);
      return p.status?.conditions?.some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True') ? p : undefined;
    }, 60_000);
    assert.equal(pod.spec.nodeName, node);
    r = await k(['logs', '-n', NS, 'worker']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /hello from the config map/);
    r = await k(['exec', '-n', NS, 'worker', '--', 'cat', '/config/greeting']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'hello from the config map');

    const loaded = [...new Set((await readFile(moduleLog, 'utf8')).split('\n').filter((u) => u.startsWith('file:')))].map((u) => fileURLToPath(u).slice(ROOT.length));
    // The hook saw the agent's own graph (else the check below would pass for nothing).
    for (const expected of ['dist/src/cli/agent.js', 'dist/src/agent/node-agent.js', 'dist/src/agent/runtime/process/process-runtime.js', 'dist/src/agent/kubelet/kubelet.js', 'dist/src/agent/streaming/remote-command.js']) {
      assert.ok(loaded.includes(expected), `${expected} not among the ${loaded.length} loaded modules:\n${loaded.join('\n')}`);
    }
    const offending = loaded.flatMap((file) => FORBIDDEN.filter(([re]) => re.test(file)).map(([, why]) => `${file} (${why})`));
    assert.deepEqual(offending, [], `the agent loaded modules it must not:\n${offending.join('\n')}`);
  });
});
