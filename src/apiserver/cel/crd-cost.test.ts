/**
 * CEL cost limits of CRD rules against upstream's figures: the per-item cost of `self.all(x, x.contains('gpu'))` over
 * strings of maxLength 16/63/253/1024 (11, 30, 106, 414 units, so maxItems 909,090 is the largest accepted with
 * maxLength 16), unbounded lists and strings refused "by more than 100x", cardinality from the lists above a rule,
 * messageExpression costs, the per-CRD total, and the messages in upstream's words.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compileCel, isCompileError } from './cel-program.js';
import { estimateCost, sizedTypeOf, UNBOUNDED, type SizingSchema } from './cost-estimator.js';
import { costErrorMessage, estimateSchemaRuleCosts } from './crd-cost.js';
import type { RuleSchema } from './crd-rules.js';

const BASE = 'spec.versions[0].schema.openAPIV3Schema';
const SUGGESTION = '(try simplifying the rule, or adding maxItems, maxProperties, and maxLength where arrays, maps, and strings are declared)';

function cost(expression: string, self: SizingSchema, vars: string[] = ['self', 'oldSelf']): number {
  const p = compileCel(expression, vars, 'any');
  assert.ok(!isCompileError(p), String((p as { message?: string }).message));
  const t = sizedTypeOf(self);
  return estimateCost(p.ast, { self: t, oldSelf: t }).max;
}

const tags = (maxItems: number | undefined, maxLength: number | undefined, rule = "self.all(x, x.contains('gpu'))"): RuleSchema =>
  ({
    type: 'object',
    properties: {
      spec: {
        type: 'object',
        properties: { tags: { type: 'array', ...(maxItems !== undefined ? { maxItems } : {}), items: { type: 'string', ...(maxLength !== undefined ? { maxLength } : {}) }, 'x-kubernetes-validations': [{ rule }] } },
      },
    },
  }) as RuleSchema;

describe('CEL cost estimation', () => {
  test("per item of self.all(x, x.contains('gpu')): 11, 30, 106, 414 units for maxLength 16, 63, 253, 1024", () => {
    for (const [maxLength, perItem] of [[16, 11], [63, 30], [253, 106], [1024, 414]] as const) {
      const list = (n: number): SizingSchema => ({ type: 'array', maxItems: n, items: { type: 'string', maxLength } });
      assert.equal(cost("self.all(x, x.contains('gpu'))", list(1000)) - cost("self.all(x, x.contains('gpu'))", list(999)), perItem, `maxLength ${maxLength}`);
    }
    assert.equal(cost("self.all(x, x.contains('gpu'))", { type: 'array', maxItems: 10, items: { type: 'string', maxLength: 16 } }), 2 + 10 * 11);
  });

  test('sizes: literals, schema bounds, enums, formats; unknown sizes are the worst case', () => {
    const obj: SizingSchema = { type: 'object', properties: { name: { type: 'string', maxLength: 10 }, mode: { type: 'string', enum: ['a', 'bbbb'] }, at: { type: 'string', format: 'date-time' }, free: { type: 'string' }, n: { type: 'integer' } } };
    // A comparison costs a tenth of the shorter side: 'abc' (3) against name (40 bytes) -> 1, plus 2 selections.
    assert.equal(cost("self.name == 'abc'", obj), 3);
    assert.equal(cost("self.name.startsWith('abcdefghijklmnopqrstu')", obj), 2 + 3);
    assert.equal(cost("self.mode.matches('^b+$')", obj), 2 + Math.ceil(0.5) * Math.ceil(4 * 0.25));
    assert.equal(cost('self.n + 1 > 3', obj), 2 + 1 + 1);
    assert.equal(cost("self.free.contains('x')", obj), 2 + Math.ceil((3 * 1024 * 1024 - 2) * 0.1));
    // string() of a value has no known size: concatenating it is the worst case (as upstream refuses it).
    assert.ok(cost("'n is ' + string(self.n)", obj) >= UNBOUNDED / 10);
    assert.ok(cost("size(self.at) > 0 && has(self.name) && self.name.lowerAscii() == 'x'", obj) < 20);
  });

  test('comprehensions multiply by the size of what they range over; nesting multiplies again', () => {
    const list: SizingSchema = { type: 'array', maxItems: 100, items: { type: 'integer' } };
    const one = cost('self.exists(x, x == 1)', list);
    const nested = cost('self.all(x, self.exists(y, x == y))', list);
    assert.ok(one < 1000, String(one));
    assert.ok(nested > 100 * (one - 2), `${nested} vs ${one}`);
    assert.equal(cost('self.map(x, x * 2).filter(y, y > 1).size() > 0', list) > cost('self.map(x, x * 2).size() > 0', list), true);
    // cel.bind evaluates its value once.
    assert.ok(cost('cel.bind(xs, self.filter(x, x > 1), xs.size() + xs.size() > 2)', list) < 2 * cost('self.filter(x, x > 1).size() > 2', list));
  });
});

describe('CRD rule cost limits', () => {
  test('maxItems 909,090 of maxLength 16 fits; one more item is refused with upstream\'s message and factor', () => {
    assert.deepEqual(estimateSchemaRuleCosts(tags(909_090, 16), BASE), []);
    const errs = estimateSchemaRuleCosts(tags(909_091, 16), BASE);
    assert.deepEqual(errs, [
      { type: 'FieldValueForbidden', field: `${BASE}.properties[spec].properties[tags].x-kubernetes-validations[0].rule`, detail: `Forbidden: estimated rule cost exceeds budget by factor of 1.000000x ${SUGGESTION}` },
    ]);
  });

  test('an unbounded list of unbounded strings: the rule, its share of the total, and the total, all "more than 100x"', () => {
    const errs = estimateSchemaRuleCosts(tags(undefined, undefined), BASE);
    const rule = `${BASE}.properties[spec].properties[tags].x-kubernetes-validations[0].rule`;
    assert.deepEqual(errs.map((e) => [e.field, e.detail]), [
      [rule, `Forbidden: estimated rule cost exceeds budget by factor of more than 100x ${SUGGESTION}`],
      [rule, 'Forbidden: contributed to estimated rule cost total exceeding cost limit for entire OpenAPIv3 schema'],
      [BASE, `Forbidden: x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema exceeds budget by factor of more than 100x ${SUGGESTION}`],
    ]);
  });

  test('a rule runs once per item of the lists above it: maxItems multiply; unbounded ones count what fits in 3 MiB', () => {
    const items = (maxItems?: number): RuleSchema =>
      ({ type: 'object', properties: { list: { type: 'array', ...(maxItems ? { maxItems } : {}), items: { type: 'object', properties: { name: { type: 'string', maxLength: 253 } }, 'x-kubernetes-validations': [{ rule: "self.name.startsWith('x')" }] } } } }) as RuleSchema;
    assert.deepEqual(estimateSchemaRuleCosts(items(1000), BASE), []);
    // Unbounded: 3 MiB / 3 bytes per {} item is about a million evaluations of 3 units: still under 10 million.
    assert.deepEqual(estimateSchemaRuleCosts(items(), BASE), []);
    const heavy = { ...items(), properties: { list: { ...(items().properties!.list as object), items: { type: 'object', properties: { name: { type: 'string', maxLength: 253 } }, 'x-kubernetes-validations': [{ rule: "self.name.contains('xyz')" }] } } } } as RuleSchema;
    // 104 units (a 1012-byte string searched) x 1,048,576 items of at least 3 bytes: 10.9 times the limit.
    assert.match(estimateSchemaRuleCosts(heavy, BASE)[0]!.detail, /^Forbidden: estimated rule cost exceeds budget by factor of 10\.9x /);
  });

  test('messageExpression is limited on its own (not multiplied); rules that do not compile are left to compile errors', () => {
    const s = { type: 'object', properties: { n: { type: 'integer' } }, 'x-kubernetes-validations': [{ rule: 'self.n > 0', messageExpression: "'n is ' + string(self.n)" }, { rule: 'self.n >' }] } as RuleSchema;
    const errs = estimateSchemaRuleCosts(s, BASE);
    assert.equal(errs[0]!.field, `${BASE}.x-kubernetes-validations[0].messageExpression`);
    assert.equal(errs[0]!.detail, `Forbidden: estimated messageExpression cost exceeds budget by factor of more than 100x ${SUGGESTION}`);
    assert.ok(!errs.some((e) => e.field.includes('[1]')));
  });

  test('the total per schema: eleven rules of 9.5 million each pass one by one and fail together, the 4 largest named', () => {
    const rules = Array.from({ length: 11 }, (_, i) => ({ rule: `self.all(x, x.contains('gpu${'x'.repeat(i % 2)}'))` }));
    const s = { type: 'object', properties: { tags: { type: 'array', maxItems: 860_000, items: { type: 'string', maxLength: 16 }, 'x-kubernetes-validations': rules } } } as RuleSchema;
    const errs = estimateSchemaRuleCosts(s, BASE);
    assert.equal(errs.filter((e) => e.detail.startsWith('Forbidden: estimated rule cost')).length, 0);
    assert.equal(errs.filter((e) => e.detail.includes('contributed to estimated rule cost total')).length, 4);
    const total = errs.at(-1)!;
    assert.equal(total.field, BASE);
    assert.match(total.detail, /^Forbidden: x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema exceeds budget by factor of 1\.\d{6}x/);
  });

  test('the factor as Go formats it', () => {
    assert.equal(costErrorMessage('c', 12_345_678, 10_000_000), `c exceeds budget by factor of 1.234568x ${SUGGESTION}`);
    assert.equal(costErrorMessage('c', 25_000_000, 10_000_000), `c exceeds budget by factor of 2.5x ${SUGGESTION}`);
    assert.equal(costErrorMessage('c', UNBOUNDED, 10_000_000), `c exceeds budget by factor of more than 100x ${SUGGESTION}`);
  });
});
