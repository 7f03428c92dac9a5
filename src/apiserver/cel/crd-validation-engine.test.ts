/** The CEL engine on the CRD hook: compile errors, plain rules on every write, transition rules on updates, root view. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { JSONSchemaProps } from '../crd/json-schema.js';
import { celValidationRules } from './crd-validation-engine.js';

const schema = {
  type: 'object',
  'x-kubernetes-validations': [{ rule: "!('labels' in self.metadata)", message: 'root rules see only name and generateName of metadata' }, { rule: "self.kind == 'Thing'" }],
  properties: { spec: { type: 'object', properties: { v: { type: 'integer' } }, 'x-kubernetes-validations': [{ rule: 'self.v >= oldSelf.v', message: 'v may only grow' }, { rule: 'self.v < 10' }] } },
} as unknown as JSONSchemaProps;

test('plain rules on validate, transition rules on validateTransition, the root sees a reduced metadata', () => {
  const { errors, rules } = celValidationRules.compile(schema, 'spec.versions[0].schema.openAPIV3Schema');
  assert.deepEqual(errors, []);
  assert.ok(rules);
  const obj = (v: number) => ({ apiVersion: 'x/v1', kind: 'Thing', metadata: { name: 'a', labels: { x: 'y' } }, spec: { v } });
  assert.deepEqual(rules.validate(obj(1)), []);
  assert.deepEqual(rules.validate(obj(11)).map((e) => `${e.field}: ${e.detail}`), ['spec: Invalid value: "object": failed rule: self.v < 10']);
  assert.deepEqual(rules.validateTransition(obj(1), obj(2)).map((e) => `${e.field}: ${e.detail}`), ['spec: Invalid value: "object": v may only grow']);
  assert.deepEqual(rules.validateTransition(obj(3), obj(2)), []);
});

test('a rule that does not compile is an error under the schema path, and no rules are returned', () => {
  const bad = { type: 'object', properties: { spec: { type: 'object', 'x-kubernetes-validations': [{ rule: 'self.v <' }] } } } as unknown as JSONSchemaProps;
  const { errors, rules } = celValidationRules.compile(bad, 'spec.versions[0].schema.openAPIV3Schema');
  assert.equal(rules, undefined);
  assert.deepEqual(errors.map((e) => e.field), ['spec.versions[0].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule']);
});

test('optionalOldSelf rules run on create (oldSelf empty) and on update (the old value), once each', () => {
  const s = { type: 'object', properties: { spec: { type: 'object', properties: { v: { type: 'integer' } }, 'x-kubernetes-validations': [{ rule: 'oldSelf.hasValue() ? self.v >= oldSelf.value().v : self.v == 1', optionalOldSelf: true, message: 'v starts at 1 and grows' }] } } } as unknown as JSONSchemaProps;
  const { rules } = celValidationRules.compile(s, 'x');
  assert.ok(rules);
  const created = (v: number) => ({ apiVersion: 'x/v1', kind: 'T', metadata: { name: 'a' }, spec: { v } });
  const stored = (v: number) => ({ apiVersion: 'x/v1', kind: 'T', metadata: { name: 'a', resourceVersion: '5' }, spec: { v } });
  assert.deepEqual(rules.validate(created(1)), []);
  assert.equal(rules.validate(created(2)).length, 1);
  assert.deepEqual(rules.validate(stored(3)), [], 'an update runs it in validateTransition only');
  assert.deepEqual(rules.validateTransition(stored(3), stored(2)), []);
  assert.deepEqual(rules.validateTransition(stored(1), stored(2)).map((e) => e.detail), ['Invalid value: "object": v starts at 1 and grows']);
});
