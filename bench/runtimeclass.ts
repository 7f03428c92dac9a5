/**
 * bench/runtimeclass: what RuntimeClass admission adds to a pod create. A real skiff API server (in this process,
 * SQLite, TLS) creates pods one after another without a runtimeClassName (baseline: the plugin only looks at the
 * field) and naming a RuntimeClass with an overhead and scheduling (a cache read, the overhead copied, the node
 * selector and tolerations merged, the validating half's second read), in interleaved rounds of the same run.
 * Prints one JSON object: p50/p99 per phase in ms and the p50 ratio.
 * Usage: npm run build && node dist/bench/runtimeclass.js [--creates 1000]
 */
import { loadavg } from 'node:os';
import { rm } from 'node:fs/promises';
import { startTestServer } from '../test/helpers/test-server.js';

const arg = (name: string, dflt: number) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : dflt);
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

const creates = arg('--creates', 1000);
const s = await startTestServer({ controlPlane: false });
try {
  const rc = await s.request('POST', '/apis/node.k8s.io/v1/runtimeclasses', {
    apiVersion: 'node.k8s.io/v1',
    kind: 'RuntimeClass',
    metadata: { name: 'bench' },
    handler: 'runc',
    overhead: { podFixed: { cpu: '100m', memory: '32Mi' } },
    scheduling: { nodeSelector: { pool: 'bench' }, tolerations: [{ key: 'bench', operator: 'Exists', effect: 'NoSchedule' }] },
  });
  if (rc.status !== 201) throw new Error(`RuntimeClass: ${rc.status} ${rc.text}`);
  await new Promise((r) => setTimeout(r, 200));
  let seq = 0;
  const create = async (runtimeClassName?: string) => {
    const t0 = performance.now();
    const r = await s.request('POST', '/api/v1/namespaces/default/pods', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `p-${seq++}` },
      spec: { ...(runtimeClassName ? { runtimeClassName } : {}), containers: [{ name: 'c', image: 'nginx:1.27' }] },
    });
    if (r.status !== 201) throw new Error(`pod: ${r.status} ${r.text}`);
    return performance.now() - t0;
  };
  const samples = { plain: [] as number[], runtimeClass: [] as number[] };
  for (let i = 0; i < 50; i++) await create(i % 2 ? 'bench' : undefined);
  for (let done = 0; done < creates; done += 50) {
    for (let i = 0; i < 50; i++) samples.plain.push(await create());
    for (let i = 0; i < 50; i++) samples.runtimeClass.push(await create('bench'));
  }
  const stat = (xs: number[]) => {
    const sorted = [...xs].sort((a, b) => a - b);
    return { p50: +percentile(sorted, 50).toFixed(3), p99: +percentile(sorted, 99).toFixed(3) };
  };
  const plain = stat(samples.plain);
  const withClass = stat(samples.runtimeClass);
  console.log(JSON.stringify({ bench: 'runtimeclass', creates, ms: { plain, runtimeClass: withClass }, ratioP50: +(withClass.p50 / plain.p50).toFixed(2), loadavg1: +loadavg()[0]!.toFixed(2) }));
} finally {
  await s.stop();
  await rm(s.dataDir, { recursive: true, force: true });
}
