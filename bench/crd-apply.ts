/**
 * bench/crd-apply: server-side apply of custom objects (merged by their CRD schema's list types) against a built-in
 * kind of the same shape, in the same run.
 *
 * 1. HTTP: a real skiff API server (in this process, SQLite store, TLS, client certificates, no controllers) serves
 *    a CRD whose spec has a map list keyed by name, a set and a granular map; two field managers take turns applying
 *    their own items to objects of it and to Deployments (the built-in baseline: containers keyed by name, labels,
 *    env), in alternating rounds so drift in machine load hits both. Prints applies/s for each and custom/built-in.
 * 2. In process: the merge alone (serverSideApply) on the same configurations, µs per apply, with the CRD type built
 *    once (what the server does) and rebuilt on every call (what caching the type per version saves), and the cost
 *    of one build of the type.
 *
 * Usage: npm run build && node dist/bench/crd-apply.js [--applies 600] [--rounds 6] [--merges 10000]
 */
import { loadavg } from 'node:os';
import type { KubeObject } from '../src/api/object.js';
import { serverSideApply } from '../src/apiserver/apply/apply.js';
import { applyTypeOf } from '../src/apiserver/crd/apply-schema.js';
import type { JSONSchemaProps } from '../src/apiserver/crd/json-schema.js';
import { customResourceDefinition, installCrd, mapList } from '../test/helpers/crd.js';
import { startTestServer } from '../test/helpers/test-server.js';

const arg = (name: string, dflt: number) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : dflt);
const round2 = (n: number) => Math.round(n * 100) / 100;

const SCHEMA: JSONSchemaProps = {
  type: 'object',
  properties: {
    spec: {
      type: 'object',
      properties: {
        replicas: { type: 'integer' },
        image: { type: 'string' },
        labels: { type: 'object', additionalProperties: { type: 'string' } },
        tags: { type: 'array', 'x-kubernetes-list-type': 'set', items: { type: 'string' } },
        workers: mapList(['name'], {
          name: { type: 'string' },
          image: { type: 'string' },
          env: mapList(['name'], { name: { type: 'string' }, value: { type: 'string' } }),
        }),
      },
    },
    status: { type: 'object', properties: { phase: { type: 'string' } } },
  },
};

const CRD = customResourceDefinition({ group: 'bench.skiff.dev', kind: 'Gadget', versions: [{ name: 'v1', subresources: { status: {} }, schema: SCHEMA }] });

/** Manager `who`'s configuration, round `i`: its own worker/container, its own env value changing each time. */
const gadget = (name: string, who: string, i: number) => ({
  apiVersion: 'bench.skiff.dev/v1',
  kind: 'Gadget',
  metadata: { name },
  spec: {
    ...(who === 'a' ? { replicas: 2, image: 'registry.example/app:1.2' } : {}),
    labels: { [`owner-${who}`]: 'yes' },
    tags: [`t-${who}`],
    workers: [{ name: `w-${who}`, image: 'registry.example/worker:1', env: [{ name: 'ROUND', value: String(i) }, { name: 'WHO', value: who }] }],
  },
});
const deployment = (name: string, who: string, i: number) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name },
  spec: {
    ...(who === 'a' ? { replicas: 2, selector: { matchLabels: { app: name } } } : {}),
    template: {
      metadata: { labels: { app: name, [`owner-${who}`]: 'yes' } },
      spec: { containers: [{ name: `c-${who}`, image: 'registry.example/worker:1', env: [{ name: 'ROUND', value: String(i) }, { name: 'WHO', value: who }] }] },
    },
  },
});

const applies = arg('--applies', 600);
const rounds = arg('--rounds', 6);
const merges = arg('--merges', 10000);

// --- 2. the merge alone (first, on a quiet heap), the three variants interleaved in rounds so JIT warm-up and
// machine load hit each alike ---
const crType = applyTypeOf(SCHEMA);
type Opts = () => { typeName: string; type?: ReturnType<typeof applyTypeOf> };
function mergeVariant(label: string, build: (who: string, i: number) => KubeObject, opts: Opts) {
  let live = serverSideApply({ live: undefined, applied: build('a', 0), manager: 'a', force: false, now: new Date(), ...opts() }).object!;
  live = serverSideApply({ live, applied: build('b', 0), manager: 'b', force: false, now: new Date(), ...opts() }).object!;
  let i = 0;
  let ms = 0;
  let count = 0;
  const run = (n: number, measured: boolean) => {
    const t = performance.now();
    for (let k = 0; k < n; k++, i++) {
      const who = i % 2 === 0 ? 'a' : 'b';
      const r = serverSideApply({ live, applied: build(who, i), manager: who, force: false, now: new Date(), ...opts() });
      if (!r.object) throw new Error(`${label}: unexpected conflicts`);
      live = r.object;
    }
    if (measured) {
      ms += performance.now() - t;
      count += n;
    }
  };
  return { run, us: () => (ms * 1000) / count };
}
const variants = [
  mergeVariant('deployment', (who, i) => deployment('d', who, i) as KubeObject, () => ({ typeName: 'io.k8s.api.apps.v1.Deployment' })),
  mergeVariant('gadget', (who, i) => gadget('g', who, i) as KubeObject, () => ({ typeName: 'io.dev.skiff.bench.v1.Gadget', type: crType })),
  mergeVariant('gadget, type rebuilt per apply', (who, i) => gadget('g', who, i) as KubeObject, () => ({ typeName: 'io.dev.skiff.bench.v1.Gadget', type: applyTypeOf(SCHEMA) })),
];
for (const v of variants) v.run(Math.min(2000, merges), false); // warm-up
const mergeRounds = 10;
for (let round = 0; round < mergeRounds; round++) {
  for (let k = 0; k < variants.length; k++) variants[(k + round) % variants.length].run(Math.ceil(merges / mergeRounds), true);
}
const [builtInUs, customUs, rebuiltUs] = variants.map((v) => v.us());
const buildStart = performance.now();
for (let k = 0; k < 2000; k++) applyTypeOf(SCHEMA);
const typeBuildUs = ((performance.now() - buildStart) * 1000) / 2000;

// --- 1. over HTTP ---
const s = await startTestServer({ controlPlane: false });
try {
  await installCrd(s, CRD);
  const kinds = {
    deployments: { path: '/apis/apps/v1/namespaces/default/deployments', body: deployment },
    gadgets: { path: '/apis/bench.skiff.dev/v1/namespaces/default/gadgets', body: gadget },
  };
  type Kind = keyof typeof kinds;
  const headers = { 'Content-Type': 'application/apply-patch+yaml' };
  const applyOnce = async (kind: Kind, name: string, who: string, i: number) => {
    const r = await s.request('PATCH', `${kinds[kind].path}/${name}?fieldManager=${who}`, JSON.stringify(kinds[kind].body(name, who, i)), headers);
    if (r.status !== 200 && r.status !== 201) throw new Error(`${kind} apply: ${r.status} ${r.text}`);
  };
  // Ten objects of each kind, each with both managers' items; warm-up applies not measured.
  const objects = 10;
  for (const kind of Object.keys(kinds) as Kind[]) {
    for (let o = 0; o < objects; o++) for (let i = 0; i < 10; i++) await applyOnce(kind, `o-${o}`, i % 2 === 0 ? 'a' : 'b', i);
  }
  const ms: Record<Kind, number> = { deployments: 0, gadgets: 0 };
  const perRound = Math.ceil(applies / rounds);
  for (let round = 0; round < rounds; round++) {
    for (const kind of (round % 2 === 0 ? ['deployments', 'gadgets'] : ['gadgets', 'deployments']) as Kind[]) {
      const t = performance.now();
      for (let i = 0; i < perRound; i++) await applyOnce(kind, `o-${i % objects}`, i % 2 === 0 ? 'a' : 'b', 100 + round * perRound + i);
      ms[kind] += performance.now() - t;
    }
  }
  const perSec = (kind: Kind) => round2((perRound * rounds) / (ms[kind] / 1000));
  const dep = perSec('deployments');
  const cr = perSec('gadgets');
  console.log(
    JSON.stringify({
      bench: 'crd-apply',
      applies: perRound * rounds,
      merges,
      loadavg: loadavg().map(round2),
      http: { deploymentAppliesPerSec: dep, customAppliesPerSec: cr },
      merge: { deploymentUs: round2(builtInUs), customUs: round2(customUs), customTypeRebuiltUs: round2(rebuiltUs), typeBuildUs: round2(typeBuildUs) },
      ratios: {
        /** custom/built-in applies per second over HTTP (1 = as fast as Deployments). */
        httpAppliesPerSec: round2(cr / dep),
        /** built-in/custom time of the merge alone. */
        merge: round2(builtInUs / customUs),
        /** what building the type once per CRD version saves: time with the type rebuilt per apply / cached. */
        typeCacheSaves: round2(rebuiltUs / customUs),
      },
    }),
  );
} finally {
  await s.stop();
}
