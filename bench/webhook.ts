/**
 * bench/webhook: what an admission webhook adds to a create. A real skiff API server (in this process, SQLite store,
 * TLS and client-certificate auth) creates ConfigMaps one after another, without webhooks (baseline) and with a no-op
 * validating webhook (and a mutating one that adds a label) served over HTTPS on loopback by another process, phases
 * interleaved in the same run. Prints one JSON object: p50/p99 per phase, the p50 added by the webhook and the ratio
 * to the baseline (issue 11's target: at most 2 ms added at p50). A third phase has the no-op webhook in this process:
 * the API server's own cost without the hop to another process (which a loaded machine makes expensive). Last, the
 * validating plugin alone (no API server around it) calling the out-of-process webhook: the cost of one call itself.
 * Usage: npm run build && node dist/bench/webhook.js [--creates 1000]
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { startTestServer } from '../test/helpers/test-server.js';
import { startTestWebhookServer } from '../src/apiserver/admission/webhook/webhook-testing.js';
import { closeWebhookConnections } from '../src/apiserver/admission/webhook/webhook-client.js';
import { ValidatingWebhookAdmission } from '../src/apiserver/admission/webhook/webhook-admission.js';
import type { AdmissionAttributes, AdmissionContext } from '../src/apiserver/admission/types.js';
import { byGroupVersionResource, resources } from '../src/apiserver/registry/index.js';

const arg = (name: string, dflt: number) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : dflt);

if (process.argv.includes('--serve-webhook')) {
  // The webhook in a process of its own, as it would be in a cluster: it does not share the API server's event loop.
  const hook = await startTestWebhookServer();
  console.log(JSON.stringify({ port: hook.port, caBundle: hook.caBundle, allow: hook.url('/allow'), mutate: hook.url('/mutate') }));
  process.on('SIGTERM', () => void hook.close().then(() => process.exit(0)));
} else {
  await main();
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function main(): Promise<void> {
  const creates = arg('--creates', 1000);
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, '--serve-webhook'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
  const hook = JSON.parse(line) as { caBundle: string; allow: string; mutate: string };
  const s = await startTestServer({ controlPlane: false });
  const local = await startTestWebhookServer();
  let seq = 0;
  const webhook = (url: string, name: string) => ({
    name,
    clientConfig: { url, caBundle: hook.caBundle },
    rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['configmaps'] }],
    sideEffects: 'None',
    admissionReviewVersions: ['v1'],
  });
  const configs = {
    validating: { path: '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations', body: { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration', metadata: { name: 'bench-noop' }, webhooks: [webhook(hook.allow, 'noop.bench.skiff.dev')] } },
    inProcess: { path: '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations', body: { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration', metadata: { name: 'bench-local' }, webhooks: [{ ...webhook(local.url('/allow'), 'local.bench.skiff.dev'), clientConfig: { url: local.url('/allow'), caBundle: local.caBundle } }] } },
    mutating: { path: '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations', body: { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration', metadata: { name: 'bench-label' }, webhooks: [webhook(hook.mutate, 'label.bench.skiff.dev')] } },
  };
  const install = async (c: { path: string; body: unknown }) => {
    const r = await s.request('POST', c.path, c.body);
    if (r.status !== 201) throw new Error(`installing a webhook configuration: ${r.status} ${r.text}`);
    await new Promise((r) => setTimeout(r, 200)); // the watch cache has it well before this
  };
  const uninstall = async (c: { path: string; body: { metadata: { name: string } } }) => {
    const r = await s.request('DELETE', `${c.path}/${c.body.metadata.name}`);
    if (r.status !== 200) throw new Error(`removing a webhook configuration: ${r.status} ${r.text}`);
    await new Promise((r) => setTimeout(r, 200));
  };
  const run = async (n: number, expectLabel: boolean): Promise<number[]> => {
    const lat: number[] = [];
    for (let i = 0; i < n; i++) {
      const body = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `bench-${seq++}` }, data: { key: 'value' } };
      const t0 = process.hrtime.bigint();
      const r = await s.request('POST', '/api/v1/namespaces/default/configmaps', body);
      lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (r.status !== 201) throw new Error(`create: ${r.status} ${r.text}`);
      if (expectLabel && r.json.metadata.labels?.['mutated-by'] !== 'webhook') throw new Error('the mutating webhook was not called');
    }
    return lat;
  };

  const phases: Record<'baseline' | 'validating' | 'mutating' | 'inProcess', number[]> = { baseline: [], validating: [], mutating: [], inProcess: [] };
  await run(300, false); // warm-up: JIT, SQLite, keep-alive connections
  // Interleaved halves, so drift over the run (page cache, GC) lands on every phase alike.
  for (let round = 0; round < 2; round++) {
    phases.baseline.push(...(await run(creates / 2, false)));
    await install(configs.validating);
    await run(50, false);
    phases.validating.push(...(await run(creates / 2, false)));
    await uninstall(configs.validating);
    await install(configs.mutating);
    await run(50, true);
    phases.mutating.push(...(await run(creates / 2, true)));
    await uninstall(configs.mutating);
    await install(configs.inProcess);
    await run(50, false);
    phases.inProcess.push(...(await run(creates / 2, false)));
    await uninstall(configs.inProcess);
  }
  const pluginAlone = await pluginCalls(configs.validating.body, creates);
  const summary = (lat: number[]) => {
    const s2 = [...lat].sort((a, b) => a - b);
    return { n: s2.length, p50_ms: round(percentile(s2, 50)), p99_ms: round(percentile(s2, 99)) };
  };
  const base = summary(phases.baseline);
  const validating = summary(phases.validating);
  const mutating = summary(phases.mutating);
  const inProcess = summary(phases.inProcess);
  console.log(
    JSON.stringify(
      {
        bench: 'webhook',
        creates_per_phase: creates,
        baseline: base,
        validating_noop_webhook: { ...validating, added_p50_ms: round(validating.p50_ms - base.p50_ms), ratio_p50_to_baseline: round(validating.p50_ms / base.p50_ms) },
        mutating_label_webhook: { ...mutating, added_p50_ms: round(mutating.p50_ms - base.p50_ms), ratio_p50_to_baseline: round(mutating.p50_ms / base.p50_ms) },
        validating_noop_webhook_in_process: { ...inProcess, added_p50_ms: round(inProcess.p50_ms - base.p50_ms), ratio_p50_to_baseline: round(inProcess.p50_ms / base.p50_ms) },
        validating_plugin_call_alone: summary(pluginAlone),
        target_added_p50_ms: 2,
        load_average_1m: round(loadavg()[0]!),
      },
      null,
      2,
    ),
  );
  await s.stop();
  closeWebhookConnections();
  await local.close();
  child.kill('SIGTERM');
  await once(child, 'exit');
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** The validating plugin by itself (a fixed context holding the configuration), `n` calls to the webhook one by one. */
async function pluginCalls(configuration: object, n: number): Promise<number[]> {
  const plugin = new ValidatingWebhookAdmission(resources);
  const ctx: AdmissionContext = {
    list: (_group, plural) => (plural === 'validatingwebhookconfigurations' ? [configuration as never] : []),
    cached: () => undefined,
    get: async () => undefined,
  };
  const configmaps = byGroupVersionResource('', 'v1', 'configmaps')!;
  const attrs = (): AdmissionAttributes => ({
    operation: 'CREATE',
    resource: configmaps,
    subresource: '',
    namespace: 'default',
    name: 'c',
    object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'default' }, data: { key: 'value' } },
    user: { username: 'bench', groups: ['system:authenticated'] },
    dryRun: false,
    onFinish() {},
    warn() {},
  });
  for (let i = 0; i < 200; i++) await plugin.validate(attrs(), ctx);
  const lat: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await plugin.validate(attrs(), ctx);
    lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return lat;
}
