/**
 * Compiling and running CEL expressions as Kubernetes does (k8s.io/apiserver/pkg/cel): one environment per set of
 * declared variables with the Kubernetes libraries (kubernetes-library.ts) and optional types, every expression
 * parsed and type-checked once and cached, and every evaluation bounded by a cost budget so no expression can hold
 * the server: comprehensions (all, exists, exists_one, map, filter) are charged one unit per element they visit,
 * and an evaluation that passes the per-call limit stops with upstream's `operation cancelled: actual cost limit
 * exceeded`. Without loops, an expression's other work is bounded by its length and the size of its inputs (both
 * bounded by the request size), so the comprehension count is what can grow without bound.
 *
 * Variables are declared `dyn`: the library checks syntax, undeclared names, unknown functions and literal types at
 * compile time; field types are checked when the expression runs (Kubernetes checks them against the OpenAPI schema
 * when the rule is written; see README).
 */
import { Environment } from '@marcbachmann/cel-js';
import { CelLibraryError, registerKubernetesLibrary } from './kubernetes-library.js';
import { re2Problem } from './regex.js';

/**
 * The per-evaluation budget in elements visited by comprehensions. Kubernetes' per-call limit (celconfig.PerCallLimit)
 * is 1,000,000 cost units, and one comprehension step costs a few units (the step's own operations), so a quarter of
 * that is the comparable count; it bounds one evaluation to about 0.1 s here.
 */
export const PER_CALL_LIMIT = 250_000;

export const COST_EXCEEDED = 'operation cancelled: actual cost limit exceeded';

/**
 * What all the evaluations for one object may spend together: upstream's RuntimeCELCostBudget is ten per-call limits
 * (for all rules of a custom object; for one binding's validations and messages of a policy, per param).
 */
export const RUNTIME_COST_BUDGET = 10 * PER_CALL_LIMIT;
/** upstream's words when that budget runs out */
export const BUDGET_EXHAUSTED = 'validation failed due to running out of cost budget, no further validation rules will be run';

/** A budget several evaluations spend from (`remaining` goes down by each evaluation's cost). */
export interface CelBudget {
  remaining: number;
}

/** A compile failure; `message` is the `compilation failed: ERROR: <input>:L:C: ...` text Kubernetes reports. */
export class CelCompileError {
  constructor(readonly message: string) {}
}

/** A failed evaluation: `message` in cel-go's words (`no such key: x`, `division by zero`, the cost limit). */
export class CelEvalError extends Error {
  /** `costExceeded`: the per-call limit or the budget ran out; `budgetExhausted`: the shared budget did. */
  constructor(message: string, readonly costExceeded = false, readonly budgetExhausted = false) {
    super(message);
    this.name = 'CelEvalError';
  }
}

export interface CelProgram {
  readonly expression: string;
  /** The checked result type (`bool`, `string`, `dyn`, ...). */
  readonly resultType: string;
  /** True when the expression names `oldSelf` (a transition rule, evaluated only on updates that have an old value). */
  readonly usesOldSelf: boolean;
  /**
   * Runs the expression; throws CelEvalError. `activation` maps variable names to CEL values (values.ts). With a
   * `budget`, the evaluation also stops when the budget runs out (BUDGET_EXHAUSTED) and spends from it.
   */
  evaluate(activation: Record<string, unknown>, budget?: CelBudget): unknown;
  /** The parsed expression (the library's AST), for static checks such as field selections against a schema. */
  readonly ast: AstNode;
}

type Parsed = ReturnType<Environment['parse']>;

/** The parts of the library's AST nodes used here: `op` ('id', '.', '.?', '[]', 'rcall', ...), `args`, `pos`. */
export interface AstNode {
  op: string;
  args: unknown;
  pos?: number;
  handle?: (...a: unknown[]) => unknown;
}
type AstLike = AstNode;

const environments = new Map<string, Environment>();

/** The environment declaring these variables, built once. */
function environmentFor(variables: readonly string[]): Environment {
  const key = variables.join(',');
  let env = environments.get(key);
  if (!env) {
    env = registerKubernetesLibrary(new Environment({ enableOptionalTypes: true, homogeneousAggregateLiterals: false, limits: { maxAstNodes: 10000, maxDepth: 250, maxListElements: 10000, maxMapEntries: 10000, maxCallArguments: 32 } }));
    // `name` is declared dyn; `name:type` with that type (optionalOldSelf rules declare `oldSelf:optional<dyn>`).
    for (const v of variables) {
      const at = v.indexOf(':');
      if (at < 0) env.registerVariable(v, 'dyn');
      else env.registerVariable(v.slice(0, at), v.slice(at + 1));
    }
    environments.set(key, env);
  }
  return env;
}

// The evaluation in progress: CEL evaluation is synchronous here (no async functions are registered), so one
// counter (and its limit: the per-call limit, or less when a budget has less left) serves all of them.
let spent = 0;
let limit = PER_CALL_LIMIT;

function charge(items: unknown): void {
  const n = Array.isArray(items) ? items.length : items instanceof Map ? items.size : items && typeof items === 'object' ? Object.keys(items).length : 1;
  spent += n + 1;
  if (spent > limit) throw overLimit();
}

function overLimit(): CelEvalError {
  return limit < PER_CALL_LIMIT ? new CelEvalError(BUDGET_EXHAUSTED, true, true) : new CelEvalError(COST_EXCEEDED, true);
}

function isNode(v: unknown): v is AstLike {
  return typeof v === 'object' && v !== null && typeof (v as AstLike).op === 'string' && 'args' in v;
}

/** Every AST node under root, with macros' expansions (meta.alternate). */
export function walkAst(root: AstLike, visit: (n: AstLike) => void): void {
  const seen = new Set<unknown>();
  const stack: unknown[] = [root];
  while (stack.length) {
    const v = stack.pop();
    if (typeof v !== 'object' || v === null || seen.has(v)) continue;
    seen.add(v);
    if (Array.isArray(v)) {
      stack.push(...v);
      continue;
    }
    if (isNode(v)) {
      visit(v);
      const meta = (v as unknown as { meta?: { alternate?: unknown } }).meta;
      if (meta?.alternate) stack.push(meta.alternate);
      stack.push(v.args);
      continue;
    }
    for (const x of Object.values(v)) if (typeof x === 'object') stack.push(x);
  }
}

/** The cel-go shaped compile error text for a library error at a source position. */
function compileErrorText(expression: string, err: unknown): string {
  const e = err as { summary?: string; message?: string; range?: { start: number } };
  const summary = (e.summary ?? e.message ?? String(err)).split('\n')[0]!;
  const pos = e.range?.start ?? 0;
  const before = expression.slice(0, pos);
  const line = before.split('\n').length;
  const col = pos - (before.lastIndexOf('\n') + 1);
  const text = expression.split('\n')[line - 1] ?? '';
  return `compilation failed: ERROR: <input>:${line}:${col + 1}: ${summary}\n | ${text}\n | ${'.'.repeat(col)}^`;
}

function evalMessage(err: unknown): string {
  if (err instanceof CelEvalError) return err.message;
  if (err instanceof CelLibraryError) return err.message;
  const e = err as { summary?: string; message?: string };
  const m = (e.summary ?? e.message ?? String(err)).split('\n')[0]!;
  // cel-go words its runtime errors in lower case: "no such key: x", "no such overload".
  return m.replace(/^No such key/, 'no such key').replace(/^Unknown variable/, 'undeclared reference to');
}

const cache = new Map<string, CelProgram | CelCompileError>();
const CACHE_LIMIT = 5000;

export type ExpectedType = 'bool' | 'string' | 'string-or-null' | 'any';

/**
 * Compiles (or returns the cached program of) `expression` in the environment declaring `variables`. `expect` is the
 * type the result must have; a statically different type is a compile error.
 */
export function compileCel(expression: string, variables: readonly string[], expect: ExpectedType = 'bool'): CelProgram | CelCompileError {
  const key = `${variables.join(',')}\u0000${expect}\u0000${expression}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const compiled = compileUncached(expression, variables, expect);
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(key, compiled);
  return compiled;
}

function compileUncached(expression: string, variables: readonly string[], expect: ExpectedType): CelProgram | CelCompileError {
  const env = environmentFor(variables);
  let parsed: Parsed;
  try {
    parsed = env.parse(expression);
  } catch (err) {
    return new CelCompileError(compileErrorText(expression, err));
  }
  const checked = parsed.check();
  if (!checked.valid) return new CelCompileError(compileErrorText(expression, checked.error));
  const resultType = checked.type ?? 'dyn';
  if (expect === 'bool' && resultType !== 'bool' && resultType !== 'dyn') return new CelCompileError(`compilation failed: cel expression must evaluate to a bool, got ${resultType}`);
  if (expect === 'string' && resultType !== 'string' && resultType !== 'dyn') return new CelCompileError(`compilation failed: must evaluate to string, got ${resultType}`);
  if (expect === 'string-or-null' && !['string', 'dyn', 'null', 'null_type', 'optional<string>'].includes(resultType)) return new CelCompileError(`compilation failed: must evaluate to one of [string null_type], got ${resultType}`);

  let usesOldSelf = false;
  let regexError: string | undefined;
  walkAst(parsed.ast as unknown as AstLike, (n) => {
    if (n.op === 'id' && n.args === 'oldSelf') usesOldSelf = true;
    // A literal pattern is checked as RE2 when the expression is written, as cel-go does.
    if (n.op === 'rcall' && Array.isArray(n.args) && ['matches', 'find', 'findAll'].includes(n.args[0] as string)) {
      const arg = (n.args[2] as AstLike[] | undefined)?.[0];
      if (arg && arg.op === 'value' && typeof arg.args === 'string') regexError ??= re2Problem(arg.args);
    }
    if (n.op === 'comprehension' && typeof n.handle === 'function') {
      const inner = n.handle;
      n.handle = (items: unknown, ...rest: unknown[]) => {
        charge(items);
        return inner(items, ...rest);
      };
    }
  });
  if (regexError) return new CelCompileError(`compilation failed: ERROR: <input>:1:1: ${regexError}`);

  return {
    expression,
    resultType,
    usesOldSelf,
    ast: parsed.ast as unknown as AstNode,
    evaluate(activation, budget) {
      const outer = spent;
      const outerLimit = limit;
      spent = 0;
      limit = budget ? Math.min(PER_CALL_LIMIT, budget.remaining) : PER_CALL_LIMIT;
      try {
        const value = parsed(activation);
        if (spent > limit) throw overLimit();
        return value;
      } catch (err) {
        if (spent > limit) throw overLimit();
        if (err instanceof CelEvalError) throw err;
        throw new CelEvalError(evalMessage(err));
      } finally {
        if (budget) budget.remaining -= spent;
        spent = outer;
        limit = outerLimit;
      }
    },
  };
}

export function isCompileError(p: CelProgram | CelCompileError): p is CelCompileError {
  return p instanceof CelCompileError;
}
