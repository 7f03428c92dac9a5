/**
 * Label selectors: the `?labelSelector=` string syntax (`a=b,c!=d,e in (x,y),!f`), the metav1
 * LabelSelector object (matchLabels + matchExpressions), matching, and the canonical string form.
 * Parsing follows k8s.io/apimachinery/pkg/labels/selector.go, including its error wording, because
 * the server's 400 message is shown to kubectl users as is.
 */
import type { LabelSelector as LabelSelectorObject } from 'kubernetes-types/meta/v1.js';
import { badRequest, fieldInvalid, fieldNotSupported, fieldRequired, type FieldError } from './status.js';
import { isQualifiedName, isValidLabelValue, validateLabels } from './validation.js';

export type LabelOperator = 'in' | 'notin' | '=' | '==' | '!=' | 'exists' | '!' | 'gt' | 'lt';

export interface LabelRequirement {
  key: string;
  operator: LabelOperator;
  /** Empty for exists and `!`; exactly one value for `=`, `==`, `!=`, `gt`, `lt`. */
  values: string[];
}

export interface LabelSelector {
  /** ANDed; sorted by key, as upstream sorts them. */
  requirements: LabelRequirement[];
  /** True for the selector that matches nothing (a missing metav1 LabelSelector). */
  matchesNothing?: boolean;
}

/** Matches every object. */
export const everything: LabelSelector = Object.freeze({ requirements: [] }) as LabelSelector;
/** Matches no object (what a nil metav1 LabelSelector converts to). */
export const nothing: LabelSelector = Object.freeze({ requirements: [], matchesNothing: true }) as LabelSelector;

type Tok = 'error' | 'eos' | ')' | ',' | '!' | '==' | '=' | '>' | 'id' | 'in' | '<' | '!=' | 'notin' | '(';

const literalTokens: Record<string, Tok> = {
  ')': ')',
  ',': ',',
  '!': '!',
  '==': '==',
  '=': '=',
  '>': '>',
  in: 'in',
  '<': '<',
  '!=': '!=',
  notin: 'notin',
  '(': '(',
};

const binaryOperators = 'in, notin, =, ==, !=, gt, lt';

function isWhitespace(ch: string): boolean {
  return ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n';
}

function isSpecial(ch: string): boolean {
  return '=!(),><'.includes(ch);
}

interface Item {
  tok: Tok;
  lit: string;
}

function lex(s: string): Item[] {
  const items: Item[] = [];
  let pos = 0;
  for (;;) {
    while (pos < s.length && isWhitespace(s[pos]!)) pos++;
    if (pos >= s.length) {
      items.push({ tok: 'eos', lit: '' });
      return items;
    }
    if (isSpecial(s[pos]!)) {
      // Longest special-symbol run that still forms a token ("!=" rather than "!" then "=").
      let buf = '';
      let last: Item | undefined;
      while (pos < s.length && isSpecial(s[pos]!)) {
        buf += s[pos];
        const t = literalTokens[buf];
        if (t) {
          last = { tok: t, lit: buf };
          pos++;
        } else if (last) {
          break;
        } else {
          pos++;
        }
      }
      items.push(last ?? { tok: 'error', lit: `error expected: keyword found '${buf}'` });
      continue;
    }
    let buf = '';
    while (pos < s.length && !isSpecial(s[pos]!) && !isWhitespace(s[pos]!)) buf += s[pos++];
    items.push({ tok: literalTokens[buf] ?? 'id', lit: buf });
  }
}

class Parser {
  private pos = 0;
  constructor(private readonly items: Item[]) {}

  /** In value position the keywords `in`/`notin` are plain identifiers (`x in (in)`). */
  peek(values: boolean): Item {
    const it = this.items[this.pos]!;
    return values && (it.tok === 'in' || it.tok === 'notin') ? { tok: 'id', lit: it.lit } : it;
  }

  next(values: boolean): Item {
    const it = this.peek(values);
    this.pos++;
    return it;
  }

  parse(): LabelRequirement[] {
    const reqs: LabelRequirement[] = [];
    for (;;) {
      const { tok, lit } = this.peek(true);
      if (tok === 'id' || tok === '!') {
        let r: LabelRequirement;
        try {
          r = this.requirement();
        } catch (e) {
          throw new Error(`unable to parse requirement: ${(e as Error).message}`);
        }
        reqs.push(r);
        const t = this.next(true);
        if (t.tok === 'eos') return reqs;
        if (t.tok === ',') {
          const t2 = this.peek(true);
          if (t2.tok !== 'id' && t2.tok !== '!') throw new Error(`found '${t2.lit}', expected: identifier after ','`);
          continue;
        }
        throw new Error(`found '${t.lit}', expected: ',' or 'end of string'`);
      }
      if (tok === 'eos') return reqs;
      throw new Error(`found '${lit}', expected: !, identifier, or 'end of string'`);
    }
  }

  private requirement(): LabelRequirement {
    let negated = false;
    let t = this.next(true);
    if (t.tok === '!') {
      negated = true;
      t = this.next(true);
    }
    if (t.tok !== 'id') throw new Error(`found '${t.lit}', expected: identifier`);
    const key = t.lit;
    const keyErrs = isQualifiedName(key);
    // Upstream reports this with a nil field path, which Go prints as "<nil>".
    if (keyErrs.length > 0) throw new Error(`<nil>: Invalid value: ${JSON.stringify(key)}: ${keyErrs.join('; ')}`);
    // `!a` takes no value; in `!a=b` the caller then fails on the leftover '=' as upstream does.
    if (negated) return newRequirement(key, '!', []);
    const after = this.peek(true).tok;
    if (after === 'eos' || after === ',') return newRequirement(key, 'exists', []);
    const opTok = this.next(false);
    let op: LabelOperator;
    switch (opTok.tok) {
      case 'in':
        op = 'in';
        break;
      case 'notin':
        op = 'notin';
        break;
      case '=':
        op = '=';
        break;
      case '==':
        op = '==';
        break;
      case '!=':
        op = '!=';
        break;
      case '>':
        op = 'gt';
        break;
      case '<':
        op = 'lt';
        break;
      default:
        throw new Error(`found '${opTok.lit}', expected: ${binaryOperators}`);
    }
    const values = op === 'in' || op === 'notin' ? this.valueSet() : this.exactValue();
    return newRequirement(key, op, [...new Set(values)].sort());
  }

  private valueSet(): string[] {
    const open = this.next(true);
    if (open.tok !== '(') throw new Error(`found '${open.lit}' expected: '('`);
    const { tok, lit } = this.peek(true);
    if (tok === ')') {
      this.next(true);
      return [''];
    }
    if (tok !== 'id' && tok !== ',') throw new Error(`found '${lit}', expected: ',', ')' or identifier`);
    const values = new Set<string>();
    for (;;) {
      const t = this.next(true);
      if (t.tok === 'id') {
        values.add(t.lit);
        const t2 = this.peek(true);
        if (t2.tok === ',') continue;
        if (t2.tok === ')') break;
        throw new Error(`found '${t2.lit}', expected: ',' or ')'`);
      } else if (t.tok === ',') {
        // Empty members: "(,a)", "(a,)" and "(a,,b)" all contain the empty string.
        if (values.size === 0) values.add('');
        const t2 = this.peek(true);
        if (t2.tok === ')') {
          values.add('');
          break;
        }
        if (t2.tok === ',') values.add('');
      } else {
        throw new Error(`found '${t.lit}', expected: ',', or identifier`);
      }
    }
    const close = this.next(true);
    if (close.tok !== ')') throw new Error(`found '${lit}', expected: ')'`);
    return [...values];
  }

  private exactValue(): string[] {
    const la = this.peek(true);
    if (la.tok === 'eos' || la.tok === ',') return [''];
    const t = this.next(true);
    if (t.tok === 'id') return [t.lit];
    throw new Error(`found '${t.lit}', expected: identifier`);
  }
}

/** Checks one requirement like upstream NewRequirement; throws with its aggregated message. */
function newRequirement(key: string, operator: LabelOperator, values: string[]): LabelRequirement {
  const errs: string[] = [];
  const keyErrs = isQualifiedName(key);
  if (keyErrs.length > 0) errs.push(`key: Invalid value: ${JSON.stringify(key)}: ${keyErrs.join('; ')}`);
  if ((operator === 'gt' || operator === 'lt') && !values.every((v) => /^[+-]?\d+$/.test(v))) {
    values.forEach((v, i) => {
      if (!/^[+-]?\d+$/.test(v)) errs.push(`values[${i}]: Invalid value: ${JSON.stringify(v)}: for 'Gt', 'Lt' operators, the value must be an integer`);
    });
  }
  values.forEach((v, i) => {
    const valueErrs = isValidLabelValue(v);
    if (valueErrs.length > 0) errs.push(`values[${i}][${key}]: Invalid value: ${JSON.stringify(v)}: ${valueErrs.join('; ')}`);
  });
  if (errs.length === 1) throw new Error(errs[0]);
  if (errs.length > 1) throw new Error(`[${errs.join(', ')}]`);
  return { key, operator, values };
}

function sortByKey(reqs: LabelRequirement[]): LabelRequirement[] {
  return [...reqs].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/**
 * Parses a `labelSelector` query value. An empty string selects everything.
 * Throws a 400 BadRequest StatusError with upstream's message on bad syntax or invalid keys/values.
 */
export function parseLabelSelector(s: string): LabelSelector {
  try {
    return { requirements: sortByKey(new Parser(lex(s)).parse()) };
  } catch (e) {
    throw badRequest((e as Error).message);
  }
}

function hasValue(r: LabelRequirement, v: string): boolean {
  return r.values.includes(v);
}

export function requirementMatches(r: LabelRequirement, labels: Record<string, string>): boolean {
  const has = Object.prototype.hasOwnProperty.call(labels, r.key);
  const v = has ? labels[r.key]! : undefined;
  switch (r.operator) {
    case 'in':
    case '=':
    case '==':
      return v !== undefined && hasValue(r, v);
    case 'notin':
    case '!=':
      return v === undefined || !hasValue(r, v);
    case 'exists':
      return has;
    case '!':
      return !has;
    case 'gt':
    case 'lt': {
      if (v === undefined || !/^[+-]?\d+$/.test(v) || r.values.length !== 1) return false;
      const lhs = BigInt(v);
      const rhs = BigInt(r.values[0]!);
      return r.operator === 'gt' ? lhs > rhs : lhs < rhs;
    }
  }
}

/** True when every requirement holds for the labels (undefined labels = none). */
export function matches(selector: LabelSelector, labels: Record<string, string> | undefined): boolean {
  if (selector.matchesNothing) return false;
  const l = labels ?? {};
  return selector.requirements.every((r) => requirementMatches(r, l));
}

export function isEverything(selector: LabelSelector): boolean {
  return !selector.matchesNothing && selector.requirements.length === 0;
}

/**
 * Converts a metav1 LabelSelector (LabelSelectorAsSelector): undefined selects nothing, `{}` everything.
 * Throws a BadRequest StatusError for unknown operators or invalid keys/values.
 */
export function labelSelectorFromObject(obj: LabelSelectorObject | undefined | null): LabelSelector {
  if (!obj) return nothing;
  const reqs: LabelRequirement[] = [];
  try {
    for (const [k, v] of Object.entries(obj.matchLabels ?? {})) reqs.push(newRequirement(k, '=', [v]));
    for (const expr of obj.matchExpressions ?? []) {
      const values = [...new Set(expr.values ?? [])].sort();
      switch (expr.operator) {
        case 'In':
          reqs.push(newRequirement(expr.key, 'in', values));
          break;
        case 'NotIn':
          reqs.push(newRequirement(expr.key, 'notin', values));
          break;
        case 'Exists':
          reqs.push(newRequirement(expr.key, 'exists', []));
          break;
        case 'DoesNotExist':
          reqs.push(newRequirement(expr.key, '!', []));
          break;
        default:
          throw new Error(`${JSON.stringify(expr.operator)} is not a valid label selector operator`);
      }
    }
  } catch (e) {
    throw badRequest((e as Error).message);
  }
  return { requirements: sortByKey(reqs) };
}

/** A selector from a plain map (Service spec.selector, ReplicationController): every pair must match. */
export function labelSelectorFromSet(set: Record<string, string> | undefined): LabelSelector {
  return { requirements: sortByKey(Object.entries(set ?? {}).map(([key, v]) => ({ key, operator: '=' as const, values: [v] }))) };
}

function requirementToString(r: LabelRequirement): string {
  const values = r.values.length === 1 ? r.values[0]! : [...r.values].sort().join(',');
  switch (r.operator) {
    case 'exists':
      return r.key;
    case '!':
      return `!${r.key}`;
    case 'in':
      return `${r.key} in (${values})`;
    case 'notin':
      return `${r.key} notin (${values})`;
    case 'gt':
      return `${r.key}>${values}`;
    case 'lt':
      return `${r.key}<${values}`;
    default:
      return `${r.key}${r.operator}${values}`;
  }
}

/**
 * The canonical string (`app=nginx,tier in (a,b)`), as upstream's Selector.String(): used for
 * Scale.status.selector and printer cells. The empty selector and the nothing selector both give ''.
 */
export function selectorToString(selector: LabelSelector): string {
  return selector.requirements.map(requirementToString).join(',');
}

/** metav1.FormatLabelSelector: the string form, `<none>` when empty, `<error>` when invalid. */
export function formatLabelSelector(obj: LabelSelectorObject | undefined | null): string {
  let s: string;
  try {
    s = selectorToString(labelSelectorFromObject(obj));
  } catch {
    // Printers show a broken selector rather than failing the whole table, as upstream does.
    return '<error>';
  }
  return s === '' ? '<none>' : s;
}

/** labels.FormatLabels: `k=v,k2=v2` sorted by key, `<none>` when empty. */
export function formatLabels(labels: Record<string, string> | undefined): string {
  const keys = Object.keys(labels ?? {}).sort();
  if (keys.length === 0) return '<none>';
  return keys.map((k) => `${k}=${labels![k]}`).join(',');
}

/**
 * Validation of a metav1 LabelSelector inside an object (ValidateLabelSelector): operators
 * supported, values present for In/NotIn and absent for Exists/DoesNotExist, keys and values valid.
 */
export function validateLabelSelector(obj: LabelSelectorObject | undefined, path: string): FieldError[] {
  if (!obj) return [];
  const errs: FieldError[] = [];
  (obj.matchExpressions ?? []).forEach((expr, i) => {
    const p = `${path}.matchExpressions[${i}]`;
    switch (expr.operator) {
      case 'In':
      case 'NotIn':
        if (!expr.values || expr.values.length === 0) errs.push(fieldRequired(`${p}.values`, 'must be specified when `operator` is \'In\' or \'NotIn\''));
        break;
      case 'Exists':
      case 'DoesNotExist':
        if (expr.values && expr.values.length > 0) errs.push({ type: 'FieldValueForbidden', field: `${p}.values`, detail: "Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'" });
        break;
      default:
        errs.push(fieldNotSupported(`${p}.operator`, expr.operator, ['In', 'NotIn', 'Exists', 'DoesNotExist']));
    }
    for (const msg of isQualifiedName(expr.key ?? '')) errs.push(fieldInvalid(`${p}.key`, expr.key ?? '', msg));
    (expr.values ?? []).forEach((v, j) => {
      for (const msg of isValidLabelValue(v)) errs.push(fieldInvalid(`${p}.values[${j}]`, v, msg));
    });
  });
  errs.push(...validateLabels(obj.matchLabels, `${path}.matchLabels`));
  return errs;
}
