/**
 * HorizontalPodAutoscalers, served in autoscaling/v2 (preferred) and autoscaling/v1: one resource,
 * two definitions. The conversions between the versions are exported for the API server.
 */
import type { HorizontalPodAutoscaler as HpaV1 } from 'kubernetes-types/autoscaling/v1.js';
import type { HorizontalPodAutoscalerBehavior, HorizontalPodAutoscaler as HpaV2, HorizontalPodAutoscalerSpec as HpaV2Spec, MetricSpec, MetricStatus, MetricTarget } from 'kubernetes-types/autoscaling/v2.js';
import type { KubeObject } from '../../api/object.js';
import { canonicalQuantity } from '../../api/quantity.js';
import { fieldForbidden, fieldInvalid, fieldNotSupported, fieldRequired, type FieldError } from '../../api/status.js';
import { nameIsDNSSubdomain } from '../../api/validation.js';
import { defineResource, specOf } from './define-resource.js';
import { age, as, column, nameColumn, ageColumn } from './table-columns.js';
import type { TablePrinter } from './types.js';

function qty(v: unknown): string {
  return v === undefined || v === null ? '<unknown>' : (canonicalQuantity(String(v)) ?? String(v));
}

/** The TARGETS cell (formatHPAMetrics): `cpu: 40%/80%`, at most two metrics then `+ N more...`. */
export function formatHpaMetrics(specs: MetricSpec[] | undefined, statuses: MetricStatus[] | undefined): string {
  if (!specs || specs.length === 0) return '<none>';
  const list: string[] = [];
  specs.forEach((spec, i) => {
    const st = statuses?.[i];
    switch (spec.type) {
      case 'External': {
        const t = spec.external?.target;
        if (t?.averageValue !== undefined) list.push(`${st?.external?.current?.averageValue !== undefined ? qty(st.external.current.averageValue) : '<unknown>'}/${qty(t.averageValue)} (avg)`);
        else list.push(`${st?.external ? qty(st.external.current?.value) : '<unknown>'}/${qty(t?.value)}`);
        break;
      }
      case 'Pods':
        list.push(`${st?.pods ? qty(st.pods.current?.averageValue) : '<unknown>'}/${qty(spec.pods?.target?.averageValue)}`);
        break;
      case 'Object': {
        const t = spec.object?.target;
        if (t?.averageValue !== undefined) list.push(`${st?.object?.current?.averageValue !== undefined ? qty(st.object.current.averageValue) : '<unknown>'}/${qty(t.averageValue)} (avg)`);
        else list.push(`${st?.object ? qty(st.object.current?.value) : '<unknown>'}/${qty(t?.value)}`);
        break;
      }
      case 'Resource':
      case 'ContainerResource': {
        const src = spec.type === 'Resource' ? spec.resource : spec.containerResource;
        const cur = spec.type === 'Resource' ? st?.resource : st?.containerResource;
        const t = src?.target;
        if (t?.averageValue !== undefined) {
          list.push(`${src?.name}: ${cur ? qty(cur.current?.averageValue) : '<unknown>'}/${qty(t.averageValue)}`);
        } else {
          const current = cur?.current?.averageUtilization !== undefined ? `${cur.current.averageUtilization}%` : '<unknown>';
          const target = t?.averageUtilization !== undefined ? `${t.averageUtilization}%` : '<auto>';
          list.push(`${src?.name}: ${current}/${target}`);
        }
        break;
      }
      default:
        list.push('<unknown type>');
    }
  });
  if (list.length > 2) return `${list.slice(0, 2).join(', ')} + ${list.length - 2} more...`;
  return list.join(', ');
}

// What v1 cannot express rides in annotations, as upstream's conversion keeps it (pkg/apis/autoscaling annotations).
const BEHAVIOR_ANNOTATION = 'autoscaling.alpha.kubernetes.io/behavior';
const CONDITIONS_ANNOTATION = 'autoscaling.alpha.kubernetes.io/conditions';

const METRICS_ANNOTATION = 'autoscaling.alpha.kubernetes.io/metrics';
const CURRENT_METRICS_ANNOTATION = 'autoscaling.alpha.kubernetes.io/current-metrics';

/** A v2 metric in autoscaling/v1's annotation form (targetAverageValue, metricName, ...), as upstream's v1 MetricSpec. */
function metricSpecToV1(m: MetricSpec): Record<string, unknown> {
  const t = (x: { target?: MetricTarget } | undefined) => x?.target ?? ({} as MetricTarget);
  switch (m.type) {
    case 'Resource':
      return { type: m.type, resource: { name: m.resource?.name, targetAverageUtilization: t(m.resource).averageUtilization, targetAverageValue: t(m.resource).averageValue } };
    case 'ContainerResource':
      return { type: m.type, containerResource: { name: m.containerResource?.name, container: m.containerResource?.container, targetAverageUtilization: t(m.containerResource).averageUtilization, targetAverageValue: t(m.containerResource).averageValue } };
    case 'Pods':
      return { type: m.type, pods: { metricName: m.pods?.metric?.name, selector: m.pods?.metric?.selector, targetAverageValue: t(m.pods).averageValue } };
    case 'Object':
      return { type: m.type, object: { target: m.object?.describedObject, metricName: m.object?.metric?.name, selector: m.object?.metric?.selector, targetValue: t(m.object).value, averageValue: t(m.object).averageValue } };
    case 'External':
      return { type: m.type, external: { metricName: m.external?.metric?.name, metricSelector: m.external?.metric?.selector, targetValue: t(m.external).value, targetAverageValue: t(m.external).averageValue } };
    default:
      return { type: m.type };
  }
}

/** The reverse of metricSpecToV1. */
function metricSpecFromV1(m: any): MetricSpec {
  const util = (u: unknown, v: unknown): MetricTarget => (u !== undefined ? { type: 'Utilization', averageUtilization: u as number } : { type: 'AverageValue', averageValue: v as string });
  const val = (avg: unknown, v: unknown): MetricTarget => (avg !== undefined ? { type: 'AverageValue', averageValue: avg as string } : { type: 'Value', value: v as string });
  switch (m?.type) {
    case 'Resource':
      return { type: 'Resource', resource: { name: m.resource?.name, target: util(m.resource?.targetAverageUtilization, m.resource?.targetAverageValue) } };
    case 'ContainerResource':
      return { type: 'ContainerResource', containerResource: { name: m.containerResource?.name, container: m.containerResource?.container, target: util(m.containerResource?.targetAverageUtilization, m.containerResource?.targetAverageValue) } };
    case 'Pods':
      return { type: 'Pods', pods: { metric: { name: m.pods?.metricName, selector: m.pods?.selector }, target: { type: 'AverageValue', averageValue: m.pods?.targetAverageValue } } };
    case 'Object':
      return { type: 'Object', object: { describedObject: m.object?.target, metric: { name: m.object?.metricName, selector: m.object?.selector }, target: val(m.object?.averageValue, m.object?.targetValue) } };
    case 'External':
      return { type: 'External', external: { metric: { name: m.external?.metricName, selector: m.external?.metricSelector }, target: val(m.external?.targetAverageValue, m.external?.targetValue) } };
    default:
      return { type: m?.type ?? '' };
  }
}

/** A v2 metric status in autoscaling/v1's annotation form (currentAverageValue, ...). */
function metricStatusToV1(m: MetricStatus): Record<string, unknown> {
  switch (m.type) {
    case 'Resource':
      return { type: m.type, resource: { name: m.resource?.name, currentAverageUtilization: m.resource?.current?.averageUtilization, currentAverageValue: m.resource?.current?.averageValue } };
    case 'ContainerResource':
      return { type: m.type, containerResource: { name: m.containerResource?.name, container: m.containerResource?.container, currentAverageUtilization: m.containerResource?.current?.averageUtilization, currentAverageValue: m.containerResource?.current?.averageValue } };
    case 'Pods':
      return { type: m.type, pods: { metricName: m.pods?.metric?.name, selector: m.pods?.metric?.selector, currentAverageValue: m.pods?.current?.averageValue } };
    case 'Object':
      return { type: m.type, object: { target: m.object?.describedObject, metricName: m.object?.metric?.name, selector: m.object?.metric?.selector, currentValue: m.object?.current?.value, averageValue: m.object?.current?.averageValue } };
    case 'External':
      return { type: m.type, external: { metricName: m.external?.metric?.name, metricSelector: m.external?.metric?.selector, currentValue: m.external?.current?.value, currentAverageValue: m.external?.current?.averageValue } };
    default:
      return { type: m.type };
  }
}

/** The reverse of metricStatusToV1. */
function metricStatusFromV1(m: any): MetricStatus {
  switch (m?.type) {
    case 'Resource':
      return { type: 'Resource', resource: { name: m.resource?.name, current: { averageUtilization: m.resource?.currentAverageUtilization, averageValue: m.resource?.currentAverageValue } } };
    case 'ContainerResource':
      return { type: 'ContainerResource', containerResource: { name: m.containerResource?.name, container: m.containerResource?.container, current: { averageUtilization: m.containerResource?.currentAverageUtilization, averageValue: m.containerResource?.currentAverageValue } } };
    case 'Pods':
      return { type: 'Pods', pods: { metric: { name: m.pods?.metricName, selector: m.pods?.selector }, current: { averageValue: m.pods?.currentAverageValue } } };
    case 'Object':
      return { type: 'Object', object: { describedObject: m.object?.target, metric: { name: m.object?.metricName, selector: m.object?.selector }, current: { value: m.object?.currentValue, averageValue: m.object?.averageValue } } };
    case 'External':
      return { type: 'External', external: { metric: { name: m.external?.metricName, selector: m.external?.metricSelector }, current: { value: m.external?.currentValue, averageValue: m.external?.currentAverageValue } } };
    default:
      return { type: m?.type ?? '' };
  }
}

/** Takes an annotation's JSON out of the metadata (undefined when absent or not JSON). */
function takeAnnotation(meta: { annotations?: Record<string, string> } | undefined, key: string): unknown {
  const raw = meta?.annotations?.[key];
  if (raw === undefined) return undefined;
  delete meta!.annotations![key];
  if (Object.keys(meta!.annotations!).length === 0) delete meta!.annotations;
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}

/** autoscaling/v1 → v2: the CPU utilization target becomes a Resource metric; behavior and conditions come back from their annotations. */
export function hpaV1ToV2(obj: KubeObject): KubeObject {
  const v1 = structuredClone(as<HpaV1>(obj));
  const behavior = takeAnnotation(v1.metadata, BEHAVIOR_ANNOTATION) as HpaV2Spec['behavior'];
  const conditions = takeAnnotation(v1.metadata, CONDITIONS_ANNOTATION) as NonNullable<HpaV2['status']>['conditions'];
  const otherMetrics = takeAnnotation(v1.metadata, METRICS_ANNOTATION);
  const annotatedCurrent = takeAnnotation(v1.metadata, CURRENT_METRICS_ANNOTATION);
  const spec = v1.spec;
  // Upstream's order: the annotated metrics first, then the CPU target.
  const metrics: MetricSpec[] = Array.isArray(otherMetrics) ? otherMetrics.map(metricSpecFromV1) : [];
  if (spec?.targetCPUUtilizationPercentage !== undefined) {
    metrics.push({ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: spec.targetCPUUtilizationPercentage } } });
  }
  let currentMetrics: MetricStatus[] = [];
  if (Array.isArray(annotatedCurrent)) currentMetrics = annotatedCurrent.map(metricStatusFromV1);
  else if (v1.status?.currentCPUUtilizationPercentage !== undefined) {
    currentMetrics.push({ type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: v1.status.currentCPUUtilizationPercentage } } });
  }
  const v2: HpaV2 = {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: v1.metadata,
    spec: { scaleTargetRef: spec?.scaleTargetRef ?? { kind: '', name: '' }, minReplicas: spec?.minReplicas, maxReplicas: spec?.maxReplicas ?? 0, ...(metrics.length ? { metrics } : {}), ...(behavior ? { behavior } : {}) },
    status: v1.status
      ? {
          currentReplicas: v1.status.currentReplicas,
          desiredReplicas: v1.status.desiredReplicas,
          lastScaleTime: v1.status.lastScaleTime,
          observedGeneration: v1.status.observedGeneration,
          ...(currentMetrics.length ? { currentMetrics } : {}),
          ...(Array.isArray(conditions) ? { conditions } : {}),
        }
      : undefined,
  };
  return withoutUndefined(v2);
}

/** autoscaling/v2 → v1: only a CPU utilization target survives. */
export function hpaV2ToV1(obj: KubeObject): KubeObject {
  const v2 = structuredClone(as<HpaV2>(obj));
  const cpu = v2.spec?.metrics?.find((m) => m.type === 'Resource' && m.resource?.name === 'cpu' && m.resource.target?.type === 'Utilization');
  const cpuNow = v2.status?.currentMetrics?.find((m) => m.type === 'Resource' && m.resource?.name === 'cpu');
  const extra: Record<string, string> = {};
  const others = (v2.spec?.metrics ?? []).filter((m) => m !== cpu);
  if (others.length) extra[METRICS_ANNOTATION] = JSON.stringify(others.map(metricSpecToV1));
  if (v2.status?.currentMetrics?.length) extra[CURRENT_METRICS_ANNOTATION] = JSON.stringify(v2.status.currentMetrics.map(metricStatusToV1));
  if (v2.spec?.behavior) extra[BEHAVIOR_ANNOTATION] = JSON.stringify(v2.spec.behavior);
  if (v2.status?.conditions?.length) extra[CONDITIONS_ANNOTATION] = JSON.stringify(v2.status.conditions);
  if (Object.keys(extra).length) v2.metadata = { ...v2.metadata, annotations: { ...v2.metadata?.annotations, ...extra } };
  const v1: HpaV1 = {
    apiVersion: 'autoscaling/v1',
    kind: 'HorizontalPodAutoscaler',
    metadata: v2.metadata,
    spec: {
      scaleTargetRef: v2.spec?.scaleTargetRef ?? { kind: '', name: '' },
      minReplicas: v2.spec?.minReplicas,
      maxReplicas: v2.spec?.maxReplicas ?? 0,
      ...(cpu?.resource?.target?.averageUtilization !== undefined ? { targetCPUUtilizationPercentage: cpu.resource.target.averageUtilization } : {}),
    },
  };
  if (v2.status) {
    v1.status = {
      currentReplicas: v2.status.currentReplicas ?? 0,
      desiredReplicas: v2.status.desiredReplicas ?? 0,
      lastScaleTime: v2.status.lastScaleTime,
      observedGeneration: v2.status.observedGeneration,
      ...(cpuNow?.resource?.current?.averageUtilization !== undefined ? { currentCPUUtilizationPercentage: cpuNow.resource.current.averageUtilization } : {}),
    };
  }
  return withoutUndefined(v1);
}

/** Drops members left undefined by the conversions, as the JSON wire form would. */
function withoutUndefined(obj: unknown): KubeObject {
  return JSON.parse(JSON.stringify(obj)) as KubeObject;
}

function validateCommon(spec: { scaleTargetRef?: { kind?: string; name?: string }; minReplicas?: number; maxReplicas?: number } | undefined): FieldError[] {
  const s = spec ?? {};
  const errs: FieldError[] = [];
  if (!s.scaleTargetRef?.kind) errs.push(fieldRequired('spec.scaleTargetRef.kind'));
  if (!s.scaleTargetRef?.name) errs.push(fieldRequired('spec.scaleTargetRef.name'));
  if (s.minReplicas !== undefined && s.minReplicas < 1) errs.push(fieldInvalid('spec.minReplicas', s.minReplicas, 'must be greater than or equal to 1'));
  if ((s.maxReplicas ?? 0) < 1) errs.push(fieldInvalid('spec.maxReplicas', s.maxReplicas ?? 0, 'must be greater than or equal to 1'));
  else if (s.minReplicas !== undefined && s.maxReplicas! < s.minReplicas) errs.push(fieldInvalid('spec.maxReplicas', s.maxReplicas, 'must be greater than or equal to `minReplicas`'));
  return errs;
}

// autoscaling validation (pkg/apis/autoscaling/validation): metric sources, targets and behavior, upstream's messages.
const SOURCE_FIELDS: Record<string, keyof MetricSpec> = { Object: 'object', Pods: 'pods', Resource: 'resource', ContainerResource: 'containerResource', External: 'external' };

function positive(v: unknown): boolean {
  const q = canonicalQuantity(String(v));
  return q !== undefined && !q.startsWith('-') && !/^0[a-zA-Z]*$/.test(q);
}

function validateMetricTarget(t: MetricTarget | undefined, path: string): FieldError[] {
  const errs: FieldError[] = [];
  if (!t?.type) errs.push(fieldRequired(`${path}.type`, 'must specify a metric target type'));
  if (!['Utilization', 'Value', 'AverageValue'].includes(t?.type ?? '')) errs.push(fieldInvalid(`${path}.type`, t?.type ?? '', 'must be either Utilization, Value, or AverageValue'));
  if (t?.value !== undefined && !positive(t.value)) errs.push(fieldInvalid(`${path}.value`, t.value, 'must be positive'));
  if (t?.averageValue !== undefined && !positive(t.averageValue)) errs.push(fieldInvalid(`${path}.averageValue`, t.averageValue, 'must be positive'));
  if (t?.averageUtilization !== undefined && t.averageUtilization < 1) errs.push(fieldInvalid(`${path}.averageUtilization`, t.averageUtilization, 'must be greater than 0'));
  return errs;
}

function validateMetricName(name: string | undefined, path: string): FieldError[] {
  return name ? [] : [fieldRequired(`${path}.name`, 'must specify a metric name')];
}

function validateUtilizationSource(src: { name?: string; target?: MetricTarget }, path: string): FieldError[] {
  const errs: FieldError[] = [];
  if (!src.name) errs.push(fieldRequired(`${path}.name`, 'must specify a resource name'));
  errs.push(...validateMetricTarget(src.target, `${path}.target`));
  if (src.target?.averageUtilization === undefined && src.target?.averageValue === undefined) {
    errs.push(fieldRequired(`${path}.target.averageUtilization`, 'must set either a target raw value or a target utilization'));
  }
  if (src.target?.averageUtilization !== undefined && src.target?.averageValue !== undefined) {
    errs.push(fieldForbidden(`${path}.target.averageValue`, 'may not set both a target raw value and a target utilization'));
  }
  return errs;
}

function validateMetricSpec(m: MetricSpec, path: string): FieldError[] {
  const errs: FieldError[] = [];
  if (!m.type) errs.push(fieldRequired(`${path}.type`, 'must specify a metric source type'));
  const expected = SOURCE_FIELDS[m.type];
  if (!expected) errs.push(fieldNotSupported(`${path}.type`, m.type, ['ContainerResource', 'External', 'Object', 'Pods', 'Resource']));
  const present = (Object.values(SOURCE_FIELDS) as (keyof MetricSpec)[]).filter((f) => m[f] != null);
  if (expected && m[expected] == null) errs.push(fieldRequired(`${path}.${expected}`, 'must populate information for the given metric source'));
  for (const f of present) if (f !== expected) errs.push(fieldForbidden(`${path}.${f}`, 'must populate the given metric source only'));
  if (expected && m[expected] != null) {
    const p = `${path}.${expected}`;
    if (m.type === 'Resource') errs.push(...validateUtilizationSource(m.resource!, p));
    if (m.type === 'ContainerResource') {
      errs.push(...validateUtilizationSource(m.containerResource!, p));
      if (!m.containerResource!.container) errs.push(fieldRequired(`${p}.container`, 'must specify a container'));
    }
    if (m.type === 'Pods') {
      errs.push(...validateMetricName(m.pods!.metric?.name, `${p}.metric`), ...validateMetricTarget(m.pods!.target, `${p}.target`));
      if (m.pods!.target?.averageValue === undefined) errs.push(fieldRequired(`${p}.target.averageValue`, 'must specify a positive target averageValue'));
    }
    if (m.type === 'Object') {
      const o = m.object!;
      if (!o.describedObject?.kind) errs.push(fieldRequired(`${p}.describedObject.kind`));
      if (!o.describedObject?.name) errs.push(fieldRequired(`${p}.describedObject.name`));
      errs.push(...validateMetricName(o.metric?.name, `${p}.metric`), ...validateMetricTarget(o.target, `${p}.target`));
      if (o.target?.value === undefined && o.target?.averageValue === undefined) errs.push(fieldRequired(`${p}.target.averageValue`, 'must set either a target value or averageValue'));
    }
    if (m.type === 'External') {
      const e = m.external!;
      errs.push(...validateMetricName(e.metric?.name, `${p}.metric`), ...validateMetricTarget(e.target, `${p}.target`));
      if (e.target?.value === undefined && e.target?.averageValue === undefined) errs.push(fieldRequired(`${p}.target.averageValue`, 'must set either a target value for metric or a per-pod target'));
      if (e.target?.value !== undefined && e.target?.averageValue !== undefined) errs.push(fieldForbidden(`${p}.target.value`, 'may not set both a target value for metric and a per-pod target'));
    }
  }
  return errs;
}

function validateBehavior(b: HorizontalPodAutoscalerBehavior | undefined, path: string): FieldError[] {
  const errs: FieldError[] = [];
  for (const [dir, rules] of [['scaleUp', b?.scaleUp], ['scaleDown', b?.scaleDown]] as const) {
    if (!rules) continue;
    const p = `${path}.${dir}`;
    const w = rules.stabilizationWindowSeconds;
    if (w !== undefined && w < 0) errs.push(fieldInvalid(`${p}.stabilizationWindowSeconds`, w, 'must be greater than or equal to zero'));
    if (w !== undefined && w > 3600) errs.push(fieldInvalid(`${p}.stabilizationWindowSeconds`, w, 'must be less than or equal to 3600'));
    if (rules.selectPolicy !== undefined && !['Disabled', 'Max', 'Min'].includes(rules.selectPolicy)) errs.push(fieldNotSupported(`${p}.selectPolicy`, rules.selectPolicy, ['Disabled', 'Max', 'Min']));
    if (!rules.policies || rules.policies.length === 0) errs.push(fieldRequired(`${p}.policies`, 'must specify at least one Policy'));
    (rules.policies ?? []).forEach((pol, i) => {
      const pp = `${p}.policies[${i}]`;
      if (pol.type !== 'Pods' && pol.type !== 'Percent') errs.push(fieldNotSupported(`${pp}.type`, pol.type, ['Percent', 'Pods']));
      if (!(pol.value > 0)) errs.push(fieldInvalid(`${pp}.value`, pol.value, 'must be greater than zero'));
      if (!(pol.periodSeconds > 0)) errs.push(fieldInvalid(`${pp}.periodSeconds`, pol.periodSeconds, 'must be greater than zero'));
      if (pol.periodSeconds > 1800) errs.push(fieldInvalid(`${pp}.periodSeconds`, pol.periodSeconds, 'must be less than or equal to 1800'));
    });
  }
  return errs;
}

const hpaColumns = [
  nameColumn,
  column('Reference', 'scaleTargetRef points to the target resource to scale, and is used to the pods for which metrics should be collected, as well as to actually change the replica count.'),
  column('Targets', 'metrics contains the specifications for which to use to calculate the desired replica count.'),
  column('MinPods', 'minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down.'),
  column('MaxPods', 'maxReplicas is the upper limit for the number of replicas to which the autoscaler can scale up.'),
  column('Replicas', 'currentReplicas is current number of replicas of pods managed by this autoscaler, as last seen by the autoscaler.'),
  ageColumn,
];

function hpaRow(hpa: HpaV2, obj: KubeObject, now: Date): unknown[] {
  const ref = hpa.spec?.scaleTargetRef;
  return [
    obj.metadata.name ?? '',
    `${ref?.kind ?? ''}/${ref?.name ?? ''}`,
    formatHpaMetrics(hpa.spec?.metrics, hpa.status?.currentMetrics),
    hpa.spec?.minReplicas !== undefined ? String(hpa.spec.minReplicas) : '<unset>',
    hpa.spec?.maxReplicas ?? 0,
    hpa.status?.currentReplicas ?? 0,
    age(obj, now),
  ];
}

const v2Printer: TablePrinter = { columns: hpaColumns, row: (obj, now) => hpaRow(as<HpaV2>(obj), obj, now) };
const v1Printer: TablePrinter = { columns: hpaColumns, row: (obj, now) => hpaRow(as<HpaV2>(hpaV1ToV2(obj)), obj, now) };

const common = {
  group: 'autoscaling',
  kind: 'HorizontalPodAutoscaler',
  plural: 'horizontalpodautoscalers',
  singular: 'horizontalpodautoscaler',
  namespaced: true,
  shortNames: ['hpa'],
  categories: ['all'],
  hasStatus: true,
  tracksGeneration: true,
  nameValidator: nameIsDNSSubdomain,
} as const;

export const horizontalpodautoscalersV2 = defineResource({
  ...common,
  shortNames: [...common.shortNames],
  categories: [...common.categories],
  version: 'v2',
  schemaName: 'io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler',
  defaults(obj) {
    const spec = specOf<NonNullable<HpaV2['spec']>>(obj);
    spec.minReplicas ??= 1;
    // SetDefaults_HorizontalPodAutoscaler: no metrics means "80% average CPU".
    if (!spec.metrics || spec.metrics.length === 0) {
      spec.metrics = [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } } }];
    }
    // SetDefaults_HorizontalPodAutoscalerBehavior: a behavior that is set gets its missing rules filled in; the
    // scale-down window stays unset (the controller's --horizontal-pod-autoscaler-downscale-stabilization applies).
    if (spec.behavior) {
      const up = (spec.behavior.scaleUp ??= {});
      up.stabilizationWindowSeconds ??= 0;
      up.selectPolicy ??= 'Max';
      up.policies ??= [
        { type: 'Pods', value: 4, periodSeconds: 15 },
        { type: 'Percent', value: 100, periodSeconds: 15 },
      ];
      const down = (spec.behavior.scaleDown ??= {});
      down.selectPolicy ??= 'Max';
      down.policies ??= [{ type: 'Percent', value: 100, periodSeconds: 15 }];
    }
  },
  validateSpec(obj) {
    const errs = validateCommon(obj.spec as HpaV2['spec']);
    ((obj.spec as HpaV2['spec'])?.metrics ?? []).forEach((m, i) => errs.push(...validateMetricSpec(m, `spec.metrics[${i}]`)));
    errs.push(...validateBehavior((obj.spec as HpaV2['spec'])?.behavior, 'spec.behavior'));
    return errs;
  },
  printer: v2Printer,
});

export const horizontalpodautoscalersV1 = defineResource({
  ...common,
  shortNames: [...common.shortNames],
  categories: [...common.categories],
  version: 'v1',
  schemaName: 'io.k8s.api.autoscaling.v1.HorizontalPodAutoscaler',
  defaults(obj) {
    specOf<NonNullable<HpaV1['spec']>>(obj).minReplicas ??= 1;
  },
  validateSpec(obj) {
    const spec = obj.spec as HpaV1['spec'];
    const errs = validateCommon(spec);
    if (spec?.targetCPUUtilizationPercentage !== undefined && spec.targetCPUUtilizationPercentage < 1) {
      errs.push(fieldInvalid('spec.targetCPUUtilizationPercentage', spec.targetCPUUtilizationPercentage, 'must be greater than or equal to 1'));
    }
    return errs;
  },
  printer: v1Printer,
});

// One stored HorizontalPodAutoscaler, in the v2 form (the storage version upstream); v1 is a converted view.
horizontalpodautoscalersV1.storedAs = { group: 'autoscaling', version: 'v2', plural: 'horizontalpodautoscalers', toStorage: hpaV1ToV2, fromStorage: hpaV2ToV1 };
