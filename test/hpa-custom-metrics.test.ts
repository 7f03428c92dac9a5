/**
 * The HPA's Pods, Object and External metrics end to end, as a cluster with prometheus-adapter or KEDA has them: a
 * small HTTPS "custom metrics adapter" started here (its own self-signed CA) serves custom.metrics.k8s.io/v1beta2 and
 * external.metrics.k8s.io/v1beta1; it is reached through a Service and a hand-made EndpointSlice on this host and
 * registered with APIService objects carrying its caBundle, so every metric read goes HPA controller → API server →
 * aggregation layer (TLS, front-proxy certificate) → adapter. The controller is the real one over the server's API, as
 * its service account (its RBAC role is exercised), with a 1 s resync instead of 15 s so the test is short.
 * Deployments on simulated nodes scale 1 → 4 and back as the adapter's values change (a Pods metric; an External
 * metric picked by its metric selector); a custom resource with a /scale subresource is scaled through /scale by an
 * Object metric; without the APIServices, and for a metric the adapter does not know, the HPA says why in upstream's
 * conditions and events. An adapter registered for custom.metrics.k8s.io/v1beta1 only (older adapters) is found through
 * the group's discovery document and scaled on, as upstream's custom metrics client does.
 */
import assert from 'node:assert/strict';
import https from 'node:https';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { RestClient } from '../src/client/rest-client.js';
import { SharedInformerFactory } from '../src/client/informer.js';
import { ApiEventRecorder } from '../src/client/event-recorder.js';
import { realClock } from '../src/client/types.js';
import { defaultControllerOptions } from '../src/controllers/controller.js';
import { HorizontalController } from '../src/controllers/podautoscaler/horizontal-controller.js';
import { customResourceDefinition } from './helpers/crd.js';
import { eventually } from './helpers/eventually.js';
import { applyFile, kubectlFor, kubectlSkip, type Kubectl } from './helpers/kubectl.js';
import { startTestServer, type TestServer } from './helpers/test-server.js';
import { selfSignedServingCert } from './helpers/serving-cert.js';

const skip = kubectlSkip();
const NS = 'apps';
const HPA_USER = 'system:serviceaccount:kube-system:horizontal-pod-autoscaler';

const servingCert = (dnsName: string) => selfSignedServingCert(dnsName, '02');

/** What the adapter reports: per-app totals spread over the app's pods, external series by label, object values. */
interface AdapterState {
  /** app label → total of http_requests over its pods (each pod reports total / pods). */
  load: Map<string, number>;
  /** external metric queue_messages: one series per `queue` label. */
  queues: Map<string, number>;
  /** custom metric `depth` of Queue objects, by name. */
  depth: Map<string, number>;
  seen: { path: string; user?: string }[];
}

/** `a=b,c=d` → matches labels (equality only: all this test sends). */
function matches(selector: string, labels: Record<string, string>): boolean {
  return selector.split(',').filter(Boolean).every((term) => {
    const [k, v] = term.split('=');
    return labels[k!] === v;
  });
}

function startAdapter(tls: { cert: string; key: string }, state: AdapterState, s: TestServer): Promise<https.Server> {
  const server = https.createServer({ ...tls, requestCert: true, rejectUnauthorized: false }, (req, res) => {
    const send = (code: number, body: unknown) => {
      res.writeHead(code, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const notFound = (message: string) => send(404, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'NotFound', code: 404, message });
    const url = new URL(req.url ?? '/', 'https://adapter');
    state.seen.push({ path: url.pathname + url.search, user: req.headers['x-remote-user'] as string | undefined });
    const now = new Date().toISOString();
    const qty = (v: number) => `${Math.round(v * 1000)}m`;
    void (async () => {
      const p = url.pathname;
      const version = /^\/apis\/custom\.metrics\.k8s\.io\/(v1beta[12])(\/|$)/.exec(p)?.[1] ?? 'v1beta2';
      if (p === `/apis/custom.metrics.k8s.io/${version}`) {
        return send(200, {
          kind: 'APIResourceList',
          apiVersion: 'v1',
          groupVersion: `custom.metrics.k8s.io/${version}`,
          resources: [
            { name: 'pods/http_requests', singularName: '', namespaced: true, kind: 'MetricValueList', verbs: ['get'] },
            { name: 'queues.example.com/depth', singularName: '', namespaced: true, kind: 'MetricValueList', verbs: ['get'] },
          ],
        });
      }
      if (p === '/apis/external.metrics.k8s.io/v1beta1') {
        return send(200, { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: 'external.metrics.k8s.io/v1beta1', resources: [{ name: 'queue_messages', singularName: '', namespaced: true, kind: 'ExternalMetricValueList', verbs: ['get'] }] });
      }
      const podsMetric = /^\/apis\/custom\.metrics\.k8s\.io\/v1beta[12]\/namespaces\/([^/]+)\/pods\/\*\/([^/]+)$/.exec(p);
      if (podsMetric) {
        const [, ns, metric] = podsMetric;
        const selector = url.searchParams.get('labelSelector') ?? '';
        if (metric !== 'http_requests') return notFound(`the server could not find the metric ${metric} for pods`);
        // A real adapter asks the API which pods the selector picks, then looks their series up.
        const pods = (await s.request('GET', `/api/v1/namespaces/${ns}/pods?labelSelector=${encodeURIComponent(selector)}`)).json.items as any[];
        const live = pods.filter((pod) => !pod.metadata.deletionTimestamp);
        const total = state.load.get(live[0]?.metadata.labels?.app ?? '') ?? 0;
        const items = live.map((pod) => ({
          describedObject: { kind: 'Pod', namespace: ns, name: pod.metadata.name, apiVersion: '/v1' },
          // v1beta1 names the metric with metricName, v1beta2 with metric.name.
          ...(version === 'v1beta1' ? { metricName: metric } : { metric: { name: metric } }),
          timestamp: now,
          windowSeconds: 60,
          value: qty(total / live.length),
        }));
        return send(200, { kind: 'MetricValueList', apiVersion: `custom.metrics.k8s.io/${version}`, metadata: {}, items });
      }
      const objectMetric = /^\/apis\/custom\.metrics\.k8s\.io\/v1beta2\/namespaces\/([^/]+)\/queues\.example\.com\/([^/*]+)\/([^/]+)$/.exec(p);
      if (objectMetric) {
        const [, ns, name, metric] = objectMetric;
        const depth = state.depth.get(name!);
        if (metric !== 'depth' || depth === undefined) return notFound(`the server could not find the metric ${metric} for queues.example.com ${name}`);
        const item = { describedObject: { kind: 'Queue', namespace: ns, name, apiVersion: 'example.com/v1' }, metric: { name: metric }, timestamp: now, windowSeconds: 60, value: qty(depth) };
        return send(200, { kind: 'MetricValueList', apiVersion: 'custom.metrics.k8s.io/v1beta2', metadata: {}, items: [item] });
      }
      const external = /^\/apis\/external\.metrics\.k8s\.io\/v1beta1\/namespaces\/([^/]+)\/([^/]+)$/.exec(p);
      if (external) {
        const [, , metric] = external;
        if (metric !== 'queue_messages') return notFound(`the server could not find the external metric ${metric}`);
        const selector = url.searchParams.get('labelSelector') ?? '';
        const items = [...state.queues]
          .filter(([queue]) => matches(selector, { queue }))
          .map(([queue, v]) => ({ metricName: metric, metricLabels: { queue }, timestamp: now, value: qty(v) }));
        return send(200, { kind: 'ExternalMetricValueList', apiVersion: 'external.metrics.k8s.io/v1beta1', metadata: {}, items });
      }
      notFound('the server could not find the requested resource');
    })().catch((err: Error) => send(500, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'InternalError', code: 500, message: err.message }));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

const deployment = (name: string) => `
apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: ${NS}}
spec:
  replicas: 1
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      containers: [{name: app, image: nginx:1.27}]
`;

const hpa = (name: string, target: string, metric: string, max = 6) => `
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: ${name}, namespace: ${NS}}
spec:
  scaleTargetRef: ${target}
  minReplicas: 1
  maxReplicas: ${max}
  behavior: {scaleDown: {stabilizationWindowSeconds: 0}}
  metrics:
  - ${metric}
`;

const apiService = (group: string, version: string, caBundle: string) =>
  JSON.stringify({
    apiVersion: 'apiregistration.k8s.io/v1',
    kind: 'APIService',
    metadata: { name: `${version}.${group}` },
    spec: { group, version, service: { namespace: 'monitoring', name: 'metrics-adapter', port: 443 }, caBundle, groupPriorityMinimum: 100, versionPriority: 100 },
  });

describe('HPA with custom and external metrics from an aggregated adapter (kubectl, simulated nodes)', { skip, timeout: 110_000 }, () => {
  let s: TestServer;
  let k: Kubectl;
  let dir: string;
  let adapter: https.Server;
  let tls: { cert: string; key: string };
  let controller: HorizontalController | undefined;
  let informers: SharedInformerFactory | undefined;
  const state: AdapterState = { load: new Map(), queues: new Map([['other', 1000]]), depth: new Map(), seen: [] };

  before(async () => {
    s = await startTestServer({ simulateNodes: 2, disable: ['horizontal-pod-autoscaler'] });
    k = kubectlFor(s.kubeconfig);
    dir = await mkdtemp(join(tmpdir(), 'skiff-hpa-custom-'));
    tls = await servingCert('metrics-adapter.monitoring.svc');
    adapter = await startAdapter(tls, state, s);
    const port = (adapter.address() as AddressInfo).port;
    for (const ns of ['monitoring', NS]) assert.equal((await k(['create', 'namespace', ns])).code, 0);
    const svc = await s.request('POST', '/api/v1/namespaces/monitoring/services', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'metrics-adapter' }, spec: { ports: [{ name: 'https', port: 443, targetPort: port }] } });
    assert.equal(svc.status, 201, svc.text);
    const slice = await s.request('POST', '/apis/discovery.k8s.io/v1/namespaces/monitoring/endpointslices', {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'metrics-adapter-1', labels: { 'kubernetes.io/service-name': 'metrics-adapter' } },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
      ports: [{ name: 'https', port, protocol: 'TCP' }],
    });
    assert.equal(slice.status, 201, slice.text);
    // The controller as kube-controller-manager runs it (--use-service-account-credentials), over the server's API.
    const client = new RestClient(s.running.api.inProcessTransport({ username: HPA_USER, groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'] }));
    informers = new SharedInformerFactory(client);
    controller = new HorizontalController({ client, informers, recorder: (component) => new ApiEventRecorder(client, component), clock: realClock, options: defaultControllerOptions }, { resyncMs: 1000 });
    controller.start();
    informers.start();
    await informers.waitForSync();
    void controller.run(2);
    await s.running.controlPlane.simulatedNodes!.waitForRegistration();
  });

  after(async () => {
    controller?.stop();
    informers?.stop();
    adapter?.closeAllConnections();
    await new Promise((r) => (adapter ? adapter.close(r) : r(undefined)));
    await s?.stop();
    if (s) await rm(s.dataDir, { recursive: true, force: true });
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const apply = (name: string, yaml: string) => applyFile(k, dir, name, yaml);
  const getHpa = (name: string) => k.json(['get', 'hpa', name, '-n', NS]);
  const condition = (h: any, type: string) => (h.status?.conditions ?? []).find((c: any) => c.type === type);
  const events = async (name: string) =>
    ((await k.json(['get', 'events', '-n', NS, '--field-selector', `involvedObject.kind=HorizontalPodAutoscaler,involvedObject.name=${name}`])).items as any[]).map((e) => `${e.type} ${e.reason} ${e.message}`);
  const raw = async (path: string) => {
    const r = await k(['get', '--raw', path]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  };
  const replicasOf = async (resource: string, name: string) => (await k.json(['get', resource, name, '-n', NS])).spec.replicas as number;
  const scalesTo = (resource: string, name: string, n: number) => eventually(`${resource}/${name} at ${n} replicas`, async () => (await replicasOf(resource, name)) === n, 40_000);

  it('without the APIServices: ScalingActive False FailedGetPodsMetric / FailedGetExternalMetric, in upstream words, and no scaling', async () => {
    await apply('web.yaml', deployment('web'));
    await apply('worker.yaml', deployment('worker'));
    await apply('web-hpa.yaml', hpa('web', '{apiVersion: apps/v1, kind: Deployment, name: web}', 'type: Pods\n    pods: {metric: {name: http_requests}, target: {type: AverageValue, averageValue: "10"}}'));
    await apply(
      'worker-hpa.yaml',
      hpa('worker', '{apiVersion: apps/v1, kind: Deployment, name: worker}', 'type: External\n    external: {metric: {name: queue_messages, selector: {matchLabels: {queue: work}}}, target: {type: AverageValue, averageValue: "30"}}'),
    );
    const podsErr = 'unable to get metric http_requests: unable to fetch metrics from custom metrics API: no custom metrics API (custom.metrics.k8s.io) registered';
    const web = await eventually('web ScalingActive False', async () => {
      const h = await getHpa('web');
      return condition(h, 'ScalingActive')?.status === 'False' && h;
    });
    assert.deepEqual([condition(web, 'ScalingActive').reason, condition(web, 'ScalingActive').message], ['FailedGetPodsMetric', `the HPA was unable to compute the replica count: ${podsErr}`]);
    assert.deepEqual(web.status.currentMetrics, [{ type: '' }]);
    const worker = await eventually('worker ScalingActive False', async () => {
      const h = await getHpa('worker');
      return condition(h, 'ScalingActive')?.status === 'False' && h;
    });
    assert.equal(condition(worker, 'ScalingActive').reason, 'FailedGetExternalMetric');
    assert.match(condition(worker, 'ScalingActive').message, /^the HPA was unable to compute the replica count: unable to get external metric apps\/queue_messages\/queue=work: unable to fetch metrics from external metrics API: the server could not find the requested resource/);
    const evs = await eventually('the web HPA events', async () => {
      const e = await events('web');
      return e.some((x) => x.startsWith('Warning FailedComputeMetricsReplicas')) && e;
    });
    assert.ok(evs.includes(`Warning FailedGetPodsMetric ${podsErr}`), evs.join('\n'));
    assert.ok(evs.includes(`Warning FailedComputeMetricsReplicas invalid metrics (1 invalid out of 1), first error is: failed to get pods metric value: ${podsErr}`), evs.join('\n'));
    const describe = await k(['describe', 'hpa', 'worker', '-n', NS]);
    assert.match(describe.stdout, /ScalingActive\s+False\s+FailedGetExternalMetric/);
    assert.equal(await replicasOf('deployment', 'web'), 1);
    assert.equal(await replicasOf('deployment', 'worker'), 1);
  });

  it('registered and Available: a Pods metric scales web 1 → 4 and back to 1 as the adapter reports', async () => {
    const ca = Buffer.from(tls.cert).toString('base64');
    for (const [g, v] of [['custom.metrics.k8s.io', 'v1beta2'], ['external.metrics.k8s.io', 'v1beta1']] as const) {
      const r = await k(['apply', '-f', '-'], { input: apiService(g, v, ca) });
      assert.equal(r.code, 0, r.stderr);
    }
    for (const name of ['v1beta2.custom.metrics.k8s.io', 'v1beta1.external.metrics.k8s.io']) {
      await eventually(`${name} Available`, async () => (await k.json(['get', 'apiservice', name])).status?.conditions?.find((c: any) => c.type === 'Available')?.status === 'True');
    }
    const disc = await raw('/apis/custom.metrics.k8s.io/v1beta2');
    assert.deepEqual(disc.resources.map((r: any) => r.name).sort(), ['pods/http_requests', 'queues.example.com/depth']);

    state.load.set('web', 40); // one pod at 40 against 10 per pod: 4 replicas; then 4 pods at 10 each: at target.
    await scalesTo('deployment', 'web', 4);
    const h = await eventually('web ScalingActive True at 4', async () => {
      const x = await getHpa('web');
      return x.status?.currentReplicas === 4 && x.status.desiredReplicas === 4 && condition(x, 'ScalingActive')?.status === 'True' && x;
    });
    assert.deepEqual([condition(h, 'ScalingActive').reason, condition(h, 'ScalingActive').message], ['ValidMetricFound', 'the HPA was able to successfully calculate a replica count from pods metric http_requests']);
    assert.equal(h.status.currentMetrics[0].type, 'Pods');
    assert.equal(h.status.currentMetrics[0].pods.metric.name, 'http_requests');
    assert.ok((await events('web')).includes('Normal SuccessfulRescale New size: 4; reason: pods metric http_requests above target'));
    // Stays at 4 while the load holds (4 pods at 10 each is within the tolerance).
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal(await replicasOf('deployment', 'web'), 4);

    state.load.set('web', 8); // 4 pods at 2 each: 1 replica.
    await scalesTo('deployment', 'web', 1);
    assert.ok((await events('web')).includes('Normal SuccessfulRescale New size: 1; reason: All metrics below target'));
    // Every read went through the aggregation layer as the HPA controller's identity, with the scale's selector.
    const podReads = state.seen.filter((x) => x.path.startsWith(`/apis/custom.metrics.k8s.io/v1beta2/namespaces/${NS}/pods/*/http_requests`));
    assert.ok(podReads.length > 0);
    assert.ok(podReads.every((x) => x.user === HPA_USER && x.path.endsWith('?labelSelector=app%3Dweb')), JSON.stringify(podReads.slice(0, 3)));
  });

  it('an External metric picked by its metric selector scales worker 1 → 4 and back to 1', async () => {
    state.queues.set('work', 120); // 120 messages against 30 per pod: 4 (the queue=other series, 1000, is not selected).
    await scalesTo('deployment', 'worker', 4);
    const h = await eventually('worker status at 4', async () => {
      const x = await getHpa('worker');
      return x.status?.currentReplicas === 4 && x;
    });
    assert.equal(h.status.currentMetrics[0].type, 'External');
    assert.deepEqual(h.status.currentMetrics[0].external.metric, { name: 'queue_messages', selector: { matchLabels: { queue: 'work' } } });
    assert.ok((await events('worker')).includes('Normal SuccessfulRescale New size: 4; reason: external metric queue_messages(queue=work) above target'));
    state.queues.set('work', 0);
    await scalesTo('deployment', 'worker', 1);
    const reads = state.seen.filter((x) => x.path.startsWith(`/apis/external.metrics.k8s.io/v1beta1/namespaces/${NS}/queue_messages`));
    assert.ok(reads.length > 0 && reads.every((x) => x.path.endsWith('?labelSelector=queue%3Dwork') && x.user === HPA_USER), JSON.stringify(reads.slice(0, 3)));
  });

  it('a custom resource with a /scale subresource is the target: an Object metric on it, the HPA writes its /scale', async () => {
    await apply(
      'crd.yaml',
      JSON.stringify(
        customResourceDefinition({
          group: 'example.com',
          kind: 'Queue',
          versions: [
            {
              name: 'v1',
              schema: {
                type: 'object',
                properties: {
                  spec: { type: 'object', properties: { replicas: { type: 'integer' }, selector: { type: 'string' } } },
                  status: { type: 'object', properties: { replicas: { type: 'integer' } } },
                },
              },
              subresources: { status: {}, scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', labelSelectorPath: '.spec.selector' } },
            },
          ],
        }),
      ),
    );
    assert.equal((await k(['wait', '--for=condition=Established', 'crd/queues.example.com', '--timeout=20s'])).code, 0);
    for (const name of ['jobs', 'idle']) {
      await eventually(`Queue ${name} created`, async () => (await k(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'example.com/v1', kind: 'Queue', metadata: { name, namespace: NS }, spec: { replicas: 1, selector: `app=queue-${name}` } }) })).code === 0);
      const st = await k(['patch', 'queue', name, '-n', NS, '--subresource=status', '--type=merge', '-p', '{"status":{"replicas":1}}']);
      assert.equal(st.code, 0, st.stderr);
    }
    const target = (name: string) => `{apiVersion: example.com/v1, kind: Queue, name: ${name}}`;
    const objectMetric = (name: string, metric: string) => `type: Object\n    object: {describedObject: ${target(name)}, metric: {name: ${metric}}, target: {type: AverageValue, averageValue: "10"}}`;
    state.depth.set('jobs', 50); // 50 items, 10 per replica: 5.
    await apply('queue-hpa.yaml', hpa('jobs', target('jobs'), objectMetric('jobs', 'depth'), 8));
    await scalesTo('queue', 'jobs', 5);
    const scale = await raw(`/apis/example.com/v1/namespaces/${NS}/queues/jobs/scale`);
    assert.deepEqual([scale.kind, scale.spec.replicas, scale.status.selector], ['Scale', 5, 'app=queue-jobs']);
    assert.ok((await events('jobs')).includes('Normal SuccessfulRescale New size: 5; reason: Queue metric depth above target'));
    // The queue's operator catches up; then the queue drains.
    assert.equal((await k(['patch', 'queue', 'jobs', '-n', NS, '--subresource=status', '--type=merge', '-p', '{"status":{"replicas":5}}'])).code, 0);
    state.depth.set('jobs', 5);
    await scalesTo('queue', 'jobs', 1);
    const h = await getHpa('jobs');
    assert.equal(h.status.currentMetrics[0].type, 'Object');
    assert.deepEqual(h.status.currentMetrics[0].object.describedObject, { apiVersion: 'example.com/v1', kind: 'Queue', name: 'jobs' });

    // A metric the adapter does not have: its 404 comes back through the aggregator into the condition and event.
    await apply('idle-hpa.yaml', hpa('idle', target('idle'), objectMetric('idle', 'nosuch')));
    const idle = await eventually('idle ScalingActive False', async () => {
      const x = await getHpa('idle');
      return condition(x, 'ScalingActive')?.status === 'False' && x;
    });
    const err = 'unable to get metric nosuch: Queue on apps idle/unable to fetch metrics from custom metrics API: the server could not find the metric nosuch for queues.example.com idle';
    assert.deepEqual([condition(idle, 'ScalingActive').reason, condition(idle, 'ScalingActive').message], ['FailedGetObjectMetric', `the HPA was unable to compute the replica count: ${err}`]);
    assert.ok((await events('idle')).includes(`Warning FailedGetObjectMetric ${err}`));
    assert.equal(await replicasOf('queue', 'idle'), 1);
  });

  it('an adapter serving only custom.metrics.k8s.io/v1beta1: the controller finds that version and scales on it', async () => {
    const ca = Buffer.from(tls.cert).toString('base64');
    assert.equal((await k(['delete', 'apiservice', 'v1beta2.custom.metrics.k8s.io'])).code, 0);
    const r = await k(['apply', '-f', '-'], { input: apiService('custom.metrics.k8s.io', 'v1beta1', ca) });
    assert.equal(r.code, 0, r.stderr);
    await eventually('v1beta1.custom.metrics.k8s.io Available', async () => (await k.json(['get', 'apiservice', 'v1beta1.custom.metrics.k8s.io'])).status?.conditions?.find((c: any) => c.type === 'Available')?.status === 'True');
    const group = await raw('/apis/custom.metrics.k8s.io');
    assert.deepEqual([group.preferredVersion.version, group.versions.map((v: any) => v.version)], ['v1beta1', ['v1beta1']]);
    const from = state.seen.length;
    state.load.set('web', 30); // one pod at 30 against 10 per pod: 3 replicas.
    await scalesTo('deployment', 'web', 3);
    const reads = state.seen.slice(from).filter((x) => x.path.includes(`/namespaces/${NS}/pods/*/http_requests`));
    assert.ok(reads.some((x) => x.path.startsWith('/apis/custom.metrics.k8s.io/v1beta1/')), JSON.stringify(reads.slice(0, 3)));
    assert.ok(reads.every((x) => x.path.startsWith('/apis/custom.metrics.k8s.io/v1beta1/') && x.user === HPA_USER), JSON.stringify(reads.slice(0, 3)));
    const h = await eventually('web ScalingActive True at 3', async () => {
      const x = await getHpa('web');
      return x.status?.currentReplicas === 3 && condition(x, 'ScalingActive')?.status === 'True' && x;
    });
    assert.equal(h.status.currentMetrics[0].pods.metric.name, 'http_requests');
  });

  it('the adapter going away: its APIService turns unavailable and the HPA reports FailedGetExternalMetric, keeping its size', async () => {
    state.queues.set('work', 60); // 2 replicas while the adapter answers
    await scalesTo('deployment', 'worker', 2);
    adapter.closeAllConnections();
    await new Promise((r) => adapter.close(r));
    const h = await eventually('worker ScalingActive False after the adapter stopped', async () => {
      const x = await getHpa('worker');
      return condition(x, 'ScalingActive')?.status === 'False' && x;
    });
    assert.equal(condition(h, 'ScalingActive').reason, 'FailedGetExternalMetric');
    assert.match(condition(h, 'ScalingActive').message, /^the HPA was unable to compute the replica count: unable to get external metric apps\/queue_messages\/queue=work: unable to fetch metrics from external metrics API: (service unavailable|error trying to reach service: .+)$/);
    assert.equal(await replicasOf('deployment', 'worker'), 2);
  });
});
