/**
 * Field selectors (`?fieldSelector=metadata.name=web,status.phase!=Running`), following
 * k8s.io/apimachinery/pkg/fields/selector.go: terms split on unescaped commas, operators `!=`, `==`
 * and `=`, values unescaped (`\,` `\=` `\\`). Which fields a kind supports is the registry's business;
 * `checkFieldSelector` rejects the others with the message the real server gives for that kind.
 */
import { badRequest } from './status.js';

export interface FieldRequirement {
  field: string;
  operator: '=' | '!=';
  /** Unescaped value. */
  value: string;
}

export interface FieldSelector {
  /** ANDed. Empty selects everything. */
  requirements: FieldRequirement[];
}

/** Returns the value of a field of an object, or undefined when the kind has no such field. */
export type FieldGetter = (field: string) => string | undefined;

function splitTerms(s: string): string[] {
  if (s === '') return [];
  const terms: string[] = [];
  let start = 0;
  let inSlash = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (inSlash) inSlash = false;
    else if (c === '\\') inSlash = true;
    else if (c === ',') {
      terms.push(s.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(s.slice(start));
  return terms;
}

/** `!=` and `==` are tried before `=` at each position, so `a==b` does not leave '=' in the value. */
function splitTerm(term: string): { lhs: string; op: '=' | '==' | '!='; rhs: string } | undefined {
  for (let i = 0; i < term.length; i++) {
    for (const op of ['!=', '==', '='] as const) {
      if (term.startsWith(op, i)) return { lhs: term.slice(0, i), op, rhs: term.slice(i + op.length) };
    }
  }
  return undefined;
}

function unescapeValue(s: string): string {
  if (!/[\\,=]/.test(s)) return s;
  let out = '';
  let inSlash = false;
  for (const c of s) {
    if (inSlash) {
      if (c === '\\' || c === ',' || c === '=') {
        out += c;
        inSlash = false;
        continue;
      }
      throw badRequest(`invalid field selector: invalid escape sequence: \\${c}`);
    }
    if (c === '\\') inSlash = true;
    // Go formats the rune with %v, which prints its code point: ',' is 44 and '=' is 61.
    else if (c === ',' || c === '=') throw badRequest(`invalid field selector: unescaped character in value: ${c.codePointAt(0)}`);
    else out += c;
  }
  if (inSlash) throw badRequest('invalid field selector: invalid escape sequence: \\');
  return out;
}

/** Escapes a value for use in a selector string (fields.EscapeValue). */
export function escapeFieldValue(s: string): string {
  return s.replace(/[\\,=]/g, (c) => `\\${c}`);
}

/** Parses a `fieldSelector` query value; throws a 400 BadRequest StatusError on bad syntax. */
export function parseFieldSelector(s: string): FieldSelector {
  // Upstream sorts the raw terms before parsing, which fixes the order of requirements.
  const terms = splitTerms(s).sort();
  const requirements: FieldRequirement[] = [];
  for (const term of terms) {
    if (term === '') continue;
    const parts = splitTerm(term);
    if (!parts) throw badRequest(`invalid selector: '${s}'; can't understand '${term}'`);
    requirements.push({ field: parts.lhs, operator: parts.op === '!=' ? '!=' : '=', value: unescapeValue(parts.rhs) });
  }
  return { requirements };
}

/** Fields every kind supports. */
export const metadataFields: readonly string[] = ['metadata.name', 'metadata.namespace'];

/**
 * Rejects fields a kind does not know, with the real server's wording: kinds with their own field
 * label conversion (pods, events, nodes, ...; `legacyMessage`) say `field label not supported: X`;
 * the others use the default conversion's `"X" is not a known field selector: only "metadata.name", "metadata.namespace"`.
 */
export function checkFieldSelector(selector: FieldSelector, supported: ReadonlySet<string>, legacyMessage: boolean): void {
  for (const r of selector.requirements) {
    if (supported.has(r.field)) continue;
    throw badRequest(
      legacyMessage ? `field label not supported: ${r.field}` : `${JSON.stringify(r.field)} is not a known field selector: only "metadata.name", "metadata.namespace"`,
    );
  }
}

/** True when every requirement holds; a field the getter does not know compares as ''. */
export function fieldSelectorMatches(selector: FieldSelector, get: FieldGetter): boolean {
  return selector.requirements.every((r) => {
    const v = get(r.field) ?? '';
    return r.operator === '=' ? v === r.value : v !== r.value;
  });
}

/** The value a selector pins a field to (`metadata.name=x` → 'x'), used to turn list/watch into a get. */
export function requiresExactMatch(selector: FieldSelector, field: string): string | undefined {
  return selector.requirements.find((r) => r.field === field && r.operator === '=')?.value;
}

export function fieldSelectorToString(selector: FieldSelector): string {
  return selector.requirements.map((r) => `${r.field}${r.operator}${escapeFieldValue(r.value)}`).join(',');
}
