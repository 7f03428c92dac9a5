/**
 * bench/cel: what CEL costs on the create path, measured on one real skiff API server (in this process, SQLite store,
 * TLS, client-certificate auth, keep-alive client) in one run, alternating kinds in rounds so drift in machine load
 * hits all of them:
 *   - configmaps:        ConfigMaps in a namespace no policy binds (baseline; the policy plugin still lists bindings)
 *   - policedConfigmaps: ConfigMaps under a ValidatingAdmissionPolicy + binding (namespaceSelector, a matchCondition,
 *                        a variable, two validations, one with messageExpression)
 *   - widgets:           custom objects of a CRD without x-kubernetes-validations
 *   - celWidgets:        the same CRD shape with five CEL rules (root, spec, list items with all(), a transition rule)
 * Prints one JSON object: creates/s of each and the ratios celWidgets/configmaps, celWidgets/widgets and
 * policedConfigmaps/configmaps; issue 11's target is at least 0.6 for a CRD with a CEL rule.
 * Also micro figures: evaluations/s of one compiled rule alone, and what the static cost estimate adds to compiling
 * a CRD's rules when it is written (`crdCompile`: microseconds per compile, and the ratio to compiling alone).
 * Usage: npm run build && node dist/bench/cel.js [--creates 1000] [--rounds 10]
 */
import { loadavg } from 'node:os';
import { compileCel, isCompileError } from '../src/apiserver/cel/cel-program.js';
import { celValidationRules } from '../src/apiserver/cel/crd-validation-engine.js';
import type { JSONSchemaProps } from '../src/apiserver/crd/json-schema.js';
import { toCel } from '../src/apiserver/cel/values.js';
import { startTestServer } from '../test/helpers/test-server.js';

const arg = (name: string, dflt: number) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : dflt);
const round2 = (n: number) => Math.round(n * 100) / 100;

const specSchema = {
  type: 'object',
  required: ['size', 'image'],
  properties: {
    size: { type: 'string', enum: ['S', 'M', 'L'] },
    image: { type: 'string', maxLength: 256 },
    replicas: { type: 'integer', minimum: 0, maximum: 100 },
    minReplicas: { type: 'integer' },
    ports: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, port: { type: 'integer' } } } },
  },
};

const crd = (plural: string, kind: string, withRules: boolean) => ({
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: `${plural}.bench.skiff.dev` },
  spec: {
    group: 'bench.skiff.dev',
    scope: 'Namespaced',
    names: { plural, singular: kind.toLowerCase(), kind },
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        schema: {
          openAPIV3Schema: {
            type: 'object',
            ...(withRules ? { 'x-kubernetes-validations': [{ rule: "self.metadata.name.startsWith('o-') || self.metadata.name.startsWith('warm-')" }] } : {}),
            properties: {
              spec: withRules
                ? {
                    ...specSchema,
                    'x-kubernetes-validations': [
                      { rule: 'self.minReplicas <= self.replicas', messageExpression: "'minReplicas > replicas for image ' + self.image" },
                      { rule: "self.image.startsWith('registry.')", message: 'images come from the registry' },
                      { rule: 'self.ports.all(p, p.port > 0 && p.port < 65536)' },
                      { rule: 'self.size == oldSelf.size', message: 'size is immutable' },
                    ],
                  }
                : specSchema,
            },
          },
        },
      },
    ],
  },
});

const POLICY = {
  apiVersion: 'admissionregistration.k8s.io/v1',
  kind: 'ValidatingAdmissionPolicy',
  metadata: { name: 'bench-policy' },
  spec: {
    matchConstraints: { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['configmaps'] }] },
    matchConditions: [{ name: 'not-root-ca', expression: "object.metadata.name != 'kube-root-ca.crt'" }],
    variables: [{ name: 'size', expression: "has(object.data) && 'size' in object.data ? object.data.size : ''" }],
    validations: [
      { expression: "variables.size in ['S', 'M', 'L']", messageExpression: "'size ' + variables.size + ' is not S, M or L'" },
      { expression: "!has(object.data) || object.data.all(k, k.size() < 64)", message: 'keys are short' },
    ],
  },
};

const BINDING = {
  apiVersion: 'admissionregistration.k8s.io/v1',
  kind: 'ValidatingAdmissionPolicyBinding',
  metadata: { name: 'bench-policy' },
  spec: { policyName: 'bench-policy', validationActions: ['Deny'], matchResources: { namespaceSelector: { matchLabels: { policed: 'yes' } } } },
};

/** Evaluations per second of one compiled rule over a typical spec (no server). */
function microEvaluationsPerSec(): number {
  const p = compileCel('self.minReplicas <= self.replicas && self.ports.all(p, p.port > 0 && p.port < 65536)', ['self', 'oldSelf'], 'bool');
  if (isCompileError(p)) throw new Error(p.message);
  const self = toCel({ size: 'M', image: 'registry.example/app:1.2', replicas: 3, minReplicas: 1, ports: [{ name: 'http', port: 8080 }, { name: 'm', port: 9090 }] });
  const n = 100_000;
  for (let i = 0; i < 10_000; i++) p.evaluate({ self });
  const start = performance.now();
  for (let i = 0; i < n; i++) p.evaluate({ self });
  return n / ((performance.now() - start) / 1000);
}

/**
 * What the static cost check adds to writing a CRD: its schema's rules compiled alone (what serving it does) against
 * compiled and cost-estimated (what a create or update of the CRD does), per compile, in microseconds. Expressions
 * are cached by text, so both sides are a CRD written again with rules already seen; the schema is a fresh object
 * each time (no per-schema cache).
 */
function crdCompileCost(): { compileUs: number; compileAndEstimateUs: number; ratio: number } {
  const schema = crd('celwidgets', 'CelWidget', true).spec.versions[0]!.schema.openAPIV3Schema as unknown as JSONSchemaProps;
  const path = 'spec.versions[0].schema.openAPIV3Schema';
  const n = 2000;
  const time = (withCost: boolean) => {
    const start = performance.now();
    for (let i = 0; i < n; i++) {
      const r = celValidationRules.compile(structuredClone(schema), path);
      if (withCost && r.errors.length > 0) throw new Error(JSON.stringify(r.errors));
    }
    return ((performance.now() - start) * 1000) / n;
  };
  for (let i = 0; i < 3; i++) time(i % 2 === 0);
  let alone = 0;
  let estimated = 0;
  for (let i = 0; i < 4; i++) {
    alone += time(false);
    estimated += time(true);
  }
  return { compileUs: round2(alone / 4), compileAndEstimateUs: round2(estimated / 4), ratio: round2(estimated / alone) };
}

const creates = arg('--creates', 1000);
const rounds = arg('--rounds', 10);
const s = await startTestServer({ controlPlane: false });
try {
  const post = async (path: string, body: unknown) => {
    const r = await s.request('POST', path, body);
    if (r.status !== 201) throw new Error(`POST ${path}: ${r.status} ${r.text}`);
  };
  await post('/apis/apiextensions.k8s.io/v1/customresourcedefinitions', crd('widgets', 'Widget', false));
  await post('/apis/apiextensions.k8s.io/v1/customresourcedefinitions', crd('celwidgets', 'CelWidget', true));
  await post('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'policed', labels: { policed: 'yes' } } });
  await post('/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies', POLICY);
  await post('/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings', BINDING);
  for (const plural of ['widgets', 'celwidgets']) {
    for (let i = 0; i < 100 && (await s.request('GET', `/apis/bench.skiff.dev/v1/namespaces/default/${plural}`)).status !== 200; i++) await new Promise((r) => setTimeout(r, 20));
  }
  const spec = { size: 'M', image: 'registry.example/app:1.2', replicas: 3, minReplicas: 1, ports: [{ name: 'http', port: 8080 }] };
  const data = { size: 'M', image: 'registry.example/app:1.2', replicas: '3', port: '8080' };
  const kinds = {
    configmaps: { path: '/api/v1/namespaces/default/configmaps', body: (n: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: n }, data }) },
    policedConfigmaps: { path: '/api/v1/namespaces/policed/configmaps', body: (n: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: n }, data }) },
    widgets: { path: '/apis/bench.skiff.dev/v1/namespaces/default/widgets', body: (n: string) => ({ apiVersion: 'bench.skiff.dev/v1', kind: 'Widget', metadata: { name: n }, spec }) },
    celWidgets: { path: '/apis/bench.skiff.dev/v1/namespaces/default/celwidgets', body: (n: string) => ({ apiVersion: 'bench.skiff.dev/v1', kind: 'CelWidget', metadata: { name: n }, spec }) },
  };
  type Kind = keyof typeof kinds;
  const order = Object.keys(kinds) as Kind[];
  // The policy really refuses (so the bench measures an enforcing policy), and the CEL CRD really validates.
  const refused = await s.request('POST', kinds.policedConfigmaps.path, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'bad' }, data: { size: 'XL' } });
  if (refused.status !== 422) throw new Error(`the policy did not refuse: ${refused.status} ${refused.text}`);
  const invalid = await s.request('POST', kinds.celWidgets.path, { apiVersion: 'bench.skiff.dev/v1', kind: 'CelWidget', metadata: { name: 'o-bad' }, spec: { ...spec, minReplicas: 9 } });
  if (invalid.status !== 422) throw new Error(`the CEL rule did not refuse: ${invalid.status} ${invalid.text}`);
  for (const kind of order) for (let i = 0; i < 50; i++) await post(kinds[kind].path, kinds[kind].body(`warm-${i}`));

  const createMs: Record<Kind, number> = { configmaps: 0, policedConfigmaps: 0, widgets: 0, celWidgets: 0 };
  const perRound = Math.ceil(creates / rounds);
  for (let round = 0; round < rounds; round++) {
    const kindsThisRound = round % 2 ? [...order].reverse() : order;
    for (const kind of kindsThisRound) {
      const start = performance.now();
      for (let i = 0; i < perRound; i++) await post(kinds[kind].path, kinds[kind].body(`o-${round}-${i}`));
      createMs[kind] += performance.now() - start;
    }
  }
  const rate = (kind: Kind) => round2((perRound * rounds) / (createMs[kind] / 1000));
  const r = Object.fromEntries(order.map((k) => [k, { createsPerSec: rate(k) }])) as Record<Kind, { createsPerSec: number }>;
  console.log(
    JSON.stringify({
      bench: 'cel',
      creates: perRound * rounds,
      loadavg: loadavg().map(round2),
      ...r,
      ratios: {
        celWidgetsVsConfigmaps: round2(r.celWidgets.createsPerSec / r.configmaps.createsPerSec),
        celWidgetsVsWidgets: round2(r.celWidgets.createsPerSec / r.widgets.createsPerSec),
        policedVsConfigmaps: round2(r.policedConfigmaps.createsPerSec / r.configmaps.createsPerSec),
      },
      target: 0.6,
      ruleEvaluationsPerSec: Math.round(microEvaluationsPerSec()),
      crdCompile: crdCompileCost(),
    }),
  );
} finally {
  await s.stop();
}
