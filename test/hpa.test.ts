/**
 * The HPA controller against a real `skiff server` (control plane, simulated nodes) with the real kubectl: the
 * server's own HPA controller is disabled and one runs here over the server's API with a fake metrics source, so the
 * CPU numbers are ours. Scale-out and scale-in (with a short scale-down window set through spec.behavior) are
 * observed with kubectl, as are the status, the conditions and the events; then the bad input of issue 10: targets
 * that do not exist or have no /scale, metrics that are missing, pods without requests.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RestClient } from '../src/client/rest-client.js';
import { SharedInformerFactory } from '../src/client/informer.js';
import { ApiEventRecorder } from '../src/client/event-recorder.js';
import { Pods } from '../src/client/resources.js';
import { realClock, type Client } from '../src/client/types.js';
import { defaultControllerOptions } from '../src/controllers/controller.js';
import { HorizontalController } from '../src/controllers/podautoscaler/horizontal-controller.js';
import type { MetricsClient, PodMetricsInfo } from '../src/controllers/podautoscaler/metrics-client.js';
import { eventually } from './helpers/eventually.js';
import { applyFile, kubectlFor, kubectlSkip, type Kubectl } from './helpers/kubectl.js';
import { startTestServer, type TestServer } from './helpers/test-server.js';

const skip = kubectlSkip();

/** CPU usage per namespace (millicores per pod), or an Error to return; pods come from the real API. */
class FakeMetrics implements MetricsClient {
  readonly cpu = new Map<string, number | Error>();
  constructor(private readonly client: Client) {}
  async getResourceMetric(resource: string, namespace: string, selector: string): Promise<{ metrics: PodMetricsInfo; timestamp: Date }> {
    const usage = this.cpu.get(namespace);
    if (usage instanceof Error) throw usage;
    if (usage === undefined || resource !== 'cpu') throw new Error('no metrics returned from resource metrics API');
    const pods = await this.client.list(Pods, namespace, { labelSelector: selector });
    const now = new Date();
    const metrics: PodMetricsInfo = new Map(pods.items.map((p) => [p.metadata.name!, { value: usage, timestamp: now, windowMs: 0 }]));
    return { metrics, timestamp: now };
  }
  getRawMetric(): Promise<never> {
    return Promise.reject(new Error('unable to fetch metrics from custom metrics API'));
  }
  getObjectMetric(): Promise<never> {
    return Promise.reject(new Error('unable to fetch metrics from custom metrics API'));
  }
  getExternalMetric(): Promise<never> {
    return Promise.reject(new Error('unable to fetch metrics from external metrics API'));
  }
}

const deployment = (ns: string, name: string, replicas: number, requests = true) => `
apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: ${ns}}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      containers:
      - name: burner
        image: busybox
${requests ? '        resources: {requests: {cpu: 100m}}' : ''}
`;

const hpa = (ns: string, name: string, target: { apiVersion: string; kind: string; name: string }, extra = '') => `
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: ${name}, namespace: ${ns}}
spec:
  scaleTargetRef: {apiVersion: ${target.apiVersion}, kind: ${target.kind}, name: ${target.name}}
  minReplicas: 1
  maxReplicas: 6
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}
${extra}`;

describe('HorizontalPodAutoscaler controller (real server, fake metrics, kubectl)', { skip }, () => {
  let s: TestServer;
  let k: Kubectl;
  let dir: string;
  let metrics: FakeMetrics;
  let controllers: HorizontalController[] = [];
  let informers: SharedInformerFactory[] = [];

  /** Runs a controller in this process over the server's API (as system:masters), with `metricsClient` or the real one. */
  async function startController(metricsClient?: MetricsClient): Promise<void> {
    const client = new RestClient(s.running.api.inProcessTransport({ username: 'hpa-test', groups: ['system:masters', 'system:authenticated'] }));
    const inf = new SharedInformerFactory(client);
    const c = new HorizontalController(
      { client, informers: inf, recorder: (component) => new ApiEventRecorder(client, component), clock: realClock, options: defaultControllerOptions },
      { ...(metricsClient ? { metricsClient } : {}), resyncMs: 500 },
    );
    c.start();
    inf.start();
    await inf.waitForSync();
    void c.run(2);
    controllers.push(c);
    informers.push(inf);
  }

  before(async () => {
    s = await startTestServer({ simulateNodes: 1, disable: ['horizontal-pod-autoscaler'] });
    k = kubectlFor(s.kubeconfig);
    dir = await mkdtemp(join(tmpdir(), 'skiff-hpa-'));
    await s.running.controlPlane.simulatedNodes!.waitForRegistration();
    const client = new RestClient(s.running.api.inProcessTransport({ username: 'hpa-test', groups: ['system:masters', 'system:authenticated'] }));
    metrics = new FakeMetrics(client);
    await startController(metrics);
  });
  after(async () => {
    for (const c of controllers) c.stop();
    for (const i of informers) i.stop();
    await s?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const apply = (name: string, yaml: string) => applyFile(k, dir, name, yaml);
  const getHpa = async (ns: string, name: string) => k.json(['get', 'hpa', name, '-n', ns]);
  const condition = (h: any, type: string) => (h.status?.conditions ?? []).find((c: any) => c.type === type);
  const events = async (ns: string, name: string) =>
    ((await k.json(['get', 'events', '-n', ns, '--field-selector', `involvedObject.kind=HorizontalPodAutoscaler,involvedObject.name=${name}`])).items as any[]).map((e) => ({
      type: e.type,
      reason: e.reason,
      message: e.message,
      source: e.source?.component,
    }));

  it('scales a Deployment out under load, and back in only after the scale-down window', async () => {
    await k(['create', 'namespace', 'load']);
    await apply('web.yaml', deployment('load', 'web', 2));
    // Both pods Ready first: an unready pod counts as idle on a scale-up, and the first step would be smaller.
    const ready = await k(['rollout', 'status', 'deployment/web', '-n', 'load', '--timeout=60s']);
    assert.equal(ready.code, 0, ready.stderr);
    metrics.cpu.set('load', 150); // 150 % of the 100m request, target 50 %: 3x.
    await apply('web-hpa.yaml', hpa('load', 'web', { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' }, '  behavior: {scaleDown: {stabilizationWindowSeconds: 3}}'));

    const out = await eventually('the HPA to scale web to 6', async () => {
      const h = await getHpa('load', 'web');
      return h.status?.currentReplicas === 6 && h.status.desiredReplicas === 6 && h;
    });
    const d = await k.json(['get', 'deployment', 'web', '-n', 'load']);
    assert.equal(d.spec.replicas, 6);
    // The API server filled in the behavior's missing rules as upstream's defaulting does.
    assert.deepEqual(out.spec.behavior, {
      scaleUp: { stabilizationWindowSeconds: 0, selectPolicy: 'Max', policies: [{ type: 'Pods', value: 4, periodSeconds: 15 }, { type: 'Percent', value: 100, periodSeconds: 15 }] },
      scaleDown: { stabilizationWindowSeconds: 3, selectPolicy: 'Max', policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }] },
    });
    assert.equal(out.status.currentMetrics[0].type, 'Resource');
    assert.equal(out.status.currentMetrics[0].resource.name, 'cpu');
    assert.equal(out.status.currentMetrics[0].resource.current.averageUtilization, 150);
    assert.equal(out.status.currentMetrics[0].resource.current.averageValue, '150m');
    assert.ok(out.status.lastScaleTime, 'lastScaleTime is set');
    assert.deepEqual(
      { status: condition(out, 'AbleToScale').status, active: condition(out, 'ScalingActive').reason, activeMessage: condition(out, 'ScalingActive').message },
      { status: 'True', active: 'ValidMetricFound', activeMessage: 'the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)' },
    );
    const up = (await events('load', 'web')).filter((e) => e.reason === 'SuccessfulRescale');
    assert.deepEqual(up[0], { type: 'Normal', reason: 'SuccessfulRescale', message: 'New size: 6; reason: cpu resource utilization (percentage of request) above target', source: 'horizontal-pod-autoscaler' });

    // kubectl's table: the TARGETS cell shows current/target.
    const table = await k(['get', 'hpa', 'web', '-n', 'load']);
    assert.match(table.stdout, /Deployment\/web\s+cpu: 150%\/50%\s+1\s+6\s+6/);

    // Load drops to 10 %: the window holds the old recommendation for 3 s, then 6 × 0.2 → 2.
    const dropped = Date.now();
    metrics.cpu.set('load', 10);
    const stabilized = await eventually('ScaleDownStabilized while the window holds', async () => {
      const h = await getHpa('load', 'web');
      return condition(h, 'AbleToScale')?.reason === 'ScaleDownStabilized' && h;
    }, 10_000);
    assert.equal(stabilized.status.currentReplicas, 6);
    assert.equal(condition(stabilized, 'AbleToScale').message, 'recent recommendations were higher than current one, applying the highest recent recommendation');
    await eventually('the HPA to scale web in to 2', async () => (await getHpa('load', 'web')).status?.currentReplicas === 2, 30_000);
    assert.ok(Date.now() - dropped >= 3000, `scale-in waited for the 3 s window (took ${Date.now() - dropped} ms)`);
    const down = (await events('load', 'web')).filter((e) => e.reason === 'SuccessfulRescale').map((e) => e.message);
    assert.ok(down.includes('New size: 2; reason: All metrics below target'), JSON.stringify(down));
    assert.equal((await k.json(['get', 'deployment', 'web', '-n', 'load'])).spec.replicas, 2);
  });

  it('the v1 view keeps behavior and conditions in upstream annotations, and a v1 replace keeps the behavior', async () => {
    const v1 = await k.json(['get', 'horizontalpodautoscalers.v1.autoscaling', 'web', '-n', 'load']);
    const behavior = JSON.parse(v1.metadata.annotations['autoscaling.alpha.kubernetes.io/behavior']);
    assert.equal(behavior.scaleDown.stabilizationWindowSeconds, 3);
    const conditions = JSON.parse(v1.metadata.annotations['autoscaling.alpha.kubernetes.io/conditions']);
    assert.deepEqual(conditions.map((c: any) => c.type), ['AbleToScale', 'ScalingActive', 'ScalingLimited']);
    v1.spec.maxReplicas = 5;
    await writeFile(join(dir, 'web-v1.json'), JSON.stringify(v1));
    const r = await k(['replace', '-f', join(dir, 'web-v1.json')]);
    assert.equal(r.code, 0, r.stderr);
    const v2 = await getHpa('load', 'web');
    assert.equal(v2.spec.maxReplicas, 5);
    assert.equal(v2.spec.behavior.scaleDown.stabilizationWindowSeconds, 3);
    assert.equal(v2.metadata.annotations?.['autoscaling.alpha.kubernetes.io/behavior'], undefined, 'the annotation is not stored');
  });

  it('holds a target above maxReplicas at the maximum (ScalingLimited TooManyReplicas)', async () => {
    await k(['create', 'namespace', 'capped']);
    await apply('capped.yaml', deployment('capped', 'web', 2));
    metrics.cpu.set('capped', 500); // 10x → 20, max 6.
    await apply('capped-hpa.yaml', hpa('capped', 'web', { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' }, '  behavior: {scaleUp: {policies: [{type: Percent, value: 900, periodSeconds: 15}]}}'));
    const h = await eventually('web capped at 6', async () => {
      const x = await getHpa('capped', 'web');
      return x.status?.currentReplicas === 6 && condition(x, 'ScalingLimited')?.status === 'True' && x;
    });
    assert.equal(condition(h, 'ScalingLimited').reason, 'TooManyReplicas');
    assert.equal(condition(h, 'ScalingLimited').message, 'the desired replica count is more than the maximum replica count');
  });

  it('kubectl autoscale creates an HPA the controller acts on; kubectl describe shows its conditions and events', async () => {
    await k(['create', 'namespace', 'auto']);
    await apply('auto.yaml', deployment('auto', 'api', 1));
    // 200 % of a 100 % target: 1 → 2, held there by --max=2 (once the new pod is Ready it reports 200 % too).
    metrics.cpu.set('auto', 200);
    const r = await k(['autoscale', 'deployment', 'api', '-n', 'auto', '--cpu-percent=100', '--min=1', '--max=2']);
    assert.equal(r.code, 0, r.stderr);
    await eventually('api scaled to 2', async () => (await k.json(['get', 'deployment', 'api', '-n', 'auto'])).spec.replicas === 2);
    // The v1 view carries the CPU numbers.
    const v1 = await k.json(['get', 'horizontalpodautoscalers.v1.autoscaling', 'api', '-n', 'auto']);
    assert.equal(v1.spec.targetCPUUtilizationPercentage, 100);
    await eventually('v1 currentCPUUtilizationPercentage', async () => (await k.json(['get', 'horizontalpodautoscalers.v1.autoscaling', 'api', '-n', 'auto'])).status?.currentCPUUtilizationPercentage === 200);
    await eventually('the next sync to see 2 replicas', async () => (await getHpa('auto', 'api')).status?.currentReplicas === 2);
    const d = await k(['describe', 'hpa', 'api', '-n', 'auto']);
    assert.equal(d.code, 0, d.stderr);
    assert.match(d.stdout, /resource cpu on pods\s+\(as a percentage of request\):\s+200% \(200m\) \/ 100%/);
    assert.match(d.stdout, /Deployment pods:\s+2 current \/ 2 desired/);
    assert.match(d.stdout, /AbleToScale\s+True\s+(SucceededRescale|ReadyForNewScale)\s/);
    assert.match(d.stdout, /ScalingActive\s+True\s+ValidMetricFound/);
    assert.match(d.stdout, /Normal\s+SuccessfulRescale\s+.*New size: 2; reason: cpu resource utilization \(percentage of request\) above target/);
  });

  it('scales a StatefulSet through its /scale too', async () => {
    await k(['create', 'namespace', 'sts']);
    await apply(
      'sts.yaml',
      `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: sts}
spec:
  replicas: 1
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: busybox, resources: {requests: {cpu: 100m}}}]}
`,
    );
    metrics.cpu.set('sts', 100); // 200 % of the 50 % target: 1 → 2.
    await apply('sts-hpa.yaml', hpa('sts', 'db', { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'db' }));
    await eventually('db scaled to 2', async () => (await k.json(['get', 'statefulset', 'db', '-n', 'sts'])).spec.replicas === 2);
  });

  describe('bad input gets the conditions and events Kubernetes gives', () => {
    before(async () => {
      await k(['create', 'namespace', 'bad']);
    });

    const expectFailedGetScale = async (name: string, target: { apiVersion: string; kind: string; name: string }, message: string) => {
      await apply(`${name}.yaml`, hpa('bad', name, target));
      const h = await eventually(`${name}: AbleToScale False`, async () => {
        const x = await getHpa('bad', name);
        return condition(x, 'AbleToScale')?.status === 'False' && x;
      });
      assert.equal(condition(h, 'AbleToScale').reason, 'FailedGetScale');
      assert.equal(condition(h, 'AbleToScale').message, `the HPA controller was unable to get the target's current scale: ${message}`);
      const ev = await eventually(`${name}: FailedGetScale event`, async () => (await events('bad', name)).find((e) => e.reason === 'FailedGetScale'));
      assert.deepEqual(ev, { type: 'Warning', reason: 'FailedGetScale', message, source: 'horizontal-pod-autoscaler' });
    };

    it('an invalid spec is refused with upstream field errors', async () => {
      const bad = hpa('bad', 'invalid', { apiVersion: 'apps/v1', kind: 'Deployment', name: 'x' }, '  behavior: {scaleUp: {stabilizationWindowSeconds: 4000, policies: [{type: Pods, value: 0, periodSeconds: 1801}]}}').replace('averageUtilization: 50', 'averageUtilization: 0');
      await writeFile(join(dir, 'invalid.yaml'), bad + `
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: nosource, namespace: bad}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: x}
  maxReplicas: 3
  metrics: [{type: Pods, resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}}]
`);
      const r = await k(['apply', '-f', join(dir, 'invalid.yaml')]);
      assert.notEqual(r.code, 0);
      for (const m of [
        'spec.metrics[0].resource.target.averageUtilization: Invalid value: 0: must be greater than 0',
        'spec.behavior.scaleUp.stabilizationWindowSeconds: Invalid value: 4000: must be less than or equal to 3600',
        'spec.behavior.scaleUp.policies[0].value: Invalid value: 0: must be greater than zero',
        'spec.behavior.scaleUp.policies[0].periodSeconds: Invalid value: 1801: must be less than or equal to 1800',
        'spec.metrics[0].pods: Required value: must populate information for the given metric source',
        'spec.metrics[0].resource: Forbidden: must populate the given metric source only',
      ]) {
        assert.ok(r.stderr.includes(m), `${m} in:\n${r.stderr}`);
      }
    });

    it('a target that does not exist', () => expectFailedGetScale('ghost', { apiVersion: 'apps/v1', kind: 'Deployment', name: 'ghost' }, 'deployments.apps "ghost" not found'));
    it('a version nobody serves', () => expectFailedGetScale('oldapi', { apiVersion: 'apps/v1beta1', kind: 'Deployment', name: 'web' }, 'no matches for kind "Deployment" in version "apps/v1beta1"'));
    it('a kind nobody serves', () => expectFailedGetScale('gadget', { apiVersion: 'example.com/v1', kind: 'Gadget', name: 'g' }, 'no matches for kind "Gadget" in version "example.com/v1"'));
    it('a kind without a /scale subresource', async () => {
      await k(['create', 'configmap', 'cm', '-n', 'bad']);
      await expectFailedGetScale('cm', { apiVersion: 'v1', kind: 'ConfigMap', name: 'cm' }, 'the server could not find the requested resource');
    });

    it('metrics that are missing: ScalingActive False, FailedGetResourceMetric and FailedComputeMetricsReplicas', async () => {
      await apply('nometrics.yaml', deployment('bad', 'nometrics', 1));
      await apply('nometrics-hpa.yaml', hpa('bad', 'nometrics', { apiVersion: 'apps/v1', kind: 'Deployment', name: 'nometrics' }));
      const h = await eventually('ScalingActive False', async () => {
        const x = await getHpa('bad', 'nometrics');
        return condition(x, 'ScalingActive')?.status === 'False' && x;
      });
      const err = 'failed to get cpu utilization: unable to get metrics for resource cpu: no metrics returned from resource metrics API';
      assert.deepEqual(
        { reason: condition(h, 'ScalingActive').reason, message: condition(h, 'ScalingActive').message, able: condition(h, 'AbleToScale').reason },
        { reason: 'FailedGetResourceMetric', message: `the HPA was unable to compute the replica count: ${err}`, able: 'SucceededGetScale' },
      );
      assert.equal(h.status.currentReplicas, 1);
      const evs = await eventually('both warnings', async () => {
        const e = await events('bad', 'nometrics');
        return e.some((x) => x.reason === 'FailedComputeMetricsReplicas') && e;
      });
      assert.ok(evs.some((e) => e.type === 'Warning' && e.reason === 'FailedGetResourceMetric' && e.message === err), JSON.stringify(evs));
      assert.ok(evs.some((e) => e.type === 'Warning' && e.reason === 'FailedComputeMetricsReplicas' && e.message === `invalid metrics (1 invalid out of 1), first error is: failed to get cpu resource metric value: ${err}`), JSON.stringify(evs));
      assert.equal((await k.json(['get', 'deployment', 'nometrics', '-n', 'bad'])).spec.replicas, 1);
    });

    it('pods without requests: a Utilization target cannot be computed', async () => {
      await k(['create', 'namespace', 'noreq']);
      await apply('noreq.yaml', deployment('noreq', 'noreq', 1, false));
      metrics.cpu.set('noreq', 100);
      await apply('noreq-hpa.yaml', hpa('noreq', 'noreq', { apiVersion: 'apps/v1', kind: 'Deployment', name: 'noreq' }));
      const h = await eventually('ScalingActive False', async () => {
        const x = await getHpa('noreq', 'noreq');
        return condition(x, 'ScalingActive')?.status === 'False' && x;
      });
      assert.equal(condition(h, 'ScalingActive').reason, 'FailedGetResourceMetric');
      assert.match(condition(h, 'ScalingActive').message, /^the HPA was unable to compute the replica count: failed to get cpu utilization: missing request for cpu in container burner of Pod noreq-[a-z0-9]+-[a-z0-9]+$/);
    });

    it('two HPAs over the same pods: both get AmbiguousSelector and neither scales', async () => {
      await k(['create', 'namespace', 'twins']);
      await apply('twin.yaml', deployment('twins', 'twin', 1));
      metrics.cpu.set('twins', 300);
      await apply('twin-a.yaml', hpa('twins', 'twin-a', { apiVersion: 'apps/v1', kind: 'Deployment', name: 'twin' }));
      await apply('twin-b.yaml', hpa('twins', 'twin-b', { apiVersion: 'apps/v1', kind: 'Deployment', name: 'twin' }));
      const msg = 'pods by selector app=twin are controlled by multiple HPAs: [twins/twin-a twins/twin-b]';
      for (const name of ['twin-a', 'twin-b']) {
        const h = await eventually(`${name}: AmbiguousSelector`, async () => {
          const x = await getHpa('twins', name);
          return condition(x, 'ScalingActive')?.reason === 'AmbiguousSelector' && x;
        });
        assert.equal(condition(h, 'ScalingActive').message, msg);
        const evs = await events('twins', name);
        assert.ok(evs.some((e) => e.type === 'Warning' && e.reason === 'AmbiguousSelector' && e.message === msg), JSON.stringify(evs));
        assert.ok(evs.some((e) => e.reason === 'FailedComputeMetricsReplicas' && e.message === msg), JSON.stringify(evs));
      }
      // Whichever synced first may have scaled once before the second existed; after that, nothing moves.
      const before = (await k.json(['get', 'deployment', 'twin', '-n', 'twins'])).spec.replicas;
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal((await k.json(['get', 'deployment', 'twin', '-n', 'twins'])).spec.replicas, before);
    });

    it('the scale target at zero replicas disables scaling (ScalingDisabled)', async () => {
      await apply('zero.yaml', deployment('bad', 'zero', 0));
      await apply('zero-hpa.yaml', hpa('bad', 'zero', { apiVersion: 'apps/v1', kind: 'Deployment', name: 'zero' }));
      const h = await eventually('ScalingDisabled', async () => {
        const x = await getHpa('bad', 'zero');
        return condition(x, 'ScalingActive')?.reason === 'ScalingDisabled' && x;
      });
      assert.equal(condition(h, 'ScalingActive').message, 'scaling is disabled since the replica count of the target is zero');
      assert.equal((await k.json(['get', 'deployment', 'zero', '-n', 'bad'])).spec.replicas, 0);
    });

    it('the metrics API through the client: without metrics.k8s.io data the HPA reports FailedGetResourceMetric', async () => {
      // A second controller with the default metrics client, in its own namespace (the fake one leaves it alone).
      await k(['create', 'namespace', 'real']);
      await startController();
      await apply('real.yaml', deployment('real', 'web', 1));
      await apply('real-hpa.yaml', hpa('real', 'web', { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' }));
      const h = await eventually('ScalingActive False from the real metrics client', async () => {
        const x = await getHpa('real', 'web');
        return condition(x, 'ScalingActive')?.status === 'False' && x;
      });
      assert.equal(condition(h, 'ScalingActive').reason, 'FailedGetResourceMetric');
      assert.match(condition(h, 'ScalingActive').message, /^the HPA was unable to compute the replica count: failed to get cpu utilization: unable to get metrics for resource cpu: /);
    });
  });
});
