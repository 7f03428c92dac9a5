/** status.typeChecking: field selections on object/oldObject against the kinds the rules name. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { typeCheckPolicy } from './type-check.js';

const rules = (resources: string[], apiGroups = ['apps'], apiVersions = ['v1']) => ({ resourceRules: [{ apiGroups, apiVersions, operations: ['CREATE'], resources }] });

test('undefined fields and selections on scalars are warnings naming the field and the kind', () => {
  const status = typeCheckPolicy({
    matchConstraints: rules(['deployments', 'replicasets']),
    validations: [
      { expression: 'object.spec.replicaz <= 5' },
      { expression: 'object.spec.replicas <= 5 && object.metadata.labels.app != "" && object.spec.template.spec.containers.all(c, c.image != "")', messageExpression: 'object.metadata.name.foo' },
      { expression: "has(object.spec.selector.matchLabels) && object.spec.template.spec.containers[0].ports[0].containerPort > 0" },
    ],
  });
  assert.deepEqual(status, {
    expressionWarnings: [
      { fieldRef: 'spec.validations[0].expression', warning: "apps/v1, Kind=Deployment: ERROR: <input>:1:12: undefined field 'replicaz'\napps/v1, Kind=ReplicaSet: ERROR: <input>:1:12: undefined field 'replicaz'" },
      { fieldRef: 'spec.validations[1].messageExpression', warning: "apps/v1, Kind=Deployment: ERROR: <input>:1:21: type 'string' does not support field selection\napps/v1, Kind=ReplicaSet: ERROR: <input>:1:21: type 'string' does not support field selection" },
    ],
  });
});

test('wildcards, subresources and unknown kinds are not checked', () => {
  assert.deepEqual(typeCheckPolicy({ matchConstraints: rules(['*']), validations: [{ expression: 'object.nope' }] }), {});
  assert.deepEqual(typeCheckPolicy({ matchConstraints: rules(['deployments/scale']), validations: [{ expression: 'object.nope' }] }), {});
  assert.deepEqual(typeCheckPolicy({ matchConstraints: rules(['widgets'], ['example.com']), validations: [{ expression: 'object.nope' }] }), {});
  assert.deepEqual(typeCheckPolicy({ matchConstraints: rules(['configmaps'], ['']), validations: [{ expression: "object.data.anyKey == 'x' && object.data['k'] == 'y'" }] }), {});
});
