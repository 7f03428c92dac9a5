/**
 * Static cost estimation of a CEL expression, the worst case of what it may cost to evaluate, as cel-go's checker
 * estimates it (checker/cost.go) with Kubernetes' estimators for its library (k8s.io/apiserver/pkg/cel/library/cost.go)
 * and for sizes taken from an OpenAPI schema (apiextensions-apiserver's schema/cel: maxLength, maxItems,
 * maxProperties; unbounded values sized by what fits in a 3 MiB request). The numbers are cel-go's cost units:
 * reading a variable or a field costs 1, a comprehension costs its step times the size of what it ranges over, and
 * string work costs a tenth of a unit per character (`contains`, comparisons, concatenation), regexes a quarter per
 * pattern character times the string's.
 *
 * The walk is over @marcbachmann/cel-js's AST (ops `value`, `id`, `.`, `[]`, `call`, `rcall`, operators). Variables
 * are `dyn` there, so types come from the schema (`sizedTypeOf`) along selection paths, and from literals and the
 * functions known to return scalars, strings or lists; an unknown size is the worst case, as upstream.
 */
import type { AstNode } from './cel-program.js';

/** cel-go's unknown size and cost (the largest uint64); sums and products saturate there. */
export const UNBOUNDED = 18446744073709551615;
/** k8s.io/apiserver/pkg/apis/cel MaxRequestSizeBytes */
export const MAX_REQUEST_SIZE_BYTES = 3 * 1024 * 1024;

const STRING_TRAVERSAL = 0.1;
const REGEX_STRING_LENGTH = 0.25;
const LIST_CREATE = 10;
const MAP_CREATE = 30;
/** The authorizer's `check` (a round trip to the authorizer). */
const AUTHORIZER_CHECK = 350_000;

export interface Range {
  min: number;
  max: number;
}

const sat = (x: number): number => (x >= UNBOUNDED || !Number.isFinite(x) ? UNBOUNDED : x);
const add = (a: Range, b: Range): Range => ({ min: sat(a.min + b.min), max: sat(a.max + b.max) });
const mul = (a: Range, b: Range): Range => ({ min: sat(a.min * b.min), max: sat(a.max * b.max) });
const factor = (a: Range, f: number): Range => ({ min: sat(Math.ceil(a.min * f)), max: sat(Math.ceil(a.max * f)) });
const union = (a: Range, b: Range): Range => ({ min: Math.min(a.min, b.min), max: Math.max(a.max, b.max) });
const fixed = (n: number): Range => ({ min: n, max: n });
const UNKNOWN: Range = { min: 0, max: UNBOUNDED };
const ZERO = fixed(0);
const ONE = fixed(1);

/** What the estimator knows of a schema type (upstream's DeclType, reduced to what sizes need). */
export interface SizedType {
  kind: 'object' | 'list' | 'map' | 'string' | 'bytes' | 'int' | 'double' | 'bool' | 'dyn' | 'duration' | 'timestamp';
  /** Largest size: characters of a string (bytes: maxLength × 4), items of a list, entries of a map; 0 for others. */
  maxElements: number;
  /** Smallest JSON serialization in bytes (sizes unbounded lists and maps, and a rule's cardinality). */
  minSerializedSize: number;
  fields?: Map<string, SizedType>;
  /** List items, map values. */
  elem?: SizedType;
}

/** The parts of an OpenAPI schema sizes depend on. */
export interface SizingSchema {
  type?: string;
  format?: string;
  enum?: unknown[];
  maxLength?: number;
  maxItems?: number;
  maxProperties?: number;
  required?: string[];
  default?: unknown;
  properties?: Record<string, SizingSchema>;
  additionalProperties?: SizingSchema | boolean;
  items?: SizingSchema;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
}

/** JSON sizes of formats (k8s.io/apiserver/pkg/cel/limits.go). */
const MAX_DURATION_SIZE_JSON = 32;
const MAX_DATETIME_SIZE_JSON = 32;
const MIN_DURATION_SIZE_JSON = 3;
const JSON_DATE_SIZE = 12;
const MIN_DATETIME_SIZE_JSON = 21;

const nonNegative = (n: number | undefined): number => Math.max(0, Math.floor(n ?? 0));

function maxStringLength(s: SizingSchema): number {
  if (s['x-kubernetes-int-or-string']) return MAX_REQUEST_SIZE_BYTES - 2;
  if (s.format === 'duration') return MAX_DURATION_SIZE_JSON;
  if (s.format === 'date') return JSON_DATE_SIZE;
  if (s.format === 'date-time') return MAX_DATETIME_SIZE_JSON;
  return MAX_REQUEST_SIZE_BYTES - 2;
}

const scalar = (kind: SizedType['kind'], minSerializedSize: number, maxElements = 0): SizedType => ({ kind, maxElements, minSerializedSize });

/**
 * A schema as CEL sees it, with sizes (upstream's SchemaDeclType, Kubernetes 1.32): undefined where the schema is not
 * exposed to CEL. `root`: the root of a resource (or an embedded one), which always has apiVersion, kind and
 * metadata.name/generateName.
 */
export function sizedTypeOf(s: SizingSchema | undefined, root = false): SizedType | undefined {
  if (!s || typeof s !== 'object') return undefined;
  if (s['x-kubernetes-int-or-string']) return scalar('dyn', 1, MAX_REQUEST_SIZE_BYTES - 2);
  if (root) {
    const str: SizingSchema = { type: 'string' };
    s = { ...s, properties: { ...s.properties, apiVersion: s.properties?.apiVersion ?? str, kind: s.properties?.kind ?? str, metadata: { type: 'object', properties: { name: str, generateName: str } } } };
  }
  switch (s.type) {
    case 'array': {
      const items = sizedTypeOf(s.items, s.items?.['x-kubernetes-embedded-resource'] === true);
      if (!items) return undefined;
      const max = s.maxItems !== undefined ? nonNegative(s.maxItems) : Math.floor((MAX_REQUEST_SIZE_BYTES - 2) / (items.minSerializedSize + 1));
      return { kind: 'list', maxElements: max, minSerializedSize: 2, elem: items };
    }
    case 'object': {
      if (s.additionalProperties && typeof s.additionalProperties === 'object') {
        const values = sizedTypeOf(s.additionalProperties, s.additionalProperties['x-kubernetes-embedded-resource'] === true);
        if (!values) return undefined;
        const max = s.maxProperties !== undefined ? nonNegative(s.maxProperties) : Math.floor((MAX_REQUEST_SIZE_BYTES - 2) / (values.minSerializedSize + 6));
        return { kind: 'map', maxElements: max, minSerializedSize: 2, elem: values };
      }
      const fields = new Map<string, SizedType>();
      const required = new Set(s.required ?? []);
      let minSize = 2;
      for (const [name, prop] of Object.entries(s.properties ?? {})) {
        const t = sizedTypeOf(prop, prop?.['x-kubernetes-embedded-resource'] === true);
        if (!t) continue;
        fields.set(name, t);
        if (required.has(name) && prop.default === undefined) minSize += name.length + t.minSerializedSize + 4;
      }
      return { kind: 'object', maxElements: 0, minSerializedSize: minSize, fields };
    }
    case 'string':
      switch (s.format) {
        case 'byte':
          return scalar('bytes', 2, s.maxLength !== undefined ? nonNegative(s.maxLength) : maxStringLength(s));
        case 'duration':
          return scalar('duration', MIN_DURATION_SIZE_JSON, maxStringLength(s));
        case 'date':
          return scalar('timestamp', JSON_DATE_SIZE, maxStringLength(s));
        case 'date-time':
          return scalar('timestamp', MIN_DATETIME_SIZE_JSON, maxStringLength(s));
      }
      // maxLength counts code points, sizes count bytes (up to 4 per code point), as upstream since 1.28.
      if (s.maxLength !== undefined) return scalar('string', 2, nonNegative(s.maxLength) * 4);
      if (s.enum?.length) return scalar('string', 2, Math.max(0, ...s.enum.map((v) => (typeof v === 'string' ? v.length : 0))));
      return scalar('string', 2, maxStringLength(s));
    case 'boolean':
      return scalar('bool', 4);
    case 'number':
      return scalar('double', 1);
    case 'integer':
      return scalar('int', 1);
  }
  return undefined;
}

/**
 * How many times a value of this minimal size can occur in one request (upstream's maxCardinality): the worst-case
 * number of evaluations of a rule under lists or maps without maxItems / maxProperties.
 */
export function maxCardinality(minSerializedSize: number): number {
  return Math.floor(MAX_REQUEST_SIZE_BYTES / (minSerializedSize + 1));
}

type ValueKind = 'string' | 'bytes' | 'list' | 'map' | 'scalar';

/** The estimate of one sub-expression: its cost, and what is known of its value. */
interface Est {
  cost: Range;
  size?: Range;
  /** The schema type the value has, when reached by selections from a variable. */
  t?: SizedType;
  kind?: ValueKind;
  /** Items or values of a list or map built by the expression. */
  elem?: Est;
}

const kindOf = (e: Est): ValueKind | undefined => {
  if (e.kind) return e.kind;
  switch (e.t?.kind) {
    case 'string':
      return 'string';
    case 'bytes':
      return 'bytes';
    case 'list':
      return 'list';
    case 'map':
    case 'object':
      return 'map';
    case 'int':
    case 'double':
    case 'bool':
    case 'duration':
    case 'timestamp':
      return 'scalar';
  }
  return undefined;
};

/** The size of a value (cel-go's sizeOrUnknown): computed, from the schema, 1 for scalars, else unknown. */
function sizeOf(e: Est): Range {
  if (e.size) return e.size;
  if (e.t) return { min: 0, max: e.t.maxElements };
  if (e.kind === 'scalar') return ONE;
  return UNKNOWN;
}

/** The items (or map values) of a list or map value. */
function elemOf(e: Est): Est {
  if (e.elem) return e.elem;
  if (e.t?.elem) return { cost: ZERO, t: e.t.elem };
  return { cost: ZERO };
}

/** Map keys: strings of the schema's key type (upstream's StringType, without a size of its own). */
function keyOf(e: Est): Est {
  if (e.t?.kind === 'map' || e.t?.kind === 'object') return { cost: ZERO, t: scalar('string', 2, 0) };
  if (e.kind === 'list' || e.t?.kind === 'list') return { cost: ZERO, kind: 'scalar' };
  return { cost: ZERO };
}

/**
 * cel-go's expansion of each macro: the fixed part (accumulator, result) and the per-item step besides the body
 * (loop condition and step): all `@not_strictly_false(__result__)` and `__result__ && p`, exists the same with `!` and
 * `||`, exists_one `p ? __result__ + 1 : __result__`, map and filter `__result__ + [x]` over a list created once.
 */
const MACRO_COSTS: Record<string, [number, number]> = { all: [1, 3], exists: [1, 4], exists_one: [2, 2], map: [LIST_CREATE + 1, 12], filter: [LIST_CREATE + 1, 13] };

const SCALAR_RESULTS = new Set([
  'size', 'int', 'uint', 'double', 'bool', 'duration', 'timestamp', 'has', 'matches', 'contains', 'startsWith', 'endsWith', 'exists', 'all',
  'exists_one', 'isSorted', 'sum', 'min', 'max', 'indexOf', 'lastIndexOf', 'isURL', 'isQuantity', 'isIP', 'isCIDR', 'isSemver', 'hasValue',
  'getPort', 'sign', 'asInteger', 'isInteger', 'asApproximateFloat', 'isGreaterThan', 'isLessThan', 'compareTo', 'allowed', 'errored',
  'type', 'getMilliseconds', 'getSeconds', 'getMinutes', 'getHours', 'getDayOfWeek', 'getDayOfMonth', 'getDayOfYear', 'getMonth', 'getFullYear',
]);
const STRING_RESULTS = new Set(['string', 'lowerAscii', 'upperAscii', 'substring', 'trim', 'replace', 'join', 'find', 'charAt', 'reverse', 'format', 'quote', 'getScheme', 'getHost', 'getHostname', 'getEscapedPath', 'reason', 'error']);

/** The variables of an expression: their schema types (self, oldSelf) or known kinds (request, object: unknown). */
export type CostVariables = Record<string, SizedType | undefined>;

class Estimator {
  private readonly scopes = new Map<string, Est[]>();

  constructor(private readonly vars: CostVariables) {}

  private push(name: string, e: Est): void {
    const stack = this.scopes.get(name) ?? [];
    stack.push(e);
    this.scopes.set(name, stack);
  }

  private pop(name: string): void {
    this.scopes.get(name)?.pop();
  }

  walk(n: AstNode): Est {
    const args = n.args as any;
    switch (n.op) {
      case 'value':
        return this.literal(args);
      case 'id': {
        const local = this.scopes.get(args as string);
        if (local?.length) return { ...local[local.length - 1]!, cost: ONE };
        const t = this.vars[args as string];
        return t ? { cost: ONE, t } : { cost: ONE };
      }
      case '.':
      case '.?': {
        const r = this.walk(args[0]);
        return { cost: add(r.cost, ONE), ...this.field(r, String(args[1])) };
      }
      case '[]':
      case '[?]': {
        const r = this.walk(args[0]);
        const i = this.walk(args[1]);
        const cost = add(add(r.cost, i.cost), ONE);
        if (r.t?.kind === 'object' && args[1]?.op === 'value' && typeof args[1].args === 'string') return { cost, ...this.field(r, args[1].args) };
        return { ...elemOf(r), cost };
      }
      case '!_':
      case '-_': {
        const r = this.walk(args as AstNode);
        return { cost: add(r.cost, ONE), kind: 'scalar' };
      }
      case '&&':
      case '||': {
        const l = this.walk(args[0]);
        const r = this.walk(args[1]);
        return { cost: { min: l.cost.min, max: sat(l.cost.max + r.cost.max) }, kind: 'scalar' };
      }
      case '?:': {
        const c = this.walk(args[0]);
        const t = this.walk(args[1]);
        const f = this.walk(args[2]);
        const out: Est = { cost: add(c.cost, union(t.cost, f.cost)), size: union(sizeOf(t), sizeOf(f)) };
        const k = kindOf(t) === kindOf(f) ? kindOf(t) : undefined;
        if (k) out.kind = k;
        if (t.t && t.t === f.t) out.t = t.t;
        return out;
      }
      case '==':
      case '!=':
      case '<':
      case '<=':
      case '>':
      case '>=': {
        // cel-go: a traversal of the shorter operand (strings, bytes, lists, maps), at least 1 when it may be non-empty.
        const l = this.walk(args[0]);
        const r = this.walk(args[1]);
        const smallest = Math.min(sizeOf(l).max, sizeOf(r).max);
        return { cost: add(factor({ min: smallest > 0 ? 1 : 0, max: smallest }, STRING_TRAVERSAL), add(l.cost, r.cost)), kind: 'scalar' };
      }
      case 'in': {
        const el = this.walk(args[0]);
        const c = this.walk(args[1]);
        const args2 = add(el.cost, c.cost);
        if (kindOf(c) === 'map') return { cost: add(ONE, args2), kind: 'scalar' };
        return { cost: add(sizeOf(c), args2), kind: 'scalar' };
      }
      case '+':
        return this.plus(this.walk(args[0]), this.walk(args[1]));
      case '-':
      case '*':
      case '/':
      case '%': {
        const l = this.walk(args[0]);
        const r = this.walk(args[1]);
        return { cost: add(ONE, add(l.cost, r.cost)), kind: 'scalar' };
      }
      case 'list': {
        let cost = fixed(LIST_CREATE);
        let elem: Est | undefined;
        for (const x of args as AstNode[]) {
          const e = this.walk(x);
          cost = add(cost, e.cost);
          elem = elem ? { cost: ZERO, size: union(sizeOf(elem), sizeOf(e)), ...(kindOf(elem) === kindOf(e) && kindOf(e) ? { kind: kindOf(e) } : {}) } : { ...e, cost: ZERO };
        }
        return { cost, size: fixed((args as AstNode[]).length), kind: 'list', elem: elem ?? { cost: ZERO, size: ZERO } };
      }
      case 'map': {
        let cost = fixed(MAP_CREATE);
        let elem: Est | undefined;
        for (const [k, v] of args as [AstNode, AstNode][]) {
          const ke = this.walk(k);
          const ve = this.walk(v);
          cost = add(cost, add(ke.cost, ve.cost));
          elem = elem ? { cost: ZERO, size: union(sizeOf(elem), sizeOf(ve)) } : { ...ve, cost: ZERO };
        }
        return { cost, size: fixed((args as unknown[]).length), kind: 'map', elem: elem ?? { cost: ZERO, size: ZERO } };
      }
      case 'call':
        return this.call(String(args[0]), undefined, (args[1] ?? []) as AstNode[]);
      case 'rcall':
        return this.call(String(args[0]), args[1] as AstNode, (args[2] ?? []) as AstNode[]);
      default: {
        // A node this walk does not know: its children's costs, one unit more, an unknown result.
        let cost = ONE;
        for (const x of Array.isArray(args) ? args : [args]) if (x && typeof x === 'object' && typeof (x as AstNode).op === 'string') cost = add(cost, this.walk(x as AstNode).cost);
        return { cost };
      }
    }
  }

  private literal(v: unknown): Est {
    if (typeof v === 'string') return { cost: ZERO, size: fixed([...v].length), kind: 'string' };
    if (v instanceof Uint8Array) return { cost: ZERO, size: fixed(v.length), kind: 'bytes' };
    return { cost: ZERO, size: ONE, kind: 'scalar' };
  }

  /** A field of an object (or a map value selected by name). */
  private field(r: Est, name: string): Omit<Est, 'cost'> {
    if (r.t?.kind === 'object') {
      const f = r.t.fields?.get(name);
      return f ? { t: f } : {};
    }
    if (r.t?.kind === 'map' && r.t.elem) return { t: r.t.elem };
    return {};
  }

  private plus(l: Est, r: Est): Est {
    const cost = add(l.cost, r.cost);
    const k = kindOf(l) ?? kindOf(r);
    if (k === 'string' || k === 'bytes') {
      const size = add(sizeOf(l), sizeOf(r));
      return { cost: add(factor(size, STRING_TRAVERSAL), cost), size, kind: k };
    }
    if (k === 'list') {
      const le = elemOf(l);
      const re = elemOf(r);
      return { cost: add(ONE, cost), size: add(sizeOf(l), sizeOf(r)), kind: 'list', elem: { cost: ZERO, size: union(sizeOf(le), sizeOf(re)), ...(le.t && le.t === re.t ? { t: le.t } : {}) } };
    }
    return { cost: add(ONE, cost), ...(k === 'scalar' ? { kind: 'scalar' as const } : {}) };
  }

  /** A macro over `range`: the iteration variable bound to its items (lists) or keys (maps). */
  private comprehension(name: string, receiver: AstNode, args: AstNode[]): Est | undefined {
    const iterVar = args[0];
    if (!iterVar || iterVar.op !== 'id' || args.length < 2) return undefined;
    const range = this.walk(receiver);
    const n = sizeOf(range);
    const item = kindOf(range) === 'map' || range.t?.kind === 'object' ? keyOf(range) : elemOf(range);
    this.push(iterVar.args as string, item);
    try {
      const body = args.slice(1).map((a) => this.walk(a));
      const b = body.reduce((s, e) => add(s, e.cost), ZERO);
      const [fixedCost, step] = MACRO_COSTS[name] ?? [1, 4];
      const cost = add(add(range.cost, fixed(fixedCost)), mul(n, add(fixed(step), b)));
      if (name === 'map') return { cost, size: n, kind: 'list', elem: { ...body[body.length - 1]!, cost: ZERO } };
      if (name === 'filter') return { cost, size: n, kind: 'list', elem: item };
      return { cost, kind: 'scalar' };
    } finally {
      this.pop(iterVar.args as string);
    }
  }

  private call(name: string, receiverNode: AstNode | undefined, argNodes: AstNode[]): Est {
    if (receiverNode && ['all', 'exists', 'exists_one', 'map', 'filter'].includes(name)) {
      const c = this.comprehension(name, receiverNode, argNodes);
      if (c) return c;
    }
    // cel.bind(x, init, result): the list cel-go ranges over (empty), init once, result with x bound.
    if (name === 'bind' && receiverNode?.op === 'id' && receiverNode.args === 'cel' && argNodes.length === 3 && argNodes[0]!.op === 'id') {
      const init = this.walk(argNodes[1]!);
      this.push(argNodes[0]!.args as string, { ...init, cost: ZERO });
      try {
        const result = this.walk(argNodes[2]!);
        return { ...result, cost: add(fixed(LIST_CREATE), add(init.cost, result.cost)) };
      } finally {
        this.pop(argNodes[0]!.args as string);
      }
    }
    // has(a.b): a presence test costs 1 plus its operand.
    if (name === 'has' && !receiverNode && argNodes.length === 1 && (argNodes[0]!.op === '.' || argNodes[0]!.op === '.?')) {
      const operand = this.walk((argNodes[0]!.args as AstNode[])[0]!);
      return { cost: add(ONE, operand.cost), kind: 'scalar' };
    }
    const target = receiverNode && !(receiverNode.op === 'id' && (receiverNode.args === 'sets' || receiverNode.args === 'strings')) ? this.walk(receiverNode) : undefined;
    const args = argNodes.map((a) => this.walk(a));
    const argCost = args.reduce((s, e) => add(s, e.cost), target?.cost ?? ZERO);
    const T = target ? sizeOf(target) : args[0] ? sizeOf(args[0]) : UNKNOWN;
    const A0 = args[0] ? sizeOf(args[0]) : UNKNOWN;
    const A1 = args[1] ? sizeOf(args[1]) : UNKNOWN;
    const out = (cost: Range, rest: Omit<Est, 'cost'> = {}): Est => ({ ...this.resultKind(name), ...rest, cost: add(cost, argCost) });
    switch (name) {
      case 'dyn':
        return args[0] ? { ...args[0], cost: add(ONE, argCost) } : out(ONE);
      case 'contains':
        if (target && kindOf(target) !== 'list') return out(mul(factor(T, STRING_TRAVERSAL), factor(A0, STRING_TRAVERSAL)));
        break;
      case 'startsWith':
      case 'endsWith':
        return out(factor(A0, STRING_TRAVERSAL));
      case 'matches':
        if (target) return out(mul(factor(add(T, ONE), STRING_TRAVERSAL), factor(A0, REGEX_STRING_LENGTH)));
        if (args.length === 2) return out(mul(factor(add(A0, ONE), STRING_TRAVERSAL), factor(A1, REGEX_STRING_LENGTH)));
        break;
      case 'find':
      case 'findAll':
        if (target) return out(mul(factor(add(T, ONE), STRING_TRAVERSAL), factor(A0, REGEX_STRING_LENGTH)), { size: { min: 0, max: T.max }, ...(name === 'findAll' ? { kind: 'list' as const } : {}) });
        break;
      case 'lowerAscii':
      case 'upperAscii':
      case 'substring':
      case 'trim':
        if (target) return out(factor(T, STRING_TRAVERSAL), { size: T });
        break;
      case 'replace':
        if (target) return out(factor(T, 2 * STRING_TRAVERSAL), { size: this.replacedSize(T, A0, A1) });
        break;
      case 'split':
        if (target) {
          const limit = argNodes[1]?.op === 'value' && typeof argNodes[1].args === 'bigint' ? Number(argNodes[1].args) : T.max;
          return out(factor(T, 2 * STRING_TRAVERSAL), { size: { min: 0, max: limit }, kind: 'list' });
        }
        break;
      case 'join':
        if (target) {
          let size = mul(T, sizeOf(elemOf(target)));
          if (args[0]) size = add(size, mul(A0, { min: Math.max(0, T.min - 1), max: Math.max(0, T.max - 1) }));
          return out(factor(size, STRING_TRAVERSAL), { size });
        }
        break;
      case 'isSorted':
      case 'sum':
      case 'min':
      case 'max':
      case 'indexOf':
      case 'lastIndexOf':
        if (target && kindOf(target) === 'list') {
          const el = elemOf(target);
          const elCost = kindOf(el) === 'string' || kindOf(el) === 'bytes' ? add(ONE, factor(sizeOf(el), STRING_TRAVERSAL)) : ONE;
          if (name !== 'min' && name !== 'max') return out(mul(T, elCost));
          const { cost: _elemCost, ...item } = el;
          return out(mul(T, elCost), item);
        }
        if (target) return out(factor(T, STRING_TRAVERSAL));
        break;
      case 'url':
      case 'quantity':
      case 'isQuantity':
      case 'semver':
      case 'isSemver':
      case 'cidr':
      case 'isIP':
      case 'isCIDR':
      case 'isURL':
        if (args[0]) return out(factor(A0, STRING_TRAVERSAL));
        break;
      case 'ip':
        if (args[0] && !target) return out(factor(A0, STRING_TRAVERSAL));
        break;
      case 'format':
        if (target) return out(factor(T, STRING_TRAVERSAL));
        break;
      case 'check':
        return out(fixed(AUTHORIZER_CHECK));
      case 'size':
        return out(ONE, { kind: 'scalar' });
    }
    // cel-go's ext sets: the product of the two lists' sizes.
    if (receiverNode?.op === 'id' && receiverNode.args === 'sets' && args.length === 2) return out(mul(A0, A1), { kind: 'scalar' });
    return out(ONE);
  }

  private resultKind(name: string): Omit<Est, 'cost'> {
    if (SCALAR_RESULTS.has(name)) return { kind: 'scalar' };
    if (STRING_RESULTS.has(name)) return { kind: 'string' };
    return {};
  }

  /** upstream's size of `s.replace(old, new)` (max side; the min side follows it). */
  private replacedSize(s: Range, from: Range, to: Range): Range {
    let count = 0;
    let retained = s.max;
    if (from.min === 0) count = s.max < UNBOUNDED ? s.max + 1 : s.max;
    else if (to.max <= from.min) count = 0;
    else {
      count = Math.ceil(s.max / from.min);
      retained = 0;
    }
    return { min: 0, max: sat(sat(count * to.max) + retained) };
  }
}

/** The estimated cost range of a parsed expression over variables of these types. */
export function estimateCost(ast: AstNode, vars: CostVariables): Range {
  return new Estimator(vars).walk(ast).cost;
}
