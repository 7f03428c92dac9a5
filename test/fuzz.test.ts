/**
 * Fuzzing the API server with mutated request bodies: thousands of bodies per content type (JSON, YAML, protobuf)
 * and per patch type (JSON patch, merge patch, strategic merge patch, server-side apply) against several resources.
 * Every answer must be a success or a Kubernetes Status with a matching 4xx code (503/504 allowed), the server must
 * stay up, and its heap must come back under a bound. The PRNG is seeded: a failure names the seed and the case.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { stringify as stringifyYaml } from 'yaml';
import { startTestServer, type TestResponse, type TestServer } from './helpers/test-server.js';
import { prng } from './helpers/prng.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261207);
/** Bodies per content type and per patch type. */
const PER_KIND = Number(process.env.FUZZ_CASES ?? 1000);
const CONCURRENCY = 8;


const container = { name: 'c', image: 'busybox', resources: { requests: { cpu: '100m', memory: '64Mi' } } };
const template = { metadata: { labels: { app: 'f' } }, spec: { containers: [container] } };

/** Valid objects to mutate, one per resource: [collection path, object]. */
const SEEDS: [string, Record<string, any>][] = [
  ['/api/v1/namespaces/default/configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'f', labels: { a: 'b' } }, data: { k: 'v' } }],
  ['/api/v1/namespaces/default/pods', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'f', labels: { app: 'f' } }, spec: template.spec }],
  ['/apis/apps/v1/namespaces/default/deployments', { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'f' }, spec: { replicas: 1, selector: { matchLabels: { app: 'f' } }, template } }],
  ['/api/v1/namespaces/default/services', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'f' }, spec: { selector: { app: 'f' }, ports: [{ port: 80, name: 'http' }] } }],
  ['/apis/batch/v1/namespaces/default/cronjobs', { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'f' }, spec: { schedule: '*/5 * * * *', jobTemplate: { spec: { template: { spec: { ...template.spec, restartPolicy: 'OnFailure' } } } } } }],
];

const ODD_VALUES: unknown[] = [null, true, -1, 0, 1.5, 1e308, '', 'x', '-1', '0-1000000', 'ü日本\u0000\ud800', [], {}, [null], { '': null }, { __proto__: 1 }];

function pick<T>(rand: () => number, list: readonly T[]): T {
  return list[Math.floor(rand() * list.length)]!;
}

/** A fresh copy of an odd value: shared ones would be mutated by later mutations, even into cycles. */
function odd(rand: () => number): unknown {
  return structuredClone(pick(rand, ODD_VALUES));
}

function nest(depth: number, open: string, close: string, inner = '1'): string {
  return open.repeat(depth) + inner + close.repeat(depth);
}

/** Every path to a value in `obj`, as key lists. */
function pathsOf(obj: unknown, prefix: string[] = [], out: string[][] = []): string[][] {
  if (obj !== null && typeof obj === 'object') {
    for (const [k, v] of Object.entries(obj)) {
      out.push([...prefix, k]);
      pathsOf(v, [...prefix, k], out);
    }
  }
  return out;
}

/** A structurally mutated copy of `obj`: a value swapped for an odd one, removed, nested deep, or made huge. */
function mutateValue(rand: () => number, obj: Record<string, any>): unknown {
  const copy = structuredClone(obj);
  const paths = pathsOf(copy);
  const n = 1 + Math.floor(rand() * 3);
  for (let i = 0; i < n; i++) {
    const path = pick(rand, paths);
    let parent: any = copy;
    for (const k of path.slice(0, -1)) parent = parent?.[k];
    if (parent === null || typeof parent !== 'object') continue;
    const key = path[path.length - 1]!;
    const r = rand();
    if (r < 0.4) parent[key] = odd(rand);
    else if (r < 0.55) delete parent[key];
    else if (r < 0.7) parent[key] = JSON.parse(nest(1 + Math.floor(rand() * 1200), '[', ']'));
    else if (r < 0.8) parent[key] = 'x'.repeat(Math.floor(rand() * 200_000));
    else if (r < 0.9) parent[key] = { ...(typeof parent[key] === 'object' ? parent[key] : {}), [pick(rand, ['$patch', '$retainKeys', '$setElementOrder/containers', 'f:a', '__proto__'])]: odd(rand) };
    else parent[key] = Array.from({ length: 1 + Math.floor(rand() * 50) }, () => odd(rand));
  }
  return copy;
}

/** Text-level damage: truncation, a duplicated key, random bytes, deep nesting spliced in. */
function mutateText(rand: () => number, text: string): string {
  const r = rand();
  if (r < 0.25) return text.slice(0, Math.floor(rand() * text.length));
  if (r < 0.4) return text.replace('"name":', '"name":"dup","name":');
  if (r < 0.55) {
    const at = Math.floor(rand() * text.length);
    return text.slice(0, at) + String.fromCharCode(...Array.from({ length: 1 + Math.floor(rand() * 8) }, () => Math.floor(rand() * 0x3000))) + text.slice(at);
  }
  if (r < 0.7) {
    const at = Math.floor(rand() * text.length);
    return text.slice(0, at) + nest(5000 + Math.floor(rand() * 20_000), pick(rand, ['[', '{"a":', '- ', '{a: ']), pick(rand, [']', '}', '', '}'])) + text.slice(at);
  }
  return text;
}

function randomBytes(rand: () => number, n: number): Buffer {
  return Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256)));
}

interface Case {
  method: string;
  path: string;
  body: string | Buffer;
  contentType: string;
}

function jsonBodyCase(rand: () => number, [base, obj]: [string, Record<string, any>]): Case {
  const put = rand() < 0.3;
  let text = JSON.stringify(mutateValue(rand, obj));
  if (rand() < 0.4) text = mutateText(rand, text);
  return { method: put ? 'PUT' : 'POST', path: put ? `${base}/f` : base, body: text, contentType: 'application/json' };
}

function yamlBodyCase(rand: () => number, [base, obj]: [string, Record<string, any>]): Case {
  let text = stringifyYaml(mutateValue(rand, obj), { indentSeq: rand() < 0.5 });
  if (rand() < 0.4) text = mutateText(rand, text);
  return { method: 'POST', path: base, body: text, contentType: 'application/yaml' };
}

function protobufCase(rand: () => number, [base]: [string, Record<string, any>]): Case {
  // The k8s\0 magic then a runtime.Unknown envelope with random content, or nested length-delimited fields.
  const r = rand();
  let body: Buffer;
  if (r < 0.4) body = Buffer.concat([Buffer.from([0x6b, 0x38, 0x73, 0x00]), randomBytes(rand, Math.floor(rand() * 400))]);
  else if (r < 0.7) {
    // Field 2 (raw) wrapping deeply nested field-1 messages.
    let inner: Buffer = Buffer.alloc(0);
    for (let i = 0; i < 50 + Math.floor(rand() * 300); i++) inner = Buffer.concat([Buffer.from([0x0a]), varint(inner.length), inner]);
    const envelope = Buffer.concat([Buffer.from([0x0a]), varint(12), Buffer.from([0x0a, 0x02, 0x76, 0x31, 0x12, 0x06]), Buffer.from('Secret'), Buffer.from([0x12]), varint(inner.length), inner]);
    body = Buffer.concat([Buffer.from([0x6b, 0x38, 0x73, 0x00]), envelope]);
  } else body = randomBytes(rand, Math.floor(rand() * 200));
  return { method: 'POST', path: base, body, contentType: 'application/vnd.kubernetes.protobuf' };
}

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}

const PATCH_TYPES = ['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json', 'application/apply-patch+yaml'] as const;

function patchCase(rand: () => number, type: (typeof PATCH_TYPES)[number], [base, obj]: [string, Record<string, any>]): Case {
  const path = `${base}/f`;
  if (type === 'application/json-patch+json') {
    const pointers = pathsOf(obj).map((p) => '/' + p.join('/'));
    const ops = Array.from({ length: 1 + Math.floor(rand() * 6) }, () => {
      const op = pick(rand, ['add', 'remove', 'replace', 'move', 'copy', 'test', 'bogus']);
      return { op, path: pick(rand, [...pointers, '', '/', '/metadata/annotations/x', '/spec/-']), from: pick(rand, pointers), value: mutateValue(rand, { v: odd(rand) }) };
    });
    if (rand() < 0.1) {
      // The doubling attack: every copy duplicates the whole map into itself.
      for (let i = 0; i < 30; i++) ops.push({ op: 'copy', from: '/metadata', path: `/metadata/annotations/k${i}`, value: null });
    }
    let text = JSON.stringify(ops);
    if (rand() < 0.3) text = mutateText(rand, text);
    return { method: 'PATCH', path, body: text, contentType: type };
  }
  if (type === 'application/apply-patch+yaml') {
    let text = stringifyYaml(mutateValue(rand, obj));
    if (rand() < 0.4) text = mutateText(rand, text);
    return { method: 'PATCH', path: `${path}?fieldManager=fuzz&force=${rand() < 0.5}`, body: text, contentType: type };
  }
  let text = JSON.stringify(mutateValue(rand, { metadata: obj.metadata, spec: obj.spec, data: obj.data }));
  if (rand() < 0.4) text = mutateText(rand, text);
  return { method: 'PATCH', path, body: text, contentType: type };
}

async function runAll(s: TestServer, cases: Case[], failures: string[], label: string): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const i = next++;
      const c = cases[i]!;
      let r: TestResponse;
      try {
        r = await s.request(c.method, c.path, c.body, { 'Content-Type': c.contentType });
      } catch (err) {
        failures.push(`${label} #${i} ${c.method} ${c.path}: no answer (${(err as Error).message})`);
        continue;
      }
      const what = `${label} #${i} ${c.method} ${c.path} ${c.contentType}`;
      if (r.status >= 500 && r.status !== 503 && r.status !== 504) failures.push(`${what}: ${r.status} ${r.text.slice(0, 200)}`);
      else if (r.status >= 400) {
        if (r.json?.kind !== 'Status' || r.json?.code !== r.status) failures.push(`${what}: ${r.status} without a matching Status: ${r.text.slice(0, 200)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

function heapUsedAfterGc(): number {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe(`fuzzing request bodies (seed ${SEED}, ${PER_KIND} per kind)`, () => {
  let s: TestServer;
  let heapBefore = 0;
  before(async () => {
    s = await startTestServer({ datastore: 'memory', controlPlane: false });
    for (const [base, obj] of SEEDS) {
      const r = await s.request('POST', base, obj);
      assert.equal(r.status, 201, `${base}: ${r.text.slice(0, 300)}`);
    }
    heapBefore = heapUsedAfterGc();
  });
  after(async () => {
    await s?.stop();
  });

  const kinds: [string, (rand: () => number, seed: [string, Record<string, any>]) => Case][] = [
    ['JSON bodies', jsonBodyCase],
    ['YAML bodies', yamlBodyCase],
    ['protobuf bodies', protobufCase],
    ...PATCH_TYPES.map((t): [string, (rand: () => number, seed: [string, Record<string, any>]) => Case] => [t, (rand, seed) => patchCase(rand, t, seed)]),
  ];
  kinds.forEach(([label, make], k) => {
    it(`${label}: no 5xx, every error a Status with its code`, async () => {
      const rand = prng(SEED + k);
      const cases = Array.from({ length: PER_KIND }, () => make(rand, pick(rand, SEEDS)));
      const failures: string[] = [];
      await runAll(s, cases, failures, label);
      assert.deepEqual(failures.slice(0, 10), [], `${failures.length} failures (FUZZ_SEED=${SEED})`);
      const alive = await s.request('GET', '/api/v1/namespaces/default/configmaps');
      assert.equal(alive.status, 200, 'the server still serves');
      if (process.env.FUZZ_VERBOSE) console.log(`${label}: heap ${Math.round(heapUsedAfterGc() / 1048576)} MiB`);
    });
  });

  it('memory comes back under a bound afterwards', () => {
    const growth = heapUsedAfterGc() - heapBefore;
    assert.ok(growth < 150 * 1024 * 1024, `heap grew by ${Math.round(growth / 1048576)} MiB`);
    assert.ok(process.memoryUsage().rss < 2 * 1024 * 1024 * 1024, `rss ${Math.round(process.memoryUsage().rss / 1048576)} MiB`);
  });
});
