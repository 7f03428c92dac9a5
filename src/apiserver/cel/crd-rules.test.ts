/** x-kubernetes-validations: compile errors when a CRD is written, and rule failures in upstream's words. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compileSchemaRules, validateCelRules, type RuleSchema } from './crd-rules.js';

const schema: RuleSchema = {
  type: 'object',
  'x-kubernetes-validations': [{ rule: "self.metadata.name.startsWith('ok-')", message: 'name must start with ok-' }],
  properties: {
    spec: {
      type: 'object',
      'x-kubernetes-validations': [
        { rule: 'self.minReplicas <= self.maxReplicas', messageExpression: "'minReplicas (' + string(self.minReplicas) + ') > maxReplicas (' + string(self.maxReplicas) + ')'" },
        { rule: 'self.mode == oldSelf.mode', message: 'mode is immutable' },
        { rule: "!has(self.forbidden)", reason: 'FieldValueForbidden', fieldPath: '.forbidden', message: 'may not be set' },
      ],
      properties: {
        minReplicas: { type: 'integer' },
        maxReplicas: { type: 'integer' },
        mode: { type: 'string' },
        forbidden: { type: 'string' },
        ratio: { type: 'number', 'x-kubernetes-validations': [{ rule: 'self < 1.0' }] },
        ports: {
          type: 'array',
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['name'],
          items: { type: 'object', properties: { name: { type: 'string' }, port: { type: 'integer' } }, 'x-kubernetes-validations': [{ rule: 'self.port >= oldSelf.port', message: 'port may only grow' }] },
        },
        labels: { type: 'object', additionalProperties: { type: 'string', 'x-kubernetes-validations': [{ rule: 'self.size() <= 3' }] } },
      },
    },
  },
};

const obj = (spec: Record<string, unknown>, name = 'ok-a') => ({ apiVersion: 'x.io/v1', kind: 'W', metadata: { name }, spec });

describe('CRD rules: evaluation', () => {
  test('a valid object passes', () => {
    assert.deepEqual(validateCelRules(schema, obj({ minReplicas: 1, maxReplicas: 3, mode: 'a', ratio: 0.5 })), []);
  });

  test('root rule at <nil>, message; messageExpression; fieldPath and reason', () => {
    const errs = validateCelRules(schema, obj({ minReplicas: 5, maxReplicas: 3, forbidden: 'x' }, 'bad'));
    assert.deepEqual(errs.map((e) => `${e.field}: ${e.detail}`), [
      '<nil>: Invalid value: "object": name must start with ok-',
      'spec: Invalid value: "object": minReplicas (5) > maxReplicas (3)',
      'spec.forbidden: Forbidden: may not be set',
    ]);
  });

  test('default message and a number field (double, not int)', () => {
    const errs = validateCelRules(schema, obj({ minReplicas: 1, maxReplicas: 1, ratio: 2 }));
    assert.deepEqual(errs.map((e) => `${e.field}: ${e.detail}`), ['spec.ratio: Invalid value: "number": failed rule: self < 1.0']);
  });

  test('transition rules run only on update, with the correlated old value', () => {
    const old = obj({ minReplicas: 1, maxReplicas: 1, mode: 'a', ports: [{ name: 'http', port: 80 }] });
    assert.deepEqual(validateCelRules(schema, obj({ minReplicas: 1, maxReplicas: 1, mode: 'b' })), [], 'create: oldSelf rules skipped');
    const errs = validateCelRules(schema, obj({ minReplicas: 1, maxReplicas: 1, mode: 'b', ports: [{ name: 'new', port: 1 }, { name: 'http', port: 70 }] }), old);
    assert.deepEqual(errs.map((e) => `${e.field}: ${e.detail}`), ['spec: Invalid value: "object": mode is immutable', 'spec.ports[1]: Invalid value: "object": port may only grow']);
  });

  test('map values have key paths; a runtime error names the rule', () => {
    const errs = validateCelRules(schema, obj({ minReplicas: 1, labels: { a: 'xyzw' } }));
    assert.deepEqual(errs.map((e) => `${e.field}: ${e.detail}`), [
      'spec: Invalid value: "object": no such key: maxReplicas evaluating rule: self.minReplicas <= self.maxReplicas',
      'spec.labels[a]: Invalid value: "string": failed rule: self.size() <= 3',
    ]);
  });

  test('optionalOldSelf: the rule runs on create with oldSelf none', () => {
    const s: RuleSchema = { type: 'object', 'x-kubernetes-validations': [{ rule: 'oldSelf.hasValue() || self.v == 1', optionalOldSelf: true, message: 'v must start at 1' }], properties: { v: { type: 'integer' } } };
    assert.deepEqual(validateCelRules(s, { v: 2 }).map((e) => e.detail), ['Invalid value: "object": v must start at 1']);
    assert.deepEqual(validateCelRules(s, { v: 2 }, { v: 1 }), []);
  });

  test('a rule too expensive for the cost limit stops validation with upstream wording', () => {
    const s: RuleSchema = { type: 'object', properties: { l: { type: 'array', items: { type: 'integer' }, 'x-kubernetes-validations': [{ rule: 'self.all(a, self.all(b, self.all(c, a + b + c >= 0)))' }, { rule: 'false' }] } } };
    const errs = validateCelRules(s, { l: Array.from({ length: 1000 }, (_, i) => i) });
    assert.equal(errs.length, 1);
    assert.match(errs[0]!.detail, /^Invalid value: "array": 'operation cancelled: actual cost limit exceeded': no further validation rules will be run due to call cost exceeds limit for rule: self\.all/);
  });
});

describe('CRD rules: the per-object budget', () => {
  test('rules under the per-call limit that together spend more than the budget stop, in upstream words', () => {
    // Each rule visits 480 x 481 + 481 elements (under the per-call limit); ten of them fit the budget, not eleven.
    const rules = Array.from({ length: 12 }, () => ({ rule: 'self.all(a, !self.exists(b, b < 0))' }));
    const s: RuleSchema = { type: 'object', properties: { l: { type: 'array', items: { type: 'integer' }, 'x-kubernetes-validations': rules } } };
    const l = Array.from({ length: 480 }, (_, i) => i);
    assert.deepEqual(validateCelRules(s, { l }), [{ type: 'FieldValueInvalid', field: 'l', detail: 'Invalid value: "array": validation failed due to running out of cost budget, no further validation rules will be run' }]);
    assert.deepEqual(validateCelRules({ ...s, properties: { l: { ...s.properties!.l!, 'x-kubernetes-validations': rules.slice(0, 10) } } }, { l }), []);
  });
});

describe('CRD rules: compile errors when the CRD is written', () => {
  test('bad rule, bad messageExpression, bad reason, bad fieldPath, non-bool rule', () => {
    const bad: RuleSchema = {
      type: 'object',
      properties: {
        spec: {
          type: 'object',
          properties: { a: { type: 'string' } },
          'x-kubernetes-validations': [
            { rule: 'self.a ==' },
            { rule: 'true', messageExpression: '1 +' },
            { rule: 'true', reason: 'Nope' },
            { rule: 'true', fieldPath: '.b' },
            { rule: "'x'" },
          ],
        },
      },
    };
    const errs = compileSchemaRules(bad, 'spec.versions[0].schema.openAPIV3Schema');
    const base = 'spec.versions[0].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations';
    assert.deepEqual(errs.map((e) => e.field), [`${base}[0].rule`, `${base}[1].messageExpression`, `${base}[2].reason`, `${base}[3].fieldPath`, `${base}[4].rule`]);
    assert.match(errs[0]!.detail, /^Invalid value: apiextensions\.ValidationRule\{Rule:"self\.a ==", .*\}: compilation failed: ERROR: <input>:1:/);
    assert.match(errs[4]!.detail, /must evaluate to a bool/);
    assert.deepEqual(compileSchemaRules(schema, 'x'), []);
  });

  test('field selections from self are checked against the schema, as cel-go does', () => {
    const s: RuleSchema = {
      type: 'object',
      'x-kubernetes-validations': [{ rule: "self.metadata.name != '' && self.spec.nope == 1" }, { rule: 'has(self.spec.min)' }],
      properties: {
        spec: {
          type: 'object',
          properties: {
            min: { type: 'integer', 'x-kubernetes-validations': [{ rule: 'self.x == 1' }] },
            items: { type: 'array', items: { type: 'object', properties: { a: { type: 'string' } } }, 'x-kubernetes-validations': [{ rule: "self[0].b == 'x'" }, { rule: 'self.all(i, i.a != "")' }] },
            labels: { type: 'object', additionalProperties: { type: 'string' }, 'x-kubernetes-validations': [{ rule: "self.anyKey == 'a'" }] },
            free: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true, 'x-kubernetes-validations': [{ rule: 'self.anything.goes == 1' }] },
          },
        },
      },
    };
    const errs = compileSchemaRules(s, 'v');
    assert.deepEqual(
      errs.map((e) => `${e.field}: ${/compilation failed: (.*)$/.exec(e.detail)?.[1]}`),
      [
        "v.x-kubernetes-validations[0].rule: ERROR: <input>:1:38: undefined field 'nope'",
        "v.properties[spec].properties[min].x-kubernetes-validations[0].rule: ERROR: <input>:1:5: type 'int' does not support field selection",
        "v.properties[spec].properties[items].x-kubernetes-validations[0].rule: ERROR: <input>:1:8: undefined field 'b'",
      ],
    );
  });
});
