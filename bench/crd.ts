/**
 * bench/crd: custom objects against ConfigMaps on the same server in the same run. A real skiff API server (in this
 * process, SQLite store, TLS and client-certificate auth, keep-alive client) serves a CRD with a typical schema
 * (required fields, an enum, a pattern, bounds, defaults, a list-map, printer columns, status subresource); creates
 * then GETs alternate between ConfigMaps (baseline) and custom objects in rounds, so drift in machine load hits both.
 * A third kind is the same CRD with two x-kubernetes-validations (CEL) rules.
 * Prints one JSON object: creates/s and GET p50/p99 for each, and the ratios custom/baseline (creates/s) and
 * baseline/custom (GET p99); issue 11's targets: at least 0.8 for both, 0.6 for the kind with CEL rules.
 * Usage: npm run build && node dist/bench/crd.js [--creates 1000] [--gets 3000] [--rounds 10]
 */
import { loadavg } from 'node:os';
import type { ValidationRule } from '../src/apiserver/crd/json-schema.js';
import { customResourceDefinition, installCrd, mapList } from '../test/helpers/crd.js';
import { startTestServer } from '../test/helpers/test-server.js';
import { percentile } from './stats.js';

const arg = (name: string, dflt: number) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : dflt);

/** The widget kind; with `rules`, the same kind with CEL rules on its spec. */
const widgetCrd = (kind: string, rules?: ValidationRule[]) =>
  customResourceDefinition({
    group: 'bench.skiff.dev',
    kind,
    versions: [
      {
        name: 'v1',
        subresources: { status: {} },
        additionalPrinterColumns: [{ name: 'Size', type: 'string', jsonPath: '.spec.size' }, { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' }],
        schema: {
          type: 'object',
          properties: {
            spec: {
              type: 'object',
              required: ['size', 'image'],
              properties: {
                size: { type: 'string', enum: ['S', 'M', 'L'] },
                image: { type: 'string', pattern: '^[a-z0-9./:-]+$' },
                replicas: { type: 'integer', minimum: 0, maximum: 100, default: 1 },
                env: { type: 'object', additionalProperties: { type: 'string' } },
                ports: mapList(['name'], { name: { type: 'string' }, port: { type: 'integer', default: 80 } }),
              },
              ...(rules ? { 'x-kubernetes-validations': rules } : {}),
            },
            status: { type: 'object', properties: { phase: { type: 'string' } } },
          },
        },
      },
    ],
  });
const CRD = widgetCrd('Widget');
/** The same kind with CEL rules (issue 11: within 60 % of ConfigMaps). */
const CEL_CRD = widgetCrd('CelWidget', [
  { rule: 'self.replicas <= 50 || self.size == "L"', message: 'only L widgets go past 50 replicas' },
  { rule: "!has(self.ports) || self.ports.all(p, p.port > 0 && p.port < 65536)", message: 'ports must be valid' },
]);

const round2 = (n: number) => Math.round(n * 100) / 100;

const creates = arg('--creates', 1000);
const gets = arg('--gets', 3000);
const rounds = arg('--rounds', 10);
const s = await startTestServer({ controlPlane: false });
try {
  for (const crd of [CRD, CEL_CRD]) await installCrd(s, crd);
  const kinds = {
    configmaps: {
      path: '/api/v1/namespaces/default/configmaps',
      body: (n: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: n, labels: { app: 'bench' } }, data: { size: 'M', image: 'registry.example/app:1.2', replicas: '3', env: 'A=1', port: '8080' } }),
    },
    widgets: {
      path: '/apis/bench.skiff.dev/v1/namespaces/default/widgets',
      body: (n: string) => ({ apiVersion: 'bench.skiff.dev/v1', kind: 'Widget', metadata: { name: n, labels: { app: 'bench' } }, spec: { size: 'M', image: 'registry.example/app:1.2', replicas: 3, env: { A: '1' }, ports: [{ name: 'http', port: 8080 }] } }),
    },
    celwidgets: {
      path: '/apis/bench.skiff.dev/v1/namespaces/default/celwidgets',
      body: (n: string) => ({ apiVersion: 'bench.skiff.dev/v1', kind: 'CelWidget', metadata: { name: n, labels: { app: 'bench' } }, spec: { size: 'M', image: 'registry.example/app:1.2', replicas: 3, env: { A: '1' }, ports: [{ name: 'http', port: 8080 }] } }),
    },
  };
  type Kind = keyof typeof kinds;
  const order = (round: number): Kind[] => (['configmaps', 'widgets', 'celwidgets'] as Kind[]).map((_, i, all) => all[(i + round) % all.length]);
  // The CEL rules must be in force, or the third phase measures nothing.
  const refused = await s.request('POST', kinds.celwidgets.path, { ...kinds.celwidgets.body('cel-check'), spec: { size: 'M', image: 'x', replicas: 60 } });
  if (refused.status !== 422) throw new Error(`a CelWidget breaking its rule was answered ${refused.status}, not 422: are CEL rules enforced?`);
  const createMs: Record<Kind, number> = { configmaps: 0, widgets: 0, celwidgets: 0 };
  const getLatencies: Record<Kind, number[]> = { configmaps: [], widgets: [], celwidgets: [] };
  // Warm-up (JIT, connection, caches), not measured.
  for (const kind of Object.keys(kinds) as Kind[]) {
    for (let i = 0; i < 50; i++) {
      const r = await s.request('POST', kinds[kind].path, kinds[kind].body(`warm-${i}`));
      if (r.status !== 201) throw new Error(`${kind} create: ${r.status} ${r.text}`);
      await s.request('GET', `${kinds[kind].path}/warm-${i}`);
    }
  }
  const perRound = Math.ceil(creates / rounds);
  for (let round = 0; round < rounds; round++) {
    for (const kind of order(round)) {
      const start = performance.now();
      for (let i = 0; i < perRound; i++) {
        const r = await s.request('POST', kinds[kind].path, kinds[kind].body(`o-${round}-${i}`));
        if (r.status !== 201) throw new Error(`${kind} create: ${r.status} ${r.text}`);
      }
      createMs[kind] += performance.now() - start;
    }
  }
  const getsPerRound = Math.ceil(gets / rounds);
  for (let round = 0; round < rounds; round++) {
    for (const kind of order(round)) {
      for (let i = 0; i < getsPerRound; i++) {
        const name = `o-${i % rounds}-${i % perRound}`;
        const t = performance.now();
        const r = await s.request('GET', `${kinds[kind].path}/${name}`);
        getLatencies[kind].push(performance.now() - t);
        if (r.status !== 200) throw new Error(`${kind} get: ${r.status} ${r.text}`);
      }
    }
  }
  const summary = (kind: Kind) => {
    const sorted = [...getLatencies[kind]].sort((a, b) => a - b);
    return { createsPerSec: round2((perRound * rounds) / (createMs[kind] / 1000)), getP50Ms: round2(percentile(sorted, 50)), getP99Ms: round2(percentile(sorted, 99)) };
  };
  const cm = summary('configmaps');
  const cr = summary('widgets');
  const cel = summary('celwidgets');
  console.log(
    JSON.stringify({
      bench: 'crd',
      creates: perRound * rounds,
      gets: getsPerRound * rounds,
      loadavg: loadavg().map(round2),
      configmaps: cm,
      customObjects: cr,
      customObjectsWithCel: cel,
      ratios: { createsPerSec: round2(cr.createsPerSec / cm.createsPerSec), getP99: round2(cm.getP99Ms / cr.getP99Ms), getP50: round2(cm.getP50Ms / cr.getP50Ms) },
      celRatios: { createsPerSec: round2(cel.createsPerSec / cm.createsPerSec), getP99: round2(cm.getP99Ms / cel.getP99Ms) },
      target: 0.8,
      celTarget: 0.6,
    }),
  );
} finally {
  await s.stop();
}
