/**
 * PodSpec defaults and validation shared by Pods and every kind with a pod template (Deployments,
 * ReplicaSets, StatefulSets, DaemonSets, Jobs, CronJobs). Defaults follow pkg/apis/core/v1/defaults.go
 * (what users see in `kubectl get -o yaml`); validation is the useful core of
 * pkg/apis/core/validation with upstream field paths and messages.
 */
import type { Container, ContainerPort, PodSpec, PodTemplateSpec, Probe, Volume, EnvVar } from 'kubernetes-types/core/v1.js';
import type { LabelSelector as LabelSelectorObject } from 'kubernetes-types/meta/v1.js';
import { fieldDuplicate, fieldInvalid, fieldNotSupported, fieldRequired, StatusError, type FieldError } from '../../api/status.js';
import { labelSelectorFromObject, matches, validateLabelSelector } from '../../api/labels.js';
import { compareQuantities, formatQuantity, parseQuantity, QuantityError, type Quantity } from '../../api/quantity.js';
import { isDNS1123Label, isValidPortName, isValidPortNum, validateAnnotations, validateLabels } from '../../api/validation.js';

/** Always for `:latest` or untagged images, else IfNotPresent (SetDefaults_Container). */
export function defaultImagePullPolicy(image: string | undefined): string {
  if (!image) return 'IfNotPresent';
  if (image.includes('@')) return 'IfNotPresent';
  const lastSlash = image.lastIndexOf('/');
  const colon = image.indexOf(':', lastSlash + 1);
  const tag = colon < 0 ? '' : image.slice(colon + 1);
  return tag === '' || tag === 'latest' ? 'Always' : 'IfNotPresent';
}

function defaultProbe(p: Probe | undefined): void {
  if (!p) return;
  p.timeoutSeconds ??= 1;
  p.periodSeconds ??= 10;
  p.successThreshold ??= 1;
  p.failureThreshold ??= 3;
  if (p.httpGet) {
    p.httpGet.path ??= '/';
    p.httpGet.scheme ??= 'HTTP';
  }
}

function defaultEnv(env: EnvVar[] | undefined): void {
  for (const e of env ?? []) {
    if (e.valueFrom?.fieldRef) e.valueFrom.fieldRef.apiVersion ??= 'v1';
  }
}

function defaultContainer(c: Container, hostNetwork: boolean): void {
  c.imagePullPolicy ??= defaultImagePullPolicy(c.image);
  c.terminationMessagePath ??= '/dev/termination-log';
  c.terminationMessagePolicy ??= 'File';
  c.resources ??= {};
  // Requests default to limits when only limits are given (SetDefaults_Pod), which also decides the QoS class.
  if (c.resources.limits) {
    c.resources.requests ??= {};
    for (const [k, v] of Object.entries(c.resources.limits)) {
      if (c.resources.requests[k] === undefined) c.resources.requests[k] = v;
    }
  }
  for (const p of c.ports ?? []) {
    p.protocol ??= 'TCP';
    if (hostNetwork && p.hostPort === undefined) p.hostPort = p.containerPort;
  }
  defaultProbe(c.livenessProbe);
  defaultProbe(c.readinessProbe);
  defaultProbe(c.startupProbe);
  defaultEnv(c.env);
}

function defaultVolume(v: Volume): void {
  if (v.secret) v.secret.defaultMode ??= 420;
  if (v.configMap) v.configMap.defaultMode ??= 420;
  if (v.projected) v.projected.defaultMode ??= 420;
  if (v.downwardAPI) v.downwardAPI.defaultMode ??= 420;
  if (v.hostPath) v.hostPath.type ??= '';
}

/** Fills PodSpec defaults in place. */
export function defaultPodSpec(spec: PodSpec | undefined): void {
  if (!spec) return;
  spec.restartPolicy ??= 'Always';
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.schedulerName ??= 'default-scheduler';
  spec.terminationGracePeriodSeconds ??= 30;
  spec.securityContext ??= {};
  spec.enableServiceLinks ??= true;
  const hostNetwork = spec.hostNetwork === true;
  for (const c of spec.initContainers ?? []) defaultContainer(c, hostNetwork);
  for (const c of spec.containers ?? []) defaultContainer(c, hostNetwork);
  for (const v of spec.volumes ?? []) defaultVolume(v);
}

/** Fills defaults of a pod template (metadata is left alone). */
export function defaultPodTemplate(template: PodTemplateSpec | undefined): void {
  if (!template) return;
  template.spec ??= { containers: [] };
  defaultPodSpec(template.spec);
}

const supportedProtocols = ['SCTP', 'TCP', 'UDP'];
const supportedPullPolicies = ['Always', 'IfNotPresent', 'Never'];
const supportedRestartPolicies = ['Always', 'OnFailure', 'Never'];
const supportedDNSPolicies = ['ClusterFirstWithHostNet', 'ClusterFirst', 'Default', 'None'];
const supportedTerminationMessagePolicies = ['File', 'FallbackToLogsOnError'];

function validatePorts(ports: ContainerPort[] | undefined, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const names = new Set<string>();
  (ports ?? []).forEach((p, i) => {
    const pp = `${path}[${i}]`;
    if (p.name) {
      for (const msg of isValidPortName(p.name)) errs.push(fieldInvalid(`${pp}.name`, p.name, msg));
      if (names.has(p.name)) errs.push(fieldDuplicate(`${pp}.name`, p.name));
      names.add(p.name);
    }
    if (!p.containerPort) errs.push(fieldRequired(`${pp}.containerPort`));
    else for (const msg of isValidPortNum(p.containerPort)) errs.push(fieldInvalid(`${pp}.containerPort`, p.containerPort, msg));
    if (p.hostPort) for (const msg of isValidPortNum(p.hostPort)) errs.push(fieldInvalid(`${pp}.hostPort`, p.hostPort, msg));
    if (!p.protocol) errs.push(fieldRequired(`${pp}.protocol`));
    else if (!supportedProtocols.includes(p.protocol)) errs.push(fieldNotSupported(`${pp}.protocol`, p.protocol, supportedProtocols));
  });
  return errs;
}

/** A request or limit: a quantity, never negative (ValidateResourceQuantityValue -> ValidateNonnegativeQuantity). */
function parseResource(value: unknown, path: string, errs: FieldError[]): Quantity | undefined {
  try {
    const q = parseQuantity(String(value));
    if (q.nanos < 0n) {
      errs.push(fieldInvalid(path, formatQuantity(q), 'must be greater than or equal to 0'));
      return undefined;
    }
    return q;
  } catch (e) {
    if (!(e instanceof QuantityError)) throw e;
    errs.push(fieldInvalid(path, value, e.message));
    return undefined;
  }
}

function validateResources(c: Container, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const limits = new Map<string, Quantity>();
  for (const [k, v] of Object.entries(c.resources?.limits ?? {})) {
    const q = parseResource(v, `${path}.limits[${k}]`, errs);
    if (q) limits.set(k, q);
  }
  for (const [k, v] of Object.entries(c.resources?.requests ?? {})) {
    const q = parseResource(v, `${path}.requests[${k}]`, errs);
    const limit = limits.get(k);
    if (q && limit && compareQuantities(q, limit) > 0) {
      errs.push(fieldInvalid(`${path}.requests`, formatQuantity(q), `must be less than or equal to ${k} limit of ${formatQuantity(limit)}`));
    }
  }
  return errs;
}

function validateContainers(containers: Container[] | undefined, path: string, seen: Set<string>, volumes: Set<string>): FieldError[] {
  const errs: FieldError[] = [];
  (containers ?? []).forEach((c, i) => {
    const cp = `${path}[${i}]`;
    if (!c.name) errs.push(fieldRequired(`${cp}.name`));
    else {
      for (const msg of isDNS1123Label(c.name)) errs.push(fieldInvalid(`${cp}.name`, c.name, msg));
      if (seen.has(c.name)) errs.push(fieldDuplicate(`${cp}.name`, c.name));
      seen.add(c.name);
    }
    if (!c.image) errs.push(fieldRequired(`${cp}.image`));
    if (c.imagePullPolicy && !supportedPullPolicies.includes(c.imagePullPolicy)) {
      errs.push(fieldNotSupported(`${cp}.imagePullPolicy`, c.imagePullPolicy, supportedPullPolicies));
    }
    if (c.terminationMessagePolicy && !supportedTerminationMessagePolicies.includes(c.terminationMessagePolicy)) {
      errs.push(fieldNotSupported(`${cp}.terminationMessagePolicy`, c.terminationMessagePolicy, supportedTerminationMessagePolicies));
    }
    errs.push(...validatePorts(c.ports, `${cp}.ports`));
    errs.push(...validateResources(c, `${cp}.resources`));
    (c.volumeMounts ?? []).forEach((m, j) => {
      const mp = `${cp}.volumeMounts[${j}]`;
      if (!m.name) errs.push(fieldRequired(`${mp}.name`));
      else if (!volumes.has(m.name)) errs.push({ type: 'FieldValueInvalid', field: `${mp}.name`, detail: `Not found: ${JSON.stringify(m.name)}` });
      if (!m.mountPath) errs.push(fieldRequired(`${mp}.mountPath`));
    });
  });
  return errs;
}

export interface PodSpecRules {
  /** Restart policies this owner accepts (Deployments only Always, Jobs OnFailure/Never). */
  restartPolicies?: string[];
  /**
   * Volume names provided outside the pod spec that containers may mount: a StatefulSet's volumeClaimTemplates,
   * which its controller turns into pod volumes (upstream's StatefulSet validation lets mounts name them).
   */
  extraVolumes?: Iterable<string>;
}

/** Validates a PodSpec at `path` (e.g. `spec` or `spec.template.spec`). */
export function validatePodSpec(spec: PodSpec | undefined, path: string, rules: PodSpecRules = {}): FieldError[] {
  const errs: FieldError[] = [];
  if (!spec) return [fieldRequired(path)];
  const volumes = new Set<string>();
  (spec.volumes ?? []).forEach((v, i) => {
    const vp = `${path}.volumes[${i}]`;
    if (!v.name) errs.push(fieldRequired(`${vp}.name`));
    else {
      for (const msg of isDNS1123Label(v.name)) errs.push(fieldInvalid(`${vp}.name`, v.name, msg));
      if (volumes.has(v.name)) errs.push(fieldDuplicate(`${vp}.name`, v.name));
      volumes.add(v.name);
    }
  });
  for (const name of rules.extraVolumes ?? []) volumes.add(name);
  if (!spec.containers || spec.containers.length === 0) errs.push(fieldRequired(`${path}.containers`));
  const names = new Set<string>();
  errs.push(...validateContainers(spec.initContainers, `${path}.initContainers`, names, volumes));
  errs.push(...validateContainers(spec.containers, `${path}.containers`, names, volumes));
  const allowed = rules.restartPolicies ?? supportedRestartPolicies;
  if (!spec.restartPolicy) errs.push(fieldRequired(`${path}.restartPolicy`));
  else if (!allowed.includes(spec.restartPolicy)) errs.push(fieldNotSupported(`${path}.restartPolicy`, spec.restartPolicy, allowed));
  if (spec.dnsPolicy && !supportedDNSPolicies.includes(spec.dnsPolicy)) errs.push(fieldNotSupported(`${path}.dnsPolicy`, spec.dnsPolicy, supportedDNSPolicies));
  if (spec.terminationGracePeriodSeconds !== undefined && spec.terminationGracePeriodSeconds < 0) {
    errs.push(fieldInvalid(`${path}.terminationGracePeriodSeconds`, spec.terminationGracePeriodSeconds, 'must be greater than or equal to 0'));
  }
  if (spec.activeDeadlineSeconds !== undefined && spec.activeDeadlineSeconds <= 0) {
    errs.push(fieldInvalid(`${path}.activeDeadlineSeconds`, spec.activeDeadlineSeconds, 'must be between 1 and 2147483647, inclusive'));
  }
  errs.push(...validateLabels(spec.nodeSelector, `${path}.nodeSelector`));
  return errs;
}

/** Validates a pod template at `path` (e.g. `spec.template`): its labels and annotations and its spec. */
export function validatePodTemplate(template: PodTemplateSpec | undefined, path: string, rules: PodSpecRules = {}): FieldError[] {
  if (!template) return [fieldRequired(path)];
  return [
    ...validateLabels(template.metadata?.labels, `${path}.metadata.labels`),
    ...validateAnnotations(template.metadata?.annotations, `${path}.metadata.annotations`),
    ...validatePodSpec(template.spec, `${path}.spec`, rules),
  ];
}

/** The pod's QoS class from cpu and memory requests and limits (pkg/apis/core/helper/qos.GetPodQOS). */
export function computeQosClass(spec: PodSpec | undefined): 'Guaranteed' | 'Burstable' | 'BestEffort' {
  const requests = new Map<string, bigint>();
  const limits = new Map<string, bigint>();
  let guaranteed = true;
  for (const c of [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])]) {
    for (const [k, v] of Object.entries(c.resources?.requests ?? {})) {
      if (k !== 'cpu' && k !== 'memory') continue;
      const q = parseQuantityOrZero(v);
      if (q > 0n) requests.set(k, (requests.get(k) ?? 0n) + q);
    }
    const found = new Set<string>();
    for (const [k, v] of Object.entries(c.resources?.limits ?? {})) {
      if (k !== 'cpu' && k !== 'memory') continue;
      const q = parseQuantityOrZero(v);
      if (q !== 0n) {
        found.add(k);
        limits.set(k, (limits.get(k) ?? 0n) + q);
      }
    }
    if (!found.has('cpu') || !found.has('memory')) guaranteed = false;
  }
  if (requests.size === 0 && limits.size === 0) return 'BestEffort';
  if (guaranteed) {
    for (const [k, v] of requests) if (limits.get(k) !== v) guaranteed = false;
  }
  return guaranteed && requests.size === limits.size ? 'Guaranteed' : 'Burstable';
}

function parseQuantityOrZero(v: unknown): bigint {
  try {
    return parseQuantity(String(v)).nanos;
  } catch (e) {
    // Validation reports malformed quantities; QoS only needs a best effort value.
    if (e instanceof QuantityError) return 0n;
    throw e;
  }
}

/**
 * The selector rules of controllers with a pod template (ValidateDeploymentSpec and friends): a
 * selector is required, must not be empty, and must match the template's labels, or the controller
 * would create pods it cannot see.
 */
export function validateTemplateSelector(
  selector: LabelSelectorObject | undefined,
  template: PodTemplateSpec | undefined,
  kindWord: string,
  path = 'spec',
): FieldError[] {
  if (!selector) return [fieldRequired(`${path}.selector`)];
  const errs = validateLabelSelector(selector, `${path}.selector`);
  if (Object.keys(selector.matchLabels ?? {}).length + (selector.matchExpressions?.length ?? 0) === 0) {
    errs.push(fieldInvalid(`${path}.selector`, selector, `empty selector is invalid for ${kindWord}`));
    return errs;
  }
  if (errs.length > 0 || !template) return errs;
  let matched: boolean;
  try {
    matched = matches(labelSelectorFromObject(selector), template.metadata?.labels);
  } catch (e) {
    if (!(e instanceof StatusError)) throw e;
    errs.push(fieldInvalid(`${path}.selector`, selector, e.message));
    return errs;
  }
  if (!matched) errs.push(fieldInvalid(`${path}.template.metadata.labels`, template.metadata?.labels ?? {}, '`selector` does not match template `labels`'));
  return errs;
}

/** `<path>: Invalid value: -1: must be greater than or equal to 0` for negative counts. */
export function validateNonNegative(value: number | undefined, path: string): FieldError[] {
  return value !== undefined && value < 0 ? [fieldInvalid(path, value, 'must be greater than or equal to 0')] : [];
}
