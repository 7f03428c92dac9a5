/**
 * bench/crd-conversion: what webhook conversion costs a read. A real skiff API server (in this process, memory store,
 * TLS and client-certificate auth) serves two CRDs of the same shape, v1 stored and v2 served: one with `None`
 * conversion (baseline), one with a conversion webhook (HTTPS on loopback, in this process: the renamed-field
 * conversion of src/apiserver/crd/conversion-testing.ts). Objects are created in v1 and read in v2, so every read of
 * the webhook CRD converts: GETs of one object, and lists of all of them (one review per list). Phases interleaved
 * in the same run. Prints one JSON object: p50/p99 per phase and the ratio of each webhook phase to its baseline.
 * Usage: npm run build && node dist/bench/crd-conversion.js [--objects 200] [--gets 1000] [--lists 100]
 */
import { loadavg } from 'node:os';
import { startTestServer } from '../test/helpers/test-server.js';
import { closeWebhookConnections } from '../src/apiserver/admission/webhook/webhook-client.js';
import { startConversionWebhook } from '../src/apiserver/crd/conversion-testing.js';
import { percentile } from './stats.js';

const arg = (name: string, dflt: number) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : dflt);

const schema = (field: string) => ({ openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', properties: { [field]: { type: 'string' }, replicas: { type: 'integer' } } } } } });

function crd(plural: string, kind: string, conversion: Record<string, unknown>) {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.bench.example.com` },
    spec: {
      group: 'bench.example.com',
      scope: 'Namespaced',
      names: { plural, singular: kind.toLowerCase(), kind },
      versions: [
        { name: 'v1', served: true, storage: true, schema: schema('cron') },
        { name: 'v2', served: true, storage: false, schema: schema('schedule') },
      ],
      conversion,
    },
  };
}

async function main(): Promise<void> {
  const objects = arg('--objects', 200);
  const gets = arg('--gets', 1000);
  const lists = arg('--lists', 100);
  const hook = await startConversionWebhook();
  const s = await startTestServer({ controlPlane: false, datastore: 'memory' });
  try {
    const kinds = {
      none: crd('plaintabs', 'PlainTab', { strategy: 'None' }),
      webhook: crd('hooktabs', 'HookTab', { strategy: 'Webhook', webhook: { conversionReviewVersions: ['v1'], clientConfig: { url: hook.url('/convert'), caBundle: hook.caBundle } } }),
    };
    for (const body of Object.values(kinds)) {
      const r = await s.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', body);
      if (r.status !== 201) throw new Error(`creating a CRD: ${r.status} ${r.text}`);
    }
    for (const [what, body] of Object.entries(kinds)) {
      const path = `/apis/bench.example.com/v1/namespaces/default/${body.spec.names.plural}`;
      for (let end = Date.now() + 10_000; (await s.request('GET', path)).status !== 200; ) {
        if (Date.now() > end) throw new Error(`${what} not served`);
        await new Promise((r) => setTimeout(r, 20));
      }
      for (let i = 0; i < objects; i++) {
        const r = await s.request('POST', path, { apiVersion: 'bench.example.com/v1', kind: body.spec.names.kind, metadata: { name: `o-${i}` }, spec: { cron: `${i % 60} * * * *`, replicas: i } });
        if (r.status !== 201) throw new Error(`creating an object: ${r.status} ${r.text}`);
      }
    }
    const v2 = (plural: string) => `/apis/bench.example.com/v2/namespaces/default/${plural}`;
    const samples: Record<string, number[]> = { getNone: [], getWebhook: [], listNone: [], listWebhook: [] };
    const timed = async (into: number[], path: string, check: (json: any) => boolean) => {
      const t0 = performance.now();
      const r = await s.request('GET', path);
      into.push(performance.now() - t0);
      if (r.status !== 200 || !check(r.json)) throw new Error(`GET ${path}: ${r.status} ${r.text.slice(0, 300)}`);
    };
    // Warm-up: connections, JIT.
    for (let i = 0; i < 50; i++) {
      await timed([], `${v2('plaintabs')}/o-${i % objects}`, () => true);
      await timed([], `${v2('hooktabs')}/o-${i % objects}`, () => true);
    }
    hook.reviews.length = 0;
    for (let i = 0; i < gets; i++) {
      const name = `o-${i % objects}`;
      await timed(samples.getNone!, `${v2('plaintabs')}/${name}`, (j) => j.apiVersion === 'bench.example.com/v2');
      await timed(samples.getWebhook!, `${v2('hooktabs')}/${name}`, (j) => j.spec.schedule !== undefined && j.spec.cron === undefined);
    }
    const getReviews = hook.reviews.length;
    for (let i = 0; i < lists; i++) {
      await timed(samples.listNone!, v2('plaintabs'), (j) => j.items.length === objects);
      await timed(samples.listWebhook!, v2('hooktabs'), (j) => j.items.length === objects && j.items.every((it: any) => it.spec.schedule !== undefined));
    }
    const stats = (xs: number[]) => {
      const sorted = [...xs].sort((a, b) => a - b);
      return { n: xs.length, p50Ms: +percentile(sorted, 50).toFixed(3), p99Ms: +percentile(sorted, 99).toFixed(3) };
    };
    const out: Record<string, unknown> = { objects, loadavg1: +loadavg()[0]!.toFixed(2) };
    for (const [k, xs] of Object.entries(samples)) out[k] = stats(xs);
    const ratio = (a: string, b: string) => +(stats(samples[a]!).p50Ms / stats(samples[b]!).p50Ms).toFixed(2);
    out.ratios = { getWebhookToNoneP50: ratio('getWebhook', 'getNone'), listWebhookToNoneP50: ratio('listWebhook', 'listNone') };
    out.reviews = { perGet: +(getReviews / gets).toFixed(2), perList: +((hook.reviews.length - getReviews) / lists).toFixed(2) };
    console.log(JSON.stringify(out, null, 2));
  } finally {
    await s.stop();
    closeWebhookConnections();
    await hook.close();
  }
}

await main();
