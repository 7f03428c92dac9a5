import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isControlPlaneIdentity } from './scope.js';

test('managed-fields recording is decided by who writes, never by the transport', () => {
  const cases: [string, string[], boolean][] = [
    ['system:apiserver', ['system:masters'], true],
    ['system:kube-controller-manager', ['system:authenticated'], true],
    ['system:kube-scheduler', ['system:authenticated'], true],
    ['system:serviceaccount:kube-system:replicaset-controller', ['system:serviceaccounts'], true],
    ['system:node:worker-1', ['system:nodes', 'system:authenticated'], true],
    ['system:node:worker-1', ['system:authenticated'], false],
    ['system:admin', ['system:masters', 'system:authenticated'], false],
    ['system:serviceaccount:default:builder', ['system:serviceaccounts'], false],
    ['alice', ['system:nodes'], false],
  ];
  for (const [username, groups, want] of cases) assert.equal(isControlPlaneIdentity({ username, groups }), want, `${username} ${groups.join(',')}`);
});
