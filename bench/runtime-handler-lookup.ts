/**
 * bench/runtime-handler-lookup: what the kubelet's RuntimeClass lookup adds to making a sandbox for a pod that names a
 * class. The kubelet GETs the RuntimeClass (lookupRuntimeHandler) once per sandbox instead of keeping an informer of
 * every class; this measures that GET as a node makes it (a RestClient over the server's in-process transport, as the
 * node's identity in system:nodes, so the Node authorizer decides), against a GET of a ConfigMap over the same transport
 * by an admin (baseline: the cheapest read the API serves from its watch cache), in interleaved rounds of one run. A pod without
 * a class makes no call. Prints one JSON object: p50/p99 per phase in ms and the p50 ratio; for scale, containerd's
 * RunPodSandbox takes 89–114 ms on this machine type (src/agent/runtime/cri/README.md).
 * Usage: npm run build && node dist/bench/runtime-handler-lookup.js [--gets 2000]
 */
import { loadavg } from 'node:os';
import { rm } from 'node:fs/promises';
import { lookupRuntimeHandler } from '../src/agent/kubelet/kubelet.js';
import { ConfigMaps } from '../src/client/resources.js';
import { RestClient } from '../src/client/rest-client.js';
import { startTestServer } from '../test/helpers/test-server.js';

const arg = (name: string, dflt: number) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : dflt);
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

const gets = arg('--gets', 2000);
const s = await startTestServer({ controlPlane: false });
try {
  const rc = await s.request('POST', '/apis/node.k8s.io/v1/runtimeclasses', { apiVersion: 'node.k8s.io/v1', kind: 'RuntimeClass', metadata: { name: 'bench' }, handler: 'crun' });
  if (rc.status !== 201) throw new Error(`RuntimeClass: ${rc.status} ${rc.text}`);
  const cm = await s.request('POST', '/api/v1/namespaces/default/configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'bench' }, data: { a: 'b' } });
  if (cm.status !== 201) throw new Error(`ConfigMap: ${cm.status} ${cm.text}`);
  const client = new RestClient(s.running.api.inProcessTransport({ username: 'system:node:bench-node', groups: ['system:nodes', 'system:authenticated'] }));
  const time = async (fn: () => Promise<unknown>) => {
    const t0 = performance.now();
    await fn();
    return performance.now() - t0;
  };
  if ((await lookupRuntimeHandler(client, 'bench')) !== 'crun') throw new Error('lookupRuntimeHandler did not find the handler');
  const samples = { configMapGet: [] as number[], handlerLookup: [] as number[] };
  const admin = new RestClient(s.running.api.inProcessTransport({ username: 'bench', groups: ['system:masters', 'system:authenticated'] }));
  for (let i = 0; i < 100; i++) await Promise.all([lookupRuntimeHandler(client, 'bench'), admin.get(ConfigMaps, 'default', 'bench')]);
  for (let done = 0; done < gets; done += 100) {
    for (let i = 0; i < 100; i++) samples.configMapGet.push(await time(() => admin.get(ConfigMaps, 'default', 'bench')));
    for (let i = 0; i < 100; i++) samples.handlerLookup.push(await time(() => lookupRuntimeHandler(client, 'bench')));
  }
  const stat = (xs: number[]) => {
    const sorted = [...xs].sort((a, b) => a - b);
    return { p50: +percentile(sorted, 50).toFixed(3), p99: +percentile(sorted, 99).toFixed(3) };
  };
  const base = stat(samples.configMapGet);
  const lookup = stat(samples.handlerLookup);
  console.log(JSON.stringify({ bench: 'runtime-handler-lookup', gets, ms: { configMapGet: base, handlerLookup: lookup }, ratioP50: +(lookup.p50 / base.p50).toFixed(2), loadavg1: +loadavg()[0]!.toFixed(2) }));
} finally {
  await s.stop();
  await rm(s.dataDir, { recursive: true, force: true });
}
