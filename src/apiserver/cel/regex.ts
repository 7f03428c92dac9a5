/**
 * Regular expressions for CEL's matches(), find() and findAll(). CEL specifies RE2: matching time linear in the
 * input. JavaScript's engine backtracks, so a rule like `self.matches('(a+)+$')` could hold the event loop for
 * minutes; V8's linear-time engine takes over from a backtracking one that runs away
 * (--enable-experimental-regexp-engine-on-excessive-backtracks, set once when this module loads; it changes no
 * result, only how a pathological match is computed). RE2 features JavaScript lacks are translated (leading `(?i)`,
 * `(?s)`, `(?m)` flag groups); JavaScript features RE2 lacks (look-around, back-references) are refused, as
 * Kubernetes refuses them when the rule is written.
 */
import v8 from 'node:v8';

v8.setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');

const cache = new Map<string, RegExp>();
const CACHE_LIMIT = 1000;

/** Why pattern is not valid RE2, or undefined when it is. */
export function re2Problem(pattern: string): string | undefined {
  if (/\(\?<?[=!]/.test(pattern)) return `error parsing regexp: invalid or unsupported Perl syntax: \`${/\(\?<?[=!]/.exec(pattern)![0]}\``;
  if (/(^|[^\\])\\[1-9]/.test(pattern)) return `error parsing regexp: invalid escape sequence: \`${/\\[1-9]/.exec(pattern)![0]}\``;
  try {
    translate(pattern, '');
    return undefined;
  } catch (err) {
    return `error parsing regexp: ${(err as Error).message}`;
  }
}

function translate(pattern: string, flags: string): RegExp {
  let source = pattern;
  const m = /^\(\?([imsU]+)\)/.exec(source);
  if (m) {
    source = source.slice(m[0].length);
    for (const f of m[1]!) if (f !== 'U' && !flags.includes(f)) flags += f;
  }
  return new RegExp(source, flags);
}

/** The compiled pattern (cached); `global` for findAll. Throws an Error with RE2-like wording for a bad pattern. */
export function compileRegex(pattern: string, global = false): RegExp {
  const key = global ? `g${pattern}` : `-${pattern}`;
  let re = cache.get(key);
  if (re) return re;
  const problem = re2Problem(pattern);
  if (problem) throw new Error(problem);
  re = translate(pattern, global ? 'g' : '');
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(key, re);
  return re;
}
