/**
 * The simple JSONPath of CRD printer columns, selectable fields and scale paths (`.spec.replicas`,
 * `.status.conditions[?(@.type=="Ready")].status`, `.metadata.labels['app']`, `.items[0]`, `.items[*].name`):
 * compiled once per CRD, evaluated per object to the values found, in order.
 */

type Step = { field: string } | { index: number } | { all: true } | { filter: { path: string[]; value: unknown } };

export class JsonPath {
  private readonly steps: Step[];

  /** Throws an Error naming the problem for paths outside this subset. */
  constructor(readonly expression: string) {
    this.steps = parse(expression);
  }

  /** Every value the path reaches in obj (empty when none). */
  find(obj: unknown): unknown[] {
    let current: unknown[] = [obj];
    for (const step of this.steps) {
      const next: unknown[] = [];
      for (const v of current) {
        if ('field' in step) {
          if (v && typeof v === 'object' && !Array.isArray(v) && Object.hasOwn(v, step.field)) next.push((v as Record<string, unknown>)[step.field]);
        } else if ('index' in step) {
          if (Array.isArray(v)) {
            const i = step.index < 0 ? v.length + step.index : step.index;
            if (i >= 0 && i < v.length) next.push(v[i]);
          }
        } else if ('all' in step) {
          if (Array.isArray(v)) next.push(...v);
          else if (v && typeof v === 'object') next.push(...Object.values(v));
        } else {
          const { path, value } = step.filter;
          if (!Array.isArray(v)) continue;
          for (const item of v) {
            let x: unknown = item;
            for (const f of path) x = x && typeof x === 'object' ? (x as Record<string, unknown>)[f] : undefined;
            if (x === value || (x !== undefined && String(x) === String(value))) next.push(item);
          }
        }
      }
      current = next;
    }
    return current;
  }

  /** The first value found, or undefined. */
  first(obj: unknown): unknown {
    return this.find(obj)[0];
  }
}

function parse(expr: string): Step[] {
  let s = expr.trim();
  if (s.startsWith('{') && s.endsWith('}')) s = s.slice(1, -1);
  if (s.startsWith('$')) s = s.slice(1);
  if (!s.startsWith('.') && !s.startsWith('[')) throw new Error(`must be a simple json path starting with "."`);
  const steps: Step[] = [];
  let i = 0;
  while (i < s.length) {
    if (s[i] === '.') {
      i++;
      let j = i;
      while (j < s.length && s[j] !== '.' && s[j] !== '[') j++;
      const field = s.slice(i, j);
      if (field === '') throw new Error(`empty field name at ${i} in ${JSON.stringify(expr)}`);
      steps.push(field === '*' ? { all: true } : { field });
      i = j;
    } else if (s[i] === '[') {
      const end = closing(s, i);
      const inner = s.slice(i + 1, end).trim();
      i = end + 1;
      if (inner === '*') steps.push({ all: true });
      else if (/^-?\d+$/.test(inner)) steps.push({ index: Number(inner) });
      else if (/^'[^']*'$|^"[^"]*"$/.test(inner)) steps.push({ field: inner.slice(1, -1) });
      else {
        const m = /^\?\(@((?:\.[\w-]+)+)\s*==\s*(?:'([^']*)'|"([^"]*)"|(-?\d+(?:\.\d+)?|true|false))\)$/.exec(inner);
        if (!m) throw new Error(`unsupported expression [${inner}] in ${JSON.stringify(expr)}`);
        const value = m[2] ?? m[3] ?? JSON.parse(m[4]);
        steps.push({ filter: { path: m[1].slice(1).split('.'), value } });
      }
    } else {
      throw new Error(`unexpected ${JSON.stringify(s[i])} at ${i} in ${JSON.stringify(expr)}`);
    }
  }
  return steps;
}

function closing(s: string, open: number): number {
  let quote: string | undefined;
  for (let i = open + 1; i < s.length; i++) {
    const c = s[i];
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === ']') return i;
  }
  throw new Error(`unclosed [ in ${JSON.stringify(s)}`);
}
