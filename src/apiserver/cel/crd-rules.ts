/**
 * `x-kubernetes-validations` of CustomResourceDefinition schemas (apiextensions-apiserver's schema/cel): rules at
 * any level of an OpenAPI v3 schema, each a CEL expression over `self` (the value at that level) and, for transition
 * rules, `oldSelf` (the correlated old value on an update).
 *
 * - `compileSchemaRules(schema, basePath)`: when a CRD is written, every rule and messageExpression compiled, reason
 *   and fieldPath checked; the FieldErrors are what the CRD's 422 lists.
 * - `validateCelRules(schema, obj, old)`: when a custom object is created or updated (main resource or status),
 *   the FieldErrors of failed rules in upstream's words:
 *   `spec: Invalid value: "object": <message>`, or `failed rule: <rule>` without a message, `<nil>` at the root.
 *
 * Old values correlate as upstream does: object properties by name, map values by key, list items only in lists of
 * `x-kubernetes-list-type: map` (by their map keys); a transition rule whose value has no old counterpart is skipped
 * (unless `optionalOldSelf`, where oldSelf is an optional). Rules of null values are not run (check presence from
 * the parent). Compiled trees are cached per schema object.
 */
import { Optional } from '@marcbachmann/cel-js';
import type { FieldError } from '../../api/status.js';
import { BUDGET_EXHAUSTED, compileCel, isCompileError, RUNTIME_COST_BUDGET, walkAst, type AstNode, type CelBudget, type CelProgram } from './cel-program.js';
import { toCel, type CelSchema } from './values.js';

export interface ValidationRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  reason?: string;
  fieldPath?: string;
  optionalOldSelf?: boolean;
}

export interface RuleSchema extends CelSchema {
  properties?: Record<string, RuleSchema>;
  additionalProperties?: RuleSchema | boolean;
  items?: RuleSchema;
  'x-kubernetes-validations'?: ValidationRule[];
  'x-kubernetes-list-type'?: string;
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: string;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
}

const REASONS = ['FieldValueInvalid', 'FieldValueForbidden', 'FieldValueRequired', 'FieldValueDuplicate'];
const SELF_VARS = ['self', 'oldSelf'] as const;
/** optionalOldSelf rules: oldSelf is an optional (none on create). */
const OPTIONAL_SELF_VARS = ['self', 'oldSelf:optional<dyn>'] as const;
const varsOf = (r: ValidationRule) => (r.optionalOldSelf ? OPTIONAL_SELF_VARS : SELF_VARS);
/** celconfig.MaxEvaluatedMessageExpressionSizeBytes */
const MAX_MESSAGE = 5 * 1024;

interface CompiledRule {
  rule: ValidationRule;
  program: CelProgram;
  message?: CelProgram;
  /** The rule's fieldPath as path segments appended to the value's path. */
  fieldPath: string[];
}

interface RuleNode {
  type: string;
  rules: CompiledRule[];
  properties?: Map<string, RuleNode>;
  additional?: RuleNode;
  items?: RuleNode;
  listMapKeys?: string[];
  /** Map-type `atomic`/`granular` (or unset) correlate old values by key; others do not. */
  correlatable: boolean;
}

const compiledTrees = new WeakMap<object, RuleNode | null>();

/** Splits a rule's fieldPath (`.spec.x`, `.a['b.c']`) into path segments; undefined when malformed. */
export function parseRuleFieldPath(fieldPath: string): string[] | undefined {
  const out: string[] = [];
  const re = /\.([A-Za-z_][A-Za-z0-9_-]*)|\['((?:[^'\\]|\\.)*)'\]/y;
  let at = 0;
  while (at < fieldPath.length) {
    re.lastIndex = at;
    const m = re.exec(fieldPath);
    if (!m) return undefined;
    out.push(m[1] ?? m[2]!.replace(/\\(.)/g, '$1'));
    at = re.lastIndex;
  }
  return out;
}

function schemaAt(schema: RuleSchema, path: string[]): RuleSchema | undefined {
  let s: RuleSchema | undefined = schema;
  for (const p of path) {
    if (!s) return undefined;
    if (s.properties?.[p]) s = s.properties[p];
    else if (typeof s.additionalProperties === 'object') s = s.additionalProperties;
    else return undefined;
  }
  return s;
}


const SCALAR_CEL_TYPES: Record<string, string> = { string: 'string', integer: 'int', number: 'double', boolean: 'bool' };
const OBJECT_META: RuleSchema = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };

/** The schema a selection from `s` by `field` reaches: undefined when unknown (dynamic), null when not declared. */
function selectField(s: RuleSchema, field: string): RuleSchema | null | undefined {
  if (s['x-kubernetes-preserve-unknown-fields'] || s['x-kubernetes-int-or-string']) return undefined;
  if (s.properties?.[field]) return s.properties[field];
  if (typeof s.additionalProperties === 'object') return s.additionalProperties;
  if (s.additionalProperties === true) return undefined;
  if (s['x-kubernetes-embedded-resource'] && ['apiVersion', 'kind', 'metadata'].includes(field)) return field === 'metadata' ? OBJECT_META : { type: 'string' };
  if (s.type && s.type !== 'object') return null;
  return s.properties ? null : undefined;
}

/** cel-go places a selection at its '.' (1-based column). */
function dotColumn(expr: string, pos: number): number {
  let i = Math.min(pos, expr.length) - 1;
  while (i > 0 && expr[i] !== '.') i--;
  return i + 1;
}

/**
 * cel-go checks every field selection on `self` and `oldSelf` against the schema when a CRD is written: an undeclared
 * field is `undefined field 'x'`, a selection on a scalar `type 'string' does not support field selection`. The same
 * checks here, for selection chains that start at self/oldSelf (through `.`, `.?`, `[]` and has()).
 */
function checkSelections(program: CelProgram, schema: RuleSchema, root: boolean): string | undefined {
  const selfSchema: RuleSchema = root ? { ...schema, properties: { apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: { type: 'object', properties: { name: { type: 'string' }, generateName: { type: 'string' } } }, ...schema.properties } } : schema;
  const resolved = new Map<AstNode, RuleSchema | undefined>();
  let problem: string | undefined;
  const resolve = (n: AstNode): RuleSchema | undefined => {
    if (resolved.has(n)) return resolved.get(n);
    let out: RuleSchema | undefined;
    if (n.op === 'id' && (n.args === 'self' || n.args === 'oldSelf')) out = selfSchema;
    else if ((n.op === '.' || n.op === '.?') && Array.isArray(n.args)) {
      const recv = resolve(n.args[0] as AstNode);
      if (recv) {
        const field = String(n.args[1]);
        const next = selectField(recv, field);
        if (next === null) {
          const scalar = recv.type && recv.type !== 'object' && recv.type !== 'array' ? SCALAR_CEL_TYPES[recv.type] : undefined;
          problem ??= `ERROR: <input>:1:${dotColumn(program.expression, n.pos ?? 0)}: ${recv.type === 'array' ? "type 'list' does not support field selection" : scalar ? `type '${scalar}' does not support field selection` : `undefined field '${field}'`}`;
        } else out = next;
      }
    } else if ((n.op === '[]' || n.op === '[?]') && Array.isArray(n.args)) {
      const recv = resolve(n.args[0] as AstNode);
      if (recv?.type === 'array') out = recv.items;
      else if (recv && typeof recv.additionalProperties === 'object') out = recv.additionalProperties;
    }
    resolved.set(n, out);
    return out;
  };
  walkAst(program.ast, (n) => {
    if (n.op === '.' || n.op === '.?') resolve(n);
  });
  return problem;
}

function goString(v: string | undefined): string {
  return JSON.stringify(v ?? '');
}

/** The Go %#v rendering upstream prints for a ValidationRule in CRD errors. */
function ruleValue(r: ValidationRule): string {
  return `apiextensions.ValidationRule{Rule:${goString(r.rule)}, Message:${goString(r.message)}, MessageExpression:${goString(r.messageExpression)}, Reason:${r.reason ? `&"${r.reason}"` : '(*apiextensions.FieldValueErrorReason)(nil)'}, FieldPath:${goString(r.fieldPath)}, OptionalOldSelf:${r.optionalOldSelf === undefined ? '(*bool)(nil)' : `&${r.optionalOldSelf}`}}`;
}

function childPath(base: string, key: string, brackets = false): string {
  if (brackets) return `${base}[${key}]`;
  return base ? `${base}.${key}` : key;
}

/** Compile errors of every rule in schema; paths under basePath (e.g. `spec.versions[0].schema.openAPIV3Schema`). */
export function compileSchemaRules(schema: RuleSchema | undefined, basePath: string): FieldError[] {
  const errs: FieldError[] = [];
  const visit = (s: RuleSchema | undefined, path: string): void => {
    if (!s || typeof s !== 'object') return;
    (s['x-kubernetes-validations'] ?? []).forEach((r, i) => {
      const at = `${path}.x-kubernetes-validations[${i}]`;
      if (!r.rule || !r.rule.trim()) {
        errs.push({ type: 'FieldValueRequired', field: `${at}.rule`, detail: 'Required value' });
        return;
      }
      const p = compileCel(r.rule, varsOf(r), 'bool');
      if (isCompileError(p)) errs.push({ type: 'FieldValueInvalid', field: `${at}.rule`, detail: `Invalid value: ${ruleValue(r)}: ${p.message}` });
      else {
        const problem = checkSelections(p, s, s === schema);
        if (problem) errs.push({ type: 'FieldValueInvalid', field: `${at}.rule`, detail: `Invalid value: ${ruleValue(r)}: compilation failed: ${problem}` });
      }
      if (r.messageExpression !== undefined) {
        if (!r.messageExpression.trim()) errs.push({ type: 'FieldValueRequired', field: `${at}.messageExpression`, detail: 'Required value: messageExpression of length 0 is not allowed' });
        else {
          const m = compileCel(r.messageExpression, varsOf(r), 'string');
          if (isCompileError(m)) errs.push({ type: 'FieldValueInvalid', field: `${at}.messageExpression`, detail: `Invalid value: ${ruleValue(r)}: message${m.message}` });
        }
      }
      if (r.message !== undefined && r.message.trim() === '') errs.push({ type: 'FieldValueInvalid', field: `${at}.message`, detail: `Invalid value: ${goString(r.message)}: message must be non-empty if specified` });
      else if (r.message && /\n/.test(r.message)) errs.push({ type: 'FieldValueInvalid', field: `${at}.message`, detail: `Invalid value: ${goString(r.message)}: message must not contain line breaks` });
      if (r.reason !== undefined && !REASONS.includes(r.reason)) {
        errs.push({ type: 'FieldValueNotSupported', field: `${at}.reason`, detail: `Unsupported value: ${goString(r.reason)}: supported values: ${REASONS.map((x) => `"${x}"`).join(', ')}` });
      }
      if (r.fieldPath !== undefined) {
        const segs = parseRuleFieldPath(r.fieldPath);
        if (!segs || segs.length === 0) errs.push({ type: 'FieldValueInvalid', field: `${at}.fieldPath`, detail: `Invalid value: ${goString(r.fieldPath)}: fieldPath must be a valid path` });
        else if (!schemaAt(s, segs)) errs.push({ type: 'FieldValueInvalid', field: `${at}.fieldPath`, detail: `Invalid value: ${goString(r.fieldPath)}: fieldPath must be a valid path: does not refer to a valid field` });
      }
      if (r.optionalOldSelf && !(!isCompileError(p) && p.usesOldSelf)) {
        errs.push({ type: 'FieldValueInvalid', field: `${at}.optionalOldSelf`, detail: 'Invalid value: true: may not be set if rule does not use oldSelf' });
      }
    });
    for (const [k, sub] of Object.entries(s.properties ?? {})) visit(sub, `${path}.properties[${k}]`);
    if (typeof s.additionalProperties === 'object') visit(s.additionalProperties, `${path}.additionalProperties`);
    if (s.items && typeof s.items === 'object') visit(s.items, `${path}.items`);
  };
  visit(schema, basePath);
  return errs;
}

function compileTree(s: RuleSchema | undefined): RuleNode | null {
  if (!s || typeof s !== 'object') return null;
  const cached = compiledTrees.get(s);
  if (cached !== undefined) return cached;
  const rules: CompiledRule[] = [];
  for (const r of s['x-kubernetes-validations'] ?? []) {
    const program = compileCel(r.rule ?? '', varsOf(r), 'bool');
    if (isCompileError(program)) continue; // refused when the CRD was written; an old stored CRD just skips it
    const message = r.messageExpression ? compileCel(r.messageExpression, varsOf(r), 'string') : undefined;
    rules.push({ rule: r, program, message: message && !isCompileError(message) ? message : undefined, fieldPath: r.fieldPath ? (parseRuleFieldPath(r.fieldPath) ?? []) : [] });
  }
  let properties: Map<string, RuleNode> | undefined;
  for (const [k, sub] of Object.entries(s.properties ?? {})) {
    const node = compileTree(sub);
    if (node) (properties ??= new Map()).set(k, node);
  }
  const additional = typeof s.additionalProperties === 'object' ? compileTree(s.additionalProperties) : null;
  const items = s.items && typeof s.items === 'object' ? compileTree(s.items) : null;
  let node: RuleNode | null = null;
  if (rules.length || properties || additional || items) {
    node = {
      type: s.type ?? '',
      rules,
      correlatable: !s['x-kubernetes-map-type'] || s['x-kubernetes-map-type'] === 'granular' || s['x-kubernetes-map-type'] === 'atomic',
      ...(properties ? { properties } : {}),
      ...(additional ? { additional } : {}),
      ...(items ? { items } : {}),
      ...(s['x-kubernetes-list-type'] === 'map' && s['x-kubernetes-list-map-keys']?.length ? { listMapKeys: s['x-kubernetes-list-map-keys'] } : {}),
    };
  }
  compiledTrees.set(s, node);
  return node;
}

/** True when the schema has a rule anywhere (a cheap test for the write path). */
export function hasCelRules(schema: RuleSchema | undefined): boolean {
  return compileTree(schema) !== null;
}

function ruleErrorString(r: ValidationRule): string {
  return r.message?.trim() ? r.message.trim() : r.rule.trim();
}

function errorForReason(path: string, type: string, detail: string, reason: string | undefined): FieldError {
  const field = path || '<nil>';
  switch (reason) {
    case 'FieldValueForbidden':
      return { type: 'FieldValueForbidden', field, detail: `Forbidden: ${detail}` };
    case 'FieldValueRequired':
      return { type: 'FieldValueRequired', field, detail: `Required value: ${detail}` };
    case 'FieldValueDuplicate':
      return { type: 'FieldValueDuplicate', field, detail: `Duplicate value: ${JSON.stringify(type)}` };
    default:
      return { type: 'FieldValueInvalid', field, detail: `Invalid value: ${JSON.stringify(type)}: ${detail}` };
  }
}

/**
 * Which rules a walk runs: all; those that do not read oldSelf (`plain`); those plus the optionalOldSelf rules with
 * an empty oldSelf (`create`); or only the rules that read oldSelf (`transition`, on updates).
 */
export type RuleSelection = 'all' | 'plain' | 'create' | 'transition';

function runRules(node: RuleNode, path: string, self: unknown, old: unknown, errs: FieldError[], which: RuleSelection, budget: CelBudget): boolean {
  for (const c of node.rules) {
    if (which === 'plain' && c.program.usesOldSelf) continue;
    if (which === 'create' && c.program.usesOldSelf && !c.rule.optionalOldSelf) continue;
    if (which === 'transition' && !c.program.usesOldSelf) continue;
    const optionalOld = c.rule.optionalOldSelf === true;
    if (c.program.usesOldSelf && old === undefined && !optionalOld) continue;
    const activation = { self, oldSelf: optionalOld ? (old === undefined ? Optional.none() : Optional.of(old)) : old };
    const at = c.fieldPath.length ? [path, ...c.fieldPath].filter(Boolean).join('.') : path;
    let result: unknown;
    try {
      result = c.program.evaluate(activation, budget);
    } catch (err) {
      const e = err as { message: string; costExceeded?: boolean; budgetExhausted?: boolean };
      if (e.budgetExhausted) {
        errs.push({ type: 'FieldValueInvalid', field: path || '<nil>', detail: `Invalid value: ${JSON.stringify(node.type)}: ${BUDGET_EXHAUSTED}` });
        return false;
      }
      if (e.costExceeded) {
        errs.push({ type: 'FieldValueInvalid', field: path || '<nil>', detail: `Invalid value: ${JSON.stringify(node.type)}: '${e.message}': no further validation rules will be run due to call cost exceeds limit for rule: ${ruleErrorString(c.rule)}` });
        return false;
      }
      if (e.message.startsWith('no such overload')) {
        errs.push({ type: 'FieldValueInvalid', field: path || '<nil>', detail: `Invalid value: ${JSON.stringify(node.type)}: '${e.message}': call arguments did not match a supported operator, function or macro signature for rule: ${ruleErrorString(c.rule)}` });
      } else {
        errs.push({ type: 'FieldValueInvalid', field: path || '<nil>', detail: `Invalid value: ${JSON.stringify(node.type)}: ${e.message} evaluating rule: ${ruleErrorString(c.rule)}` });
      }
      continue;
    }
    if (result === true) continue;
    if (typeof result !== 'boolean') {
      errs.push({ type: 'FieldValueInvalid', field: path || '<nil>', detail: `Invalid value: ${JSON.stringify(node.type)}: 'no such overload': call arguments did not match a supported operator, function or macro signature for rule: ${ruleErrorString(c.rule)}` });
      continue;
    }
    let detail = c.rule.message?.trim() ? c.rule.message.trim() : `failed rule: ${ruleErrorString(c.rule)}`;
    if (c.message) {
      try {
        const m = c.message.evaluate(activation, budget);
        const text = typeof m === 'string' ? m.trim() : '';
        if (text && text.length <= MAX_MESSAGE && !text.includes('\n')) detail = text;
      } catch (err) {
        if ((err as { budgetExhausted?: boolean }).budgetExhausted) {
          errs.push({ type: 'FieldValueInvalid', field: path || '<nil>', detail: `Invalid value: ${JSON.stringify(node.type)}: messageExpression evaluation failed due to running out of cost budget, no further validation rules will be run` });
          return false;
        }
        if ((err as { costExceeded?: boolean }).costExceeded) {
          errs.push({ type: 'FieldValueInvalid', field: path || '<nil>', detail: `Invalid value: ${JSON.stringify(node.type)}: no further validation rules will be run due to call cost exceeds limit for messageExpression: ${JSON.stringify(c.rule.messageExpression)}` });
          return false;
        }
        // upstream logs the failure and falls back to message or the default
      }
    }
    errs.push(errorForReason(at, node.type, detail, c.rule.reason));
  }
  return true;
}

function mapListKey(item: unknown, keys: string[]): string | undefined {
  if (!item || typeof item !== 'object') return undefined;
  return JSON.stringify(keys.map((k) => (item as Record<string, unknown>)[k] ?? null), (_k, v) => (typeof v === 'bigint' ? `${v}n` : v));
}

function walkValue(node: RuleNode, path: string, self: unknown, old: unknown, errs: FieldError[], which: RuleSelection, budget: CelBudget): boolean {
  if (self === null || self === undefined) return true;
  if (node.rules.length && !runRules(node, path, self, old, errs, which, budget)) return false;
  if (Array.isArray(self)) {
    if (!node.items) return true;
    let olds: Map<string, unknown> | undefined;
    if (node.listMapKeys && Array.isArray(old)) {
      olds = new Map();
      for (const o of old) {
        const k = mapListKey(o, node.listMapKeys);
        if (k !== undefined) olds.set(k, o);
      }
    }
    for (let i = 0; i < self.length; i++) {
      const oldItem = olds && node.listMapKeys ? olds.get(mapListKey(self[i], node.listMapKeys) ?? '') : undefined;
      if (!walkValue(node.items, `${path}[${i}]`, self[i], oldItem, errs, which, budget)) return false;
    }
    return true;
  }
  if (typeof self === 'object') {
    const oldObj = node.correlatable && old && typeof old === 'object' && !Array.isArray(old) ? (old as Record<string, unknown>) : undefined;
    for (const [k, v] of Object.entries(self as Record<string, unknown>)) {
      const prop = node.properties?.get(k);
      const sub = prop ?? node.additional;
      if (!sub) continue;
      const p = prop ? childPath(path, k) : childPath(path, k, true);
      if (!walkValue(sub, p, v, oldObj?.[k], errs, which, budget)) return false;
    }
  }
  return true;
}

/**
 * The FieldErrors of obj's rules (old: the stored object on an update, undefined on create). obj and old are the
 * JSON objects as written; they are not changed. All rules of one call share one budget (upstream's per-object
 * RuntimeCELCostBudget): once spent, `validation failed due to running out of cost budget, ...` and no more rules.
 */
export function validateCelRules(schema: RuleSchema | undefined, obj: unknown, old?: unknown, which: RuleSelection = 'all', budget: CelBudget = { remaining: RUNTIME_COST_BUDGET }): FieldError[] {
  const tree = compileTree(schema);
  if (!tree) return [];
  const errs: FieldError[] = [];
  walkValue(tree, '', toCel(obj, schema), old === undefined ? undefined : toCel(old, schema), errs, which, budget);
  return errs;
}
