/**
 * Simulated pod lifecycles as data (the kwok Stage idea): a stage says which pods it applies to (selector), how long
 * to wait (delay) and what the pod becomes (next). Stages are plain JSON-compatible objects so they can be read from
 * a file; `compileStages` validates them once and turns them into matchers, so a bad definition fails at start with
 * a message naming the stage and the field, never later while pods are running.
 */
import type { Pod } from 'kubernetes-types/core/v1.js';
import { parseGoDuration } from './go-duration.js';

export type SelectorOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';

/** One test on the pod, e.g. { key: '.status.phase', operator: 'In', values: ['Pending'] }. */
export interface SelectorExpression {
  /**
   * A path into the pod: `.field` steps, `["key"]` for keys with dots or slashes (annotations, labels), `[*]` for
   * every element of a list. It yields every value it reaches (numbers and booleans as strings); a missing field or
   * null yields nothing.
   */
  key: string;
  /** In: some value is in `values`. NotIn: no value is. Exists: the path yields a value. DoesNotExist: it yields none. */
  operator: SelectorOperator;
  /** Required (non-empty) for In and NotIn, forbidden otherwise. */
  values?: string[];
}

export interface StageSelector {
  /** All must hold. */
  matchExpressions?: SelectorExpression[];
  /** When present, at least one group must hold as a whole (how "owned by a Job, or annotated" is written). */
  anyOf?: SelectorExpression[][];
}

export interface StageDelay {
  /** Milliseconds to wait after the stage starts to match (0 = at once). */
  ms: number;
  /** A uniformly random extra wait in [0, jitterMs]. */
  jitterMs?: number;
  /**
   * An annotation holding a Go duration ('30s', '1m30s', '500ms') that replaces `ms` for the pods that carry it. A
   * value that does not parse is reported once per pod and `ms` is used.
   */
  fromAnnotation?: string;
}

/** A pod condition the stage sets, upserted by type. */
export interface ConditionTemplate {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
}

/**
 * What the pod becomes. Template strings may hold `${variable}`; a string that is exactly one `${variable}` takes the
 * variable's own type (so `exitCode: '${exitCode}'` is a number). Pod-level variables: now, startTime, podIP, hostIP,
 * nodeName, exitCode. Per-container templates also have containerID, containerName, image, startedAt, restartCount.
 */
export interface StageNext {
  /** Merged over pod.status, one top-level field at a time (phase, podIP, startTime, ...). */
  status?: Record<string, unknown>;
  /** Upserted into status.conditions by type; lastTransitionTime moves only when the status changes, as the kubelet does. */
  conditions?: ConditionTemplate[];
  /** Applied to one status per spec.containers entry; name, image, imageID, containerID and lastState are filled in. */
  containerStatus?: Record<string, unknown>;
  /** The same for spec.initContainers (ignored for pods without init containers). */
  initContainerStatus?: Record<string, unknown>;
  /** Deletes the pod with gracePeriodSeconds 0 (the kubelet's final delete). Cannot be combined with the fields above. */
  delete?: boolean;
}

export interface Stage {
  /** Unique within a stage list, e.g. 'pod-ready'; used in logs and errors. */
  name: string;
  selector: StageSelector;
  delay?: StageDelay;
  next: StageNext;
}

/** A validated stage with its selector turned into a predicate. */
export interface CompiledStage {
  readonly stage: Stage;
  readonly name: string;
  matches(pod: Pod): boolean;
  /** True when `next` mentions ${podIP}: the engine allocates an address before rendering. */
  readonly usesPodIP: boolean;
}

export const POD_VARIABLES = ['now', 'startTime', 'podIP', 'hostIP', 'nodeName', 'exitCode'] as const;
export const CONTAINER_VARIABLES = [...POD_VARIABLES, 'containerID', 'containerName', 'image', 'startedAt', 'restartCount'] as const;

const OPERATORS: SelectorOperator[] = ['In', 'NotIn', 'Exists', 'DoesNotExist'];
const CONDITION_STATUSES = ['True', 'False', 'Unknown'];
const PLACEHOLDER = /\$\{([^}]*)\}/g;

/** A problem in a stage list; the message starts with the stage and field at fault. */
export class StageValidationError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid simulated pod stages: ${problems.join('; ')}`);
    this.name = 'StageValidationError';
  }
}

/** Validates every stage (all problems at once) and compiles their selectors; throws StageValidationError. */
export function compileStages(stages: unknown): CompiledStage[] {
  const problems: string[] = [];
  if (!Array.isArray(stages)) throw new StageValidationError([`stages must be a list, got ${describe(stages)}`]);
  const seen = new Set<string>();
  const compiled: CompiledStage[] = [];
  stages.forEach((raw, i) => {
    const where = isRecord(raw) && typeof raw.name === 'string' && raw.name ? `stage ${JSON.stringify(raw.name)}` : `stages[${i}]`;
    const before = problems.length;
    const report = (field: string, msg: string) => problems.push(`${where}: ${field}: ${msg}`);
    if (!isRecord(raw)) {
      problems.push(`${where}: must be an object, got ${describe(raw)}`);
      return;
    }
    if (typeof raw.name !== 'string' || raw.name === '') report('name', 'Required value');
    else if (seen.has(raw.name)) report('name', `Duplicate value: ${JSON.stringify(raw.name)}`);
    else seen.add(raw.name);
    const known = new Set(['name', 'selector', 'delay', 'next']);
    for (const k of Object.keys(raw)) if (!known.has(k)) report(k, 'unknown field');
    const predicate = compileSelector(raw.selector, report);
    validateDelay(raw.delay, report);
    const usesPodIP = validateNext(raw.next, report);
    if (problems.length === before && predicate) {
      compiled.push({ stage: raw as unknown as Stage, name: raw.name as string, matches: predicate, usesPodIP });
    }
  });
  if (problems.length) throw new StageValidationError(problems);
  return compiled;
}

/** The first stage, in list order, whose selector matches the pod. */
export function matchStage(stages: readonly CompiledStage[], pod: Pod): CompiledStage | undefined {
  for (const s of stages) if (s.matches(pod)) return s;
  return undefined;
}

/** The delay in ms for this pod: the annotation's duration when it has a valid one, else `ms`, plus jitter. */
export function stageDelayMs(stage: Stage, pod: Pod, random: () => number): { ms: number; annotationError?: string } {
  const d = stage.delay;
  if (!d) return { ms: 0 };
  let base = d.ms;
  let annotationError: string | undefined;
  if (d.fromAnnotation) {
    const value = pod.metadata?.annotations?.[d.fromAnnotation];
    if (value !== undefined) {
      const parsed = parseGoDuration(value);
      if (parsed === undefined) annotationError = `annotation ${d.fromAnnotation}=${JSON.stringify(value)} is not a duration like "30s" or "1m30s"; using ${d.ms}ms`;
      else base = parsed;
    }
  }
  const jitter = d.jitterMs ? random() * d.jitterMs : 0;
  return { ms: base + jitter, ...(annotationError ? { annotationError } : {}) };
}

type Segment = { field: string } | { any: true };

/** Parses `.a.b["c/d"][*].e`; returns a message instead when the path is malformed. */
export function parsePath(path: string): Segment[] | string {
  if (!path.startsWith('.') && !path.startsWith('[')) return 'must start with "." (e.g. ".status.phase")';
  const segments: Segment[] = [];
  let i = 0;
  while (i < path.length) {
    if (path[i] === '.') {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(path.slice(i + 1));
      if (!m) return `expected a field name at offset ${i + 1}`;
      segments.push({ field: m[0] });
      i += 1 + m[0].length;
    } else if (path.startsWith('[*]', i)) {
      segments.push({ any: true });
      i += 3;
    } else if (path.startsWith('["', i)) {
      const end = path.indexOf('"]', i + 2);
      if (end < 0) return `unterminated ["...\"] at offset ${i}`;
      segments.push({ field: path.slice(i + 2, end) });
      i = end + 2;
    } else {
      return `unexpected ${JSON.stringify(path[i])} at offset ${i}`;
    }
  }
  return segments;
}

/** Every value the path reaches, as strings. */
export function valuesAt(obj: unknown, segments: readonly Segment[]): string[] {
  let current: unknown[] = [obj];
  for (const seg of segments) {
    const next: unknown[] = [];
    for (const v of current) {
      if (v === null || typeof v !== 'object') continue;
      if ('any' in seg) {
        if (Array.isArray(v)) next.push(...v);
      } else if (!Array.isArray(v)) {
        next.push((v as Record<string, unknown>)[seg.field]);
      }
    }
    current = next;
  }
  const out: string[] = [];
  for (const v of current) {
    if (v === undefined || v === null) continue;
    out.push(typeof v === 'object' ? JSON.stringify(v) : String(v));
  }
  return out;
}

function compileSelector(raw: unknown, report: (field: string, msg: string) => void): ((pod: Pod) => boolean) | undefined {
  if (!isRecord(raw)) {
    report('selector', `Required value: an object with matchExpressions and/or anyOf, got ${describe(raw)}`);
    return undefined;
  }
  for (const k of Object.keys(raw)) if (k !== 'matchExpressions' && k !== 'anyOf') report(`selector.${k}`, 'unknown field');
  const all = raw.matchExpressions === undefined ? [] : compileExpressions(raw.matchExpressions, 'selector.matchExpressions', report);
  let groups: ((pod: Pod) => boolean)[][] | undefined;
  if (raw.anyOf !== undefined) {
    if (!Array.isArray(raw.anyOf) || raw.anyOf.length === 0) report('selector.anyOf', 'must be a non-empty list of expression lists');
    else groups = raw.anyOf.map((g, i) => compileExpressions(g, `selector.anyOf[${i}]`, report));
  }
  if (all.length === 0 && !groups) {
    // A stage that matches every pod would apply to its own result forever.
    report('selector', 'must hold at least one expression');
  }
  return (pod) => all.every((e) => e(pod)) && (!groups || groups.some((g) => g.every((e) => e(pod))));
}

function compileExpressions(raw: unknown, field: string, report: (field: string, msg: string) => void): ((pod: Pod) => boolean)[] {
  if (!Array.isArray(raw) || raw.length === 0) {
    report(field, `must be a non-empty list, got ${describe(raw)}`);
    return [];
  }
  const out: ((pod: Pod) => boolean)[] = [];
  raw.forEach((e, i) => {
    const f = `${field}[${i}]`;
    if (!isRecord(e)) {
      report(f, `must be an object, got ${describe(e)}`);
      return;
    }
    for (const k of Object.keys(e)) if (k !== 'key' && k !== 'operator' && k !== 'values') report(`${f}.${k}`, 'unknown field');
    const path = typeof e.key === 'string' ? parsePath(e.key) : 'Required value';
    if (typeof path === 'string') report(`${f}.key`, typeof e.key === 'string' ? `Invalid value: ${JSON.stringify(e.key)}: ${path}` : path);
    const op = e.operator as SelectorOperator;
    if (!OPERATORS.includes(op)) {
      report(`${f}.operator`, `Unsupported value: ${JSON.stringify(e.operator)}: supported values: ${OPERATORS.map((o) => `"${o}"`).join(', ')}`);
      return;
    }
    const needsValues = op === 'In' || op === 'NotIn';
    const values = e.values;
    if (needsValues && (!Array.isArray(values) || values.length === 0 || values.some((v) => typeof v !== 'string'))) {
      report(`${f}.values`, `must be a non-empty list of strings for operator ${op}`);
      return;
    }
    if (!needsValues && values !== undefined) {
      report(`${f}.values`, `must be empty for operator ${op}`);
      return;
    }
    if (typeof path === 'string') return;
    const set = new Set(values as string[] | undefined);
    switch (op) {
      case 'In':
        out.push((pod) => valuesAt(pod, path).some((v) => set.has(v)));
        break;
      case 'NotIn':
        out.push((pod) => !valuesAt(pod, path).some((v) => set.has(v)));
        break;
      case 'Exists':
        out.push((pod) => valuesAt(pod, path).length > 0);
        break;
      case 'DoesNotExist':
        out.push((pod) => valuesAt(pod, path).length === 0);
        break;
    }
  });
  return out;
}

function validateDelay(raw: unknown, report: (field: string, msg: string) => void): void {
  if (raw === undefined) return;
  if (!isRecord(raw)) {
    report('delay', `must be an object like { ms: 1000 }, got ${describe(raw)}`);
    return;
  }
  for (const k of Object.keys(raw)) if (!['ms', 'jitterMs', 'fromAnnotation'].includes(k)) report(`delay.${k}`, 'unknown field');
  if (!isNonNegative(raw.ms)) report('delay.ms', `Invalid value: ${describe(raw.ms)}: must be a finite number >= 0`);
  if (raw.jitterMs !== undefined && !isNonNegative(raw.jitterMs)) report('delay.jitterMs', `Invalid value: ${describe(raw.jitterMs)}: must be a finite number >= 0`);
  if (raw.fromAnnotation !== undefined && (typeof raw.fromAnnotation !== 'string' || raw.fromAnnotation === '')) {
    report('delay.fromAnnotation', `Invalid value: ${describe(raw.fromAnnotation)}: must be an annotation key`);
  }
}

/** Checks `next`; returns whether it uses ${podIP}. */
function validateNext(raw: unknown, report: (field: string, msg: string) => void): boolean {
  if (!isRecord(raw)) {
    report('next', `Required value: an object with status, conditions, containerStatus, initContainerStatus or delete, got ${describe(raw)}`);
    return false;
  }
  const fields = ['status', 'conditions', 'containerStatus', 'initContainerStatus', 'delete'];
  for (const k of Object.keys(raw)) if (!fields.includes(k)) report(`next.${k}`, 'unknown field');
  const present = fields.filter((f) => raw[f] !== undefined);
  if (present.length === 0) report('next', 'must set at least one of status, conditions, containerStatus, initContainerStatus, delete');
  if (raw.delete !== undefined) {
    if (raw.delete !== true) report('next.delete', `Invalid value: ${describe(raw.delete)}: must be true when present`);
    else if (present.length > 1) report('next.delete', `cannot be combined with ${present.filter((f) => f !== 'delete').join(', ')}`);
  }
  const used = new Set<string>();
  if (raw.status !== undefined) {
    if (!isRecord(raw.status)) report('next.status', `must be an object, got ${describe(raw.status)}`);
    else {
      if ('conditions' in raw.status || 'containerStatuses' in raw.status || 'initContainerStatuses' in raw.status) {
        report('next.status', 'conditions and container statuses are set through next.conditions and next.containerStatus');
      }
      checkPlaceholders(raw.status, 'next.status', POD_VARIABLES, report, used);
    }
  }
  if (raw.conditions !== undefined) {
    if (!Array.isArray(raw.conditions)) report('next.conditions', `must be a list, got ${describe(raw.conditions)}`);
    else
      raw.conditions.forEach((c, i) => {
        const f = `next.conditions[${i}]`;
        if (!isRecord(c)) return report(f, `must be an object, got ${describe(c)}`);
        if (typeof c.type !== 'string' || !c.type) report(`${f}.type`, 'Required value');
        if (!CONDITION_STATUSES.includes(c.status as string)) report(`${f}.status`, `Unsupported value: ${describe(c.status)}: supported values: "True", "False", "Unknown"`);
        for (const k of Object.keys(c)) if (!['type', 'status', 'reason', 'message'].includes(k)) report(`${f}.${k}`, 'unknown field');
        for (const k of ['reason', 'message']) if (c[k] !== undefined && typeof c[k] !== 'string') report(`${f}.${k}`, 'must be a string');
      });
  }
  for (const field of ['containerStatus', 'initContainerStatus'] as const) {
    const t = raw[field];
    if (t === undefined) continue;
    if (!isRecord(t)) report(`next.${field}`, `must be an object, got ${describe(t)}`);
    else {
      if ('name' in t) report(`next.${field}.name`, 'is set from the container and cannot be templated');
      checkPlaceholders(t, `next.${field}`, CONTAINER_VARIABLES, report, used);
    }
  }
  return used.has('podIP');
}

function checkPlaceholders(value: unknown, field: string, allowed: readonly string[], report: (field: string, msg: string) => void, used: Set<string>): void {
  if (typeof value === 'string') {
    for (const m of value.matchAll(PLACEHOLDER)) {
      const name = m[1]!;
      if (!allowed.includes(name)) {
        const hint = (CONTAINER_VARIABLES as readonly string[]).includes(name) ? ' (only in containerStatus and initContainerStatus)' : '';
        report(field, `unknown variable \${${name}}${hint}: known variables: ${allowed.join(', ')}`);
      } else used.add(name);
    }
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => checkPlaceholders(v, `${field}[${i}]`, allowed, report, used));
  } else if (isRecord(value)) {
    for (const [k, v] of Object.entries(value)) checkPlaceholders(v, `${field}.${k}`, allowed, report, used);
  }
}

/** Replaces ${variable} in every string of a template; a string that is exactly one placeholder takes the value as is. */
export function renderTemplate(template: unknown, vars: Readonly<Record<string, unknown>>): unknown {
  if (typeof template === 'string') {
    const whole = /^\$\{([^}]*)\}$/.exec(template);
    if (whole) return vars[whole[1]!];
    return template.replace(PLACEHOLDER, (_, name: string) => String(vars[name] ?? ''));
  }
  if (Array.isArray(template)) return template.map((v) => renderTemplate(v, vars));
  if (isRecord(template)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(template)) out[k] = renderTemplate(v, vars);
    return out;
  }
  return template;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function isNonNegative(v: unknown): boolean {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0;
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  return JSON.stringify(v) ?? String(v);
}
