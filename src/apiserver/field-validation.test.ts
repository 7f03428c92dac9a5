import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkDecoded } from './field-validation.js';

describe('checkDecoded', () => {
  it("reports values of the wrong type in Go's words, drops unknown fields and nulls", () => {
    const obj = { metadata: { name: 'c', labels: { a: 1 }, bogus: true, annotations: null }, data: { k: 'v' } };
    const r = checkDecoded('io.k8s.api.core.v1.ConfigMap', obj);
    assert.deepEqual(r.typeErrors, ['cannot unmarshal number into Go struct field metadata.labels[a] of type string']);
    assert.deepEqual(r.unknown, ['metadata.bogus']);
    assert.deepEqual(obj.metadata, { name: 'c', labels: { a: 1 } });
  });

  it('names array items and map keys in paths, however deep', () => {
    const obj = { spec: { containers: [{ name: 'a' }, { name: 'b', imagePullPolicyy: 'x', resources: { limits: { cpu: true } } }], nodeSelector: { zone: 3 } } };
    const r = checkDecoded('io.k8s.api.core.v1.Pod', obj);
    assert.deepEqual(r.unknown, ['spec.containers[1].imagePullPolicyy']);
    assert.deepEqual(r.typeErrors.sort(), [
      'cannot unmarshal bool into Go struct field spec.containers[1].resources.limits[cpu] of type Quantity',
      'cannot unmarshal number into Go struct field spec.nodeSelector[zone] of type string',
    ]);
  });

  it('checks the metadata of a kind the schema table does not have, and nothing else of it', () => {
    const obj = { metadata: { name: 'x', annotations: [1] }, spec: { anything: [1, 'two'] } };
    const r = checkDecoded('io.k8s.example.v1.NotInTheTable', obj);
    assert.deepEqual(r.typeErrors, ['cannot unmarshal array into Go struct field metadata.annotations of type map[string]string']);
    assert.deepEqual(obj.spec, { anything: [1, 'two'] });
  });
});
