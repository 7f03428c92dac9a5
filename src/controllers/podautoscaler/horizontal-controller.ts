/**
 * The HorizontalPodAutoscaler controller (kube-controller-manager's podautoscaler, 1.32 semantics): every resync
 * period (15 s) and whenever an HPA's spec changes, it reads the target's /scale, asks each metric for a replica
 * count (ReplicaCalculator), takes the largest, stabilizes it and applies spec.behavior's rate limits and
 * min/max (scaling-rules.ts), writes /scale when the count changes, and records status (currentReplicas,
 * desiredReplicas, currentMetrics, lastScaleTime, the AbleToScale / ScalingActive / ScalingLimited conditions) and
 * Events worded as upstream's. Failures become conditions and Warning events, never a crash.
 */
import type { HorizontalPodAutoscaler, HorizontalPodAutoscalerCondition, HorizontalPodAutoscalerStatus, MetricSpec, MetricStatus } from 'kubernetes-types/autoscaling/v2.js';
import type { Scale } from 'kubernetes-types/autoscaling/v1.js';
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { KubeObject } from '../../api/object.js';
import { matches, parseLabelSelector, type LabelSelector } from '../../api/labels.js';
import { formatQuantity, quantityFromMilli } from '../../api/quantity.js';
import { rfc3339 } from '../../api/time.js';
import { isNotFound } from '../../api/status.js';
import { allResourceTypes, HorizontalPodAutoscalers, Pods } from '../../client/resources.js';
import type { Client, Clock, EventRecorder, Informer, ResourceType, WorkQueue } from '../../client/types.js';
import { createWorkQueue } from '../../client/workqueue.js';
import { createLogger } from '../../log/logger.js';
import { keyOf, runWorkers, splitKey, type Controller, type ControllerContext } from '../controller.js';
import { metricSelectorString, milliOf, RestMetricsClient, type MetricsClient } from './metrics-client.js';
import { defaultCalculatorOptions, ReplicaCalculator, type CalculatorOptions } from './replica-calculator.js';
import {
  DEFAULT_DOWNSCALE_STABILIZATION_MS,
  defaultedBehavior,
  limitWithBehavior,
  limitWithoutBehavior,
  longestPolicyPeriodMs,
  stabilizeWithBehavior,
  stabilizeWithoutBehavior,
  type Recommendation,
  type ScaleEvent,
} from './scaling-rules.js';

type Hpa = HorizontalPodAutoscaler & KubeObject;
type ScaleObject = Scale & KubeObject;
type ConditionType = 'AbleToScale' | 'ScalingActive' | 'ScalingLimited';

const log = createLogger('horizontal-pod-autoscaler');

export interface HorizontalControllerOptions {
  /** Where metrics come from; default: metrics.k8s.io (and the custom/external metrics APIs) through the client. */
  metricsClient?: MetricsClient;
  /** --horizontal-pod-autoscaler-sync-period (15 s). */
  resyncMs?: number;
  /** --horizontal-pod-autoscaler-downscale-stabilization (5 min), for HPAs without a scale-down window. */
  downscaleStabilizationMs?: number;
  calculator?: CalculatorOptions;
}

/**
 * A metric that could not be computed: the ScalingActive reason and the error (its message is the event's and the
 * condition's); `outer` is the same error as computeReplicasForMetric returns it, with the metric type's prefix
 * ("failed to get pods metric value: ..."), which the "invalid metrics ..., first error is: " message quotes.
 */
class MetricError extends Error {
  readonly outer: string;
  constructor(
    readonly reason: string,
    message: string,
    outerPrefix = '',
  ) {
    super(message);
    this.outer = outerPrefix + message;
  }
}

interface MetricProposal {
  replicas: number;
  name: string;
  status: MetricStatus;
}

const milliQuantity = (milli: number) => formatQuantity(quantityFromMilli(Math.round(milli)));

export class HorizontalController implements Controller {
  readonly name = 'horizontal-pod-autoscaler';
  private readonly client: Client;
  private readonly clock: Clock;
  private readonly recorder: EventRecorder;
  private readonly queue: WorkQueue;
  private readonly hpas: Informer<Hpa>;
  private readonly pods: Informer<Pod & KubeObject>;
  private readonly calculator: ReplicaCalculator;
  private readonly resyncMs: number;
  private readonly downscaleStabilizationMs: number;
  /** Unstabilized recommendations and scale events per HPA key (upstream keeps them in memory too). */
  private readonly recommendations = new Map<string, Recommendation[]>();
  private readonly scaleUpEvents = new Map<string, ScaleEvent[]>();
  private readonly scaleDownEvents = new Map<string, ScaleEvent[]>();
  private readonly timers = new Map<string, { cancel(): void }>();
  /** Each known HPA's scale selector (undefined until its first sync), to find pods two HPAs would both scale. */
  private readonly selectors = new Map<string, LabelSelector | undefined>();

  constructor(ctx: ControllerContext, opts: HorizontalControllerOptions = {}) {
    this.client = ctx.client;
    this.clock = ctx.clock;
    this.recorder = ctx.recorder('horizontal-pod-autoscaler');
    this.queue = createWorkQueue({ clock: ctx.clock });
    this.hpas = ctx.informers.informerFor<Hpa>(HorizontalPodAutoscalers);
    this.pods = ctx.informers.informerFor<Pod & KubeObject>(Pods);
    this.resyncMs = opts.resyncMs ?? 15_000;
    this.downscaleStabilizationMs = opts.downscaleStabilizationMs ?? DEFAULT_DOWNSCALE_STABILIZATION_MS;
    const metrics = opts.metricsClient ?? new RestMetricsClient(this.client, (ref) => this.resourceFor(ref.apiVersion ?? '', ref.kind));
    this.calculator = new ReplicaCalculator(metrics, (ns, selector) => this.pods.lister.list(ns, selector), () => this.clock.now(), opts.calculator ?? defaultCalculatorOptions);
  }

  start(): void {
    this.hpas.addEventHandler({
      add: (h) => {
        if (!this.selectors.has(keyOf(h))) this.selectors.set(keyOf(h), undefined);
        this.queue.add(keyOf(h));
      },
      // Our own status writes change no generation: only spec changes sync early.
      update: (old, cur) => {
        if (old.metadata.generation !== cur.metadata.generation) this.queue.add(keyOf(cur));
      },
      delete: (h) => {
        this.selectors.delete(keyOf(h));
        this.queue.add(keyOf(h));
      },
    });
  }

  run(workers: number): Promise<void> {
    return runWorkers(this.name, this.queue, workers, async (key) => {
      try {
        await this.reconcile(key);
      } finally {
        this.scheduleResync(key);
      }
    });
  }

  stop(): void {
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
    this.queue.shutDown();
  }

  private scheduleResync(key: string): void {
    const { namespace, name } = splitKey(key);
    if (!this.hpas.lister.get(namespace, name) || this.timers.has(key)) return;
    this.timers.set(
      key,
      this.clock.setTimeout(() => {
        this.timers.delete(key);
        this.queue.add(key);
      }, this.resyncMs),
    );
  }

  async reconcile(key: string): Promise<void> {
    const { namespace, name } = splitKey(key);
    const cached = this.hpas.lister.get(namespace, name);
    if (!cached) {
      this.recommendations.delete(key);
      this.scaleUpEvents.delete(key);
      this.scaleDownEvents.delete(key);
      this.timers.get(key)?.cancel();
      this.timers.delete(key);
      return;
    }
    const hpa = structuredClone(cached);
    const oldStatus = structuredClone(hpa.status ?? { desiredReplicas: 0 });
    hpa.status ??= { desiredReplicas: 0 };
    try {
      await this.reconcileAutoscaler(key, hpa);
    } finally {
      await this.updateStatusIfNeeded(hpa, oldStatus);
    }
  }

  /** One pass of upstream reconcileAutoscaler; mutates hpa.status, which the caller writes if it changed. */
  private async reconcileAutoscaler(key: string, hpa: Hpa): Promise<void> {
    const ns = hpa.metadata.namespace ?? '';
    const ref = hpa.spec!.scaleTargetRef;
    const reference = `${ref.kind}/${ref.name}`;
    const now = this.clock.now().getTime();

    let target: ResourceType;
    let scale: ScaleObject;
    try {
      target = await this.resourceFor(ref.apiVersion ?? '', ref.kind);
      scale = await this.client.get<ScaleObject>(target, ns, ref.name, { subresource: 'scale' });
    } catch (err) {
      const msg = (err as Error).message;
      this.recorder.event(hpa, 'Warning', 'FailedGetScale', msg);
      this.setCondition(hpa, 'AbleToScale', 'False', 'FailedGetScale', `the HPA controller was unable to get the target's current scale: ${msg}`);
      log.info('failed to query scale subresource', { hpa: key, target: reference, err: msg });
      return;
    }
    this.setCondition(hpa, 'AbleToScale', 'True', 'SucceededGetScale', "the HPA controller was able to get the target's current scale");

    const currentReplicas = scale.spec?.replicas ?? 0;
    if (!this.recommendations.has(key)) this.recommendations.set(key, [{ replicas: currentReplicas, at: now }]);
    const minReplicas = hpa.spec!.minReplicas ?? 1;
    const maxReplicas = hpa.spec!.maxReplicas;
    let desired = 0;
    let rescaleReason = '';
    let statuses: MetricStatus[] = hpa.status!.currentMetrics ?? [];

    if (currentReplicas === 0 && minReplicas !== 0) {
      // Autoscaling is off while someone holds the target at zero.
      this.setCondition(hpa, 'ScalingActive', 'False', 'ScalingDisabled', 'scaling is disabled since the replica count of the target is zero');
    } else if (currentReplicas > maxReplicas) {
      rescaleReason = 'Current number of replicas above Spec.MaxReplicas';
      desired = maxReplicas;
    } else if (currentReplicas < minReplicas) {
      rescaleReason = 'Current number of replicas below Spec.MinReplicas';
      desired = minReplicas;
    } else {
      const computed = await this.computeReplicasForMetrics(hpa, scale, hpa.spec!.metrics ?? []);
      statuses = computed.statuses;
      if (computed.replicas === -1) {
        this.setStatus(hpa, currentReplicas, hpa.status!.desiredReplicas, statuses, false);
        this.recorder.event(hpa, 'Warning', 'FailedComputeMetricsReplicas', computed.error!);
        log.info('failed to compute desired number of replicas based on listed metrics', { hpa: key, target: reference, err: computed.error });
        return;
      }
      let rescaleMetric = '';
      if (computed.replicas > desired) {
        desired = computed.replicas;
        rescaleMetric = computed.metricName;
      }
      if (desired > currentReplicas) rescaleReason = `${rescaleMetric} above target`;
      if (desired < currentReplicas) rescaleReason = 'All metrics below target';
      desired = hpa.spec!.behavior ? this.normalizeWithBehavior(key, hpa, currentReplicas, desired, minReplicas, now) : this.normalize(key, hpa, currentReplicas, desired, minReplicas, now);
    }

    // Scaling disabled leaves desired at 0 = current: no rescale.
    const rescale = desired !== currentReplicas;
    if (rescale) {
      try {
        await this.client.update<ScaleObject>(target, ns, { ...scale, spec: { replicas: desired } }, { subresource: 'scale' });
      } catch (err) {
        const msg = (err as Error).message;
        this.recorder.event(hpa, 'Warning', 'FailedRescale', `New size: ${desired}; reason: ${rescaleReason}; error: ${msg}`);
        this.setCondition(hpa, 'AbleToScale', 'False', 'FailedUpdateScale', `the HPA controller was unable to update the target scale: ${msg}`);
        this.setStatus(hpa, currentReplicas, hpa.status!.desiredReplicas, statuses, false);
        if (!isNotFound(err)) throw err;
        return;
      }
      this.setCondition(hpa, 'AbleToScale', 'True', 'SucceededRescale', `the HPA controller was able to update the target scale to ${desired}`);
      this.recorder.event(hpa, 'Normal', 'SuccessfulRescale', `New size: ${desired}; reason: ${rescaleReason}`);
      this.storeScaleEvent(key, hpa, currentReplicas, desired, now);
      log.info('successful rescale', { hpa: key, target: reference, from: currentReplicas, to: desired, reason: rescaleReason });
    } else {
      desired = currentReplicas;
    }
    this.setStatus(hpa, currentReplicas, desired, statuses, rescale);
  }

  /** Every metric's proposal; the largest wins. Invalid metrics fail the pass when all are invalid or the rest would scale down. */
  private async computeReplicasForMetrics(hpa: Hpa, scale: ScaleObject, specs: MetricSpec[]): Promise<{ replicas: number; metricName: string; statuses: MetricStatus[]; error?: string }> {
    const selector = scale.status?.selector ?? '';
    if (!selector) {
      this.recorder.event(hpa, 'Warning', 'SelectorRequired', 'selector is required');
      this.setCondition(hpa, 'ScalingActive', 'False', 'InvalidSelector', "the HPA target's scale is missing a selector");
      return { replicas: -1, metricName: '', statuses: [], error: 'selector is required' };
    }
    let parsed: LabelSelector;
    try {
      parsed = parseLabelSelector(selector);
    } catch (err) {
      const msg = `couldn't convert selector into a corresponding internal selector object: ${(err as Error).message}`;
      this.recorder.event(hpa, 'Warning', 'InvalidSelector', msg);
      this.setCondition(hpa, 'ScalingActive', 'False', 'InvalidSelector', msg);
      return { replicas: -1, metricName: '', statuses: [], error: msg };
    }
    // Two HPAs scaling the same pods would fight: both stop (validateAndParseSelector's AmbiguousSelector).
    const ns = hpa.metadata.namespace ?? '';
    const key = keyOf(hpa);
    if (this.selectors.has(key)) this.selectors.set(key, parsed);
    const controlling = this.hpasControllingPods(this.pods.lister.list(ns, selector));
    if (controlling.length > 1) {
      const msg = `pods by selector ${selector} are controlled by multiple HPAs: [${controlling.join(' ')}]`;
      this.recorder.event(hpa, 'Warning', 'AmbiguousSelector', msg);
      this.setCondition(hpa, 'ScalingActive', 'False', 'AmbiguousSelector', msg);
      return { replicas: -1, metricName: '', statuses: [], error: msg };
    }
    const specReplicas = scale.spec?.replicas ?? 0;
    const statusReplicas = scale.status?.replicas ?? 0;
    const statuses: MetricStatus[] = specs.map(() => ({ type: '' }) as MetricStatus);
    let replicas = 0;
    let metricName = '';
    let invalid = 0;
    let firstError: MetricError | undefined;
    for (const [i, spec] of specs.entries()) {
      try {
        const p = await this.computeReplicasForMetric(hpa, spec, specReplicas, statusReplicas, selector);
        statuses[i] = p.status;
        if (replicas === 0 || p.replicas > replicas) {
          replicas = p.replicas;
          metricName = p.name;
        }
      } catch (err) {
        // computeReplicasForMetric records its own events; anything else is a malformed spec it did not foresee.
        const e = err instanceof MetricError ? err : new MetricError('InvalidMetricSourceType', (err as Error).message);
        if (!(err instanceof MetricError)) this.recorder.event(hpa, 'Warning', e.reason, e.message);
        firstError ??= e;
        invalid++;
      }
    }
    if (firstError && (invalid >= specs.length || replicas < specReplicas)) {
      this.setCondition(hpa, 'ScalingActive', 'False', firstError.reason, `the HPA was unable to compute the replica count: ${firstError.message}`);
      return { replicas: -1, metricName: '', statuses, error: `invalid metrics (${invalid} invalid out of ${specs.length}), first error is: ${firstError.outer}` };
    }
    this.setCondition(hpa, 'ScalingActive', 'True', 'ValidMetricFound', `the HPA was able to successfully calculate a replica count from ${metricName}`);
    return { replicas, metricName, statuses };
  }

  /** The HPAs (namespace/name, sorted) whose last known selector picks any of these pods. */
  private hpasControllingPods(pods: (Pod & KubeObject)[]): string[] {
    const found = new Set<string>();
    for (const pod of pods) {
      for (const [key, sel] of this.selectors) {
        if (key.startsWith(`${pod.metadata.namespace ?? ''}/`) && sel && matches(sel, pod.metadata.labels)) found.add(key);
      }
    }
    return [...found].sort();
  }

  /** One metric's proposal; failures are recorded as a Warning event and thrown as MetricError (upstream computeReplicasForMetric). */
  private async computeReplicasForMetric(hpa: Hpa, spec: MetricSpec, specReplicas: number, statusReplicas: number, selector: string): Promise<MetricProposal> {
    const ns = hpa.metadata.namespace ?? '';
    const fail = (reason: string, message: string, outerPrefix = ''): never => {
      this.recorder.event(hpa, 'Warning', reason, message);
      throw new MetricError(reason, message, outerPrefix);
    };
    switch (spec.type) {
      case 'Resource':
      case 'ContainerResource': {
        const src = spec.type === 'Resource' ? spec.resource : spec.containerResource;
        const container = spec.type === 'ContainerResource' ? (spec.containerResource?.container ?? '') : '';
        const reason = spec.type === 'Resource' ? 'FailedGetResourceMetric' : 'FailedGetContainerResourceMetric';
        const kind = spec.type === 'Resource' ? 'resource' : 'container resource';
        const res = src?.name ?? '';
        const target = src?.target;
        const outer = spec.type === 'Resource' ? `failed to get ${res} resource metric value: ` : `failed to get ${res} container metric value: `;
        const statusOf = (current: Record<string, unknown>): MetricStatus =>
          spec.type === 'Resource' ? { type: 'Resource', resource: { name: res, current } } : { type: 'ContainerResource', containerResource: { name: res, container, current } };
        if (target?.averageValue !== undefined) {
          try {
            const r = await this.calculator.rawResourceReplicas(specReplicas, milliOf(target.averageValue), res, container, ns, selector);
            return { replicas: r.replicas, name: `${res} ${kind}`, status: statusOf({ averageValue: milliQuantity(r.utilization) }) };
          } catch (err) {
            return fail(reason, `failed to get ${res} usage: ${(err as Error).message}`, outer);
          }
        }
        if (target?.averageUtilization === undefined) {
          return fail(reason, `failed to get ${res} utilization: invalid ${kind} metric source: neither an average utilization target nor an average value (usage) target was set`, outer);
        }
        try {
          const r = await this.calculator.resourceReplicas(specReplicas, target.averageUtilization, res, container, ns, selector);
          return { replicas: r.replicas, name: `${res} ${kind} utilization (percentage of request)`, status: statusOf({ averageUtilization: r.utilization, averageValue: milliQuantity(r.rawUtilization) }) };
        } catch (err) {
          return fail(reason, `failed to get ${res} utilization: ${(err as Error).message}`, outer);
        }
      }
      case 'Pods': {
        const metric = spec.pods!.metric;
        try {
          const r = await this.calculator.metricReplicas(specReplicas, milliOf(spec.pods!.target.averageValue ?? 0), metric.name, ns, selector, metricSelectorString(metric));
          return { replicas: r.replicas, name: `pods metric ${metric.name}`, status: { type: 'Pods', pods: { metric, current: { averageValue: milliQuantity(r.utilization) } } } };
        } catch (err) {
          return fail('FailedGetPodsMetric', (err as Error).message, 'failed to get pods metric value: ');
        }
      }
      case 'Object': {
        const o = spec.object!;
        const name = `${o.describedObject.kind} metric ${o.metric.name}`;
        try {
          if (o.target.type === 'Value' && o.target.value !== undefined) {
            const r = await this.calculator.objectMetricReplicas(specReplicas, milliOf(o.target.value), o.metric.name, ns, o.describedObject, selector, metricSelectorString(o.metric));
            return { replicas: r.replicas, name, status: { type: 'Object', object: { describedObject: o.describedObject, metric: o.metric, current: { value: milliQuantity(r.utilization) } } } };
          }
          if (o.target.type === 'AverageValue' && o.target.averageValue !== undefined) {
            const r = await this.calculator.objectPerPodMetricReplicas(statusReplicas, milliOf(o.target.averageValue), o.metric.name, ns, o.describedObject, metricSelectorString(o.metric));
            return { replicas: r.replicas, name, status: { type: 'Object', object: { describedObject: o.describedObject, metric: o.metric, current: { averageValue: milliQuantity(r.utilization) } } } };
          }
          throw new Error('invalid object metric source: neither a value target nor an average value target was set');
        } catch (err) {
          return fail('FailedGetObjectMetric', (err as Error).message, 'failed to get object metric value: ');
        }
      }
      case 'External': {
        const e = spec.external!;
        const metricSelector = metricSelectorString(e.metric);
        const name = `external metric ${e.metric.name}(${metricSelector})`;
        try {
          if (e.target.type === 'AverageValue' && e.target.averageValue !== undefined) {
            const r = await this.calculator.externalPerPodMetricReplicas(statusReplicas, milliOf(e.target.averageValue), e.metric.name, ns, metricSelector);
            return { replicas: r.replicas, name, status: { type: 'External', external: { metric: e.metric, current: { averageValue: milliQuantity(r.utilization) } } } };
          }
          if (e.target.type === 'Value' && e.target.value !== undefined) {
            const r = await this.calculator.externalMetricReplicas(specReplicas, milliOf(e.target.value), e.metric.name, ns, metricSelector, selector);
            return { replicas: r.replicas, name, status: { type: 'External', external: { metric: e.metric, current: { value: milliQuantity(r.utilization) } } } };
          }
          throw new Error('invalid external metric source: neither a value target nor an average value target was set');
        } catch (err) {
          return fail('FailedGetExternalMetric', (err as Error).message, 'failed to get external metric value: ');
        }
      }
      default:
        return fail('InvalidMetricSourceType', `unknown metric source type "${(spec as { type?: string }).type}"`);
    }
  }

  /** Without spec.behavior: the downscale window, then min/max and the 2x-or-4 scale-up rate (normalizeDesiredReplicas). */
  private normalize(key: string, hpa: Hpa, current: number, desired: number, minReplicas: number, now: number): number {
    const recs = (this.recommendations.get(key) ?? []).filter((r) => r.at >= now - this.downscaleStabilizationMs);
    const stabilized = stabilizeWithoutBehavior(desired, recs, now, this.downscaleStabilizationMs);
    this.recommendations.set(key, [...recs, { replicas: desired, at: now }]);
    if (stabilized !== desired) {
      this.setCondition(hpa, 'AbleToScale', 'True', 'ScaleDownStabilized', 'recent recommendations were higher than current one, applying the highest recent recommendation');
    } else {
      this.setCondition(hpa, 'AbleToScale', 'True', 'ReadyForNewScale', 'recommended size matches current size');
    }
    const limited = limitWithoutBehavior(current, stabilized, minReplicas, hpa.spec!.maxReplicas);
    this.setCondition(hpa, 'ScalingLimited', limited.replicas === stabilized ? 'False' : 'True', limited.reason, limited.message);
    return limited.replicas;
  }

  /** With spec.behavior: both windows, then the policies' rates and min/max (normalizeDesiredReplicasWithBehaviors). */
  private normalizeWithBehavior(key: string, hpa: Hpa, current: number, desired: number, minReplicas: number, now: number): number {
    const behavior = defaultedBehavior(hpa.spec!.behavior!, this.downscaleStabilizationMs);
    const keepMs = Math.max(behavior.scaleUp.stabilizationWindowSeconds ?? 0, behavior.scaleDown.stabilizationWindowSeconds ?? 0) * 1000;
    const recs = (this.recommendations.get(key) ?? []).filter((r) => r.at >= now - keepMs);
    const args = {
      current,
      desired,
      minReplicas,
      maxReplicas: hpa.spec!.maxReplicas,
      behavior,
      recommendations: recs,
      scaleUpEvents: this.scaleUpEvents.get(key) ?? [],
      scaleDownEvents: this.scaleDownEvents.get(key) ?? [],
      now,
    };
    const stabilized = stabilizeWithBehavior(args);
    this.recommendations.set(key, [...recs, { replicas: desired, at: now }]);
    if (stabilized.replicas !== desired) this.setCondition(hpa, 'AbleToScale', 'True', stabilized.reason, stabilized.message);
    else this.setCondition(hpa, 'AbleToScale', 'True', 'ReadyForNewScale', 'recommended size matches current size');
    const limited = limitWithBehavior({ ...args, desired: stabilized.replicas });
    this.setCondition(hpa, 'ScalingLimited', limited.replicas === stabilized.replicas ? 'False' : 'True', limited.reason, limited.message);
    return limited.replicas;
  }

  /** Remembers a rescale for the rate limits of spec.behavior's policies (storeScaleEvent). */
  private storeScaleEvent(key: string, hpa: Hpa, prev: number, next: number, now: number): void {
    if (!hpa.spec!.behavior) return;
    const behavior = defaultedBehavior(hpa.spec!.behavior, this.downscaleStabilizationMs);
    const [map, rules, change] = next > prev ? [this.scaleUpEvents, behavior.scaleUp, next - prev] : [this.scaleDownEvents, behavior.scaleDown, prev - next];
    const keep = longestPolicyPeriodMs(rules);
    map.set(key, [...(map.get(key) ?? []).filter((e) => e.at > now - keep), { change, at: now }]);
  }

  private setStatus(hpa: Hpa, currentReplicas: number, desiredReplicas: number, metrics: MetricStatus[], rescale: boolean): void {
    const status: HorizontalPodAutoscalerStatus = {
      currentReplicas,
      desiredReplicas,
      ...(metrics.length ? { currentMetrics: metrics } : {}),
      ...(rescale ? { lastScaleTime: rfc3339(this.clock.now()) } : hpa.status?.lastScaleTime ? { lastScaleTime: hpa.status.lastScaleTime } : {}),
      ...(hpa.status?.conditions ? { conditions: hpa.status.conditions } : {}),
    };
    hpa.status = status;
  }

  /** Sets a condition; its lastTransitionTime moves only when its status changes (setConditionInList). */
  private setCondition(hpa: Hpa, type: ConditionType, status: 'True' | 'False', reason: string, message: string): void {
    const conditions: HorizontalPodAutoscalerCondition[] = (hpa.status!.conditions ??= []);
    let c = conditions.find((x) => x.type === type);
    if (!c) {
      c = { type, status, lastTransitionTime: rfc3339(this.clock.now()) };
      conditions.push(c);
    } else if (c.status !== status) {
      c.lastTransitionTime = rfc3339(this.clock.now());
    }
    c.status = status;
    c.reason = reason;
    c.message = message;
  }

  private async updateStatusIfNeeded(hpa: Hpa, oldStatus: HorizontalPodAutoscalerStatus): Promise<void> {
    if (JSON.stringify(oldStatus) === JSON.stringify(hpa.status)) return;
    try {
      await this.client.updateStatus(HorizontalPodAutoscalers, hpa.metadata.namespace ?? '', hpa);
    } catch (err) {
      if (isNotFound(err)) return;
      this.recorder.event(hpa, 'Warning', 'FailedUpdateStatus', (err as Error).message);
      throw new Error(`failed to update status for ${hpa.metadata.name}: ${(err as Error).message}`);
    }
  }

  /**
   * The RESTMapper's answer for a scale target: built-in kinds from the client's resource table, custom resources
   * from their CustomResourceDefinition. Errors are worded as upstream's NoKindMatchError.
   */
  async resourceFor(apiVersion: string, kind: string): Promise<ResourceType> {
    const slash = apiVersion.indexOf('/');
    const group = slash < 0 ? '' : apiVersion.slice(0, slash);
    const version = slash < 0 ? apiVersion : apiVersion.slice(slash + 1);
    const builtin = allResourceTypes.find((t) => t.group === group && t.kind === kind && (!version || t.version === version));
    if (builtin) return builtin;
    const crdType: ResourceType = { group: 'apiextensions.k8s.io', version: 'v1', resource: 'customresourcedefinitions', kind: 'CustomResourceDefinition', namespaced: false };
    const crds = await this.client.list<KubeObject & { spec?: { group?: string; scope?: string; names?: { kind?: string; plural?: string }; versions?: { name: string }[] } }>(crdType, '').catch(() => ({ items: [] }));
    const crd = crds.items.find((c) => c.spec?.group === group && c.spec.names?.kind === kind);
    if (crd) {
      return { group, version: version || crd.spec!.versions?.[0]?.name || '', resource: crd.spec!.names!.plural ?? '', kind, namespaced: crd.spec!.scope !== 'Cluster' };
    }
    throw new Error(version ? `no matches for kind "${kind}" in version "${apiVersion}"` : `no matches for kind "${kind}" in group "${group}"`);
  }
}
