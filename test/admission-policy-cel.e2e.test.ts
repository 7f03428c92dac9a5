/**
 * End to end: ValidatingAdmissionPolicy and its binding on `skiff server` (control plane only) driven by the real
 * kubectl: a Deny policy refuses a Deployment with more than 5 replicas in a labelled namespace (and only there) in
 * upstream's words and code; a Warn binding lets the write through and kubectl prints the warning; a policy with a
 * ConfigMap param (paramRef by name, parameterNotFoundAction Deny when the param is missing), variables and
 * messageExpression; matchConditions; failurePolicy Fail vs Ignore on an evaluation error; an expression over its
 * cost budget stopped quickly (denied, the server unaffected); and a policy with a
 * broken expression refused when it is written (422 naming the field). Then a CRD with x-kubernetes-validations:
 * rules at the root, on spec, on list items and on status, a messageExpression, a transition rule (oldSelf) that only
 * updates meet, and a rule that does not compile refused with the CRD. Run from dist/:
 *   npx tsc -p tsconfig.json && node --test dist/test/admission-policy-cel.e2e.test.js
 * Needs kubectl (skips otherwise, fails under CI=true).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { kubectlSkip, type Kubectl } from './helpers/kubectl.js';
import { spawnServerInTempDir, stopServerAndRemoveDir, type DirServer } from './helpers/stop-server.js';

const deployment = (ns: string, name: string, replicas: number, labels: Record<string, string> = {}) => `apiVersion: apps/v1
kind: Deployment
metadata: { name: ${name}, namespace: ${ns}, labels: ${JSON.stringify(labels)} }
spec:
  replicas: ${replicas}
  selector: { matchLabels: { app: ${name} } }
  template:
    metadata: { labels: { app: ${name} } }
    spec: { containers: [{ name: c, image: busybox }] }
`;

describe('ValidatingAdmissionPolicy (kubectl)', { skip: kubectlSkip() }, () => {
  let ds: DirServer | undefined;
  let k: Kubectl;

  const apply = async (yaml: string) => {
    const r = await k(['apply', '-f', '-'], { input: yaml });
    assert.equal(r.code, 0, r.stderr);
    return r;
  };

  before(async () => {
    ds = await spawnServerInTempDir('skiff-e2e-vap-');
    k = ds.k;
  });
  after(() => stopServerAndRemoveDir(ds?.server, ds?.dir));

  test('Deny: replicas > 5 refused in a labelled namespace with upstream message and 422; elsewhere admitted', async () => {
    await apply(`apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: { name: replica-limit }
spec:
  matchConstraints:
    resourceRules:
      - { apiGroups: [apps], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [deployments] }
  validations:
    - expression: object.spec.replicas <= 5
      message: replicas must be no greater than 5
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: { name: replica-limit-binding }
spec:
  policyName: replica-limit
  validationActions: [Deny]
  matchResources:
    namespaceSelector: { matchLabels: { environment: test } }
`);
    assert.equal((await k(['create', 'namespace', 'limited'])).code, 0);
    assert.equal((await k(['label', 'namespace', 'limited', 'environment=test'])).code, 0);
    assert.equal((await k(['create', 'namespace', 'free'])).code, 0);

    const refused = await k(['apply', '-f', '-'], { input: deployment('limited', 'big', 6) });
    assert.equal(refused.code, 1);
    assert.equal(
      refused.stderr.trim(),
      `The deployments "big" is invalid: : ValidatingAdmissionPolicy 'replica-limit' with binding 'replica-limit-binding' denied request: replicas must be no greater than 5`,
    );
    // The Status itself: code 422 (reason Invalid), the message under the resource's forbidden wording.
    const raw = await k(['create', '--raw', '/apis/apps/v1/namespaces/limited/deployments', '-f', '-', '-v=6'], { input: JSON.stringify({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'big' }, spec: { replicas: 9, selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } } } }) });
    assert.equal(raw.code, 1);
    assert.match(raw.stderr, /POST https:\/\/\S+\/apis\/apps\/v1\/namespaces\/limited\/deployments 422 Unprocessable Entity/);
    assert.equal((await k(['apply', '-f', '-'], { input: deployment('limited', 'small', 5) })).code, 0, 'five replicas pass');
    assert.equal((await k(['apply', '-f', '-'], { input: deployment('free', 'big', 6) })).code, 0, 'an unlabelled namespace is not bound');
    // An update over the limit is refused too (a patch of the deployment; deployments/scale is another resource to
    // the rules, as upstream matches it).
    const scaled = await k(['patch', 'deployment', 'small', '-n', 'limited', '--type=merge', '-p', '{"spec":{"replicas":7}}']);
    assert.equal(scaled.code, 1);
    assert.match(scaled.stderr, /denied request: replicas must be no greater than 5/);
    assert.equal((await k.json(['get', 'deployment', 'small', '-n', 'limited', '-o', 'json'])).spec.replicas, 5);
    // kubectl lists policies and bindings with upstream's columns.
    const policies = await k(['get', 'validatingadmissionpolicies']);
    assert.match(policies.stdout, /^NAME\s+VALIDATIONS\s+PARAMKIND\s+AGE\nreplica-limit\s+1\s+<unset>\s+\S+$/m);
    const bindings = await k(['get', 'validatingadmissionpolicybindings']);
    assert.match(bindings.stdout, /^NAME\s+POLICYNAME\s+PARAMREF\s+AGE\nreplica-limit-binding\s+replica-limit\s+<unset>\s+\S+$/m);
    const status = (await k.json(['get', 'validatingadmissionpolicy', 'replica-limit', '-o', 'json'])).status;
    assert.deepEqual(status, { observedGeneration: 1, typeChecking: {} });
  });

  test('Warn: the write is admitted and kubectl prints the warning; matchConditions narrow the policy', async () => {
    await apply(`apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: { name: needs-team }
spec:
  matchConstraints:
    resourceRules:
      - { apiGroups: [""], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [configmaps] }
  matchConditions:
    - name: not-kube-root-ca
      expression: object.metadata.name != 'kube-root-ca.crt'
  validations:
    - expression: "has(object.metadata.labels) && 'team' in object.metadata.labels"
      messageExpression: "'configmap ' + object.metadata.name + ' has no team label'"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: { name: needs-team-warn }
spec:
  policyName: needs-team
  validationActions: [Warn, Audit]
`);
    const created = await k(['create', 'configmap', 'no-team', '-n', 'free', '--from-literal=a=b']);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stderr, /^Warning: Validation failed for ValidatingAdmissionPolicy 'needs-team' with binding 'needs-team-warn': configmap no-team has no team label$/m);
    const labelled = await k(['apply', '-f', '-'], { input: 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: with-team, namespace: free, labels: { team: a } }\n' });
    assert.equal(labelled.code, 0, labelled.stderr);
    assert.doesNotMatch(labelled.stderr, /Warning/);
  });

  test('params: a ConfigMap param sets the limit; a missing param with parameterNotFoundAction Deny refuses', async () => {
    assert.equal((await k(['create', 'namespace', 'params'])).code, 0);
    await apply(`apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: { name: max-replicas-param }
spec:
  paramKind: { apiVersion: v1, kind: ConfigMap }
  matchConstraints:
    resourceRules:
      - { apiGroups: [apps], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [deployments] }
    objectSelector: { matchLabels: { limited: "yes" } }
  variables:
    - name: limit
      expression: int(params.data.maxReplicas)
  validations:
    - expression: object.spec.replicas <= variables.limit
      messageExpression: "'replicas ' + string(object.spec.replicas) + ' exceed the limit ' + string(variables.limit)"
      reason: Forbidden
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: { name: max-replicas-param }
spec:
  policyName: max-replicas-param
  validationActions: [Deny]
  paramRef: { name: replica-limits, parameterNotFoundAction: Deny }
`);
    const missing = await k(['apply', '-f', '-'], { input: deployment('params', 'p1', 2, { limited: 'yes' }) });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /denied request: failed to configure binding: no params found for policy binding with `Deny` parameterNotFoundAction/);

    assert.equal((await k(['create', 'configmap', 'replica-limits', '-n', 'params', '--from-literal=maxReplicas=3'])).code, 0);
    assert.equal((await k(['apply', '-f', '-'], { input: deployment('params', 'p1', 3, { limited: 'yes' }) })).code, 0);
    const over = await k(['apply', '-f', '-'], { input: deployment('params', 'p2', 4, { limited: 'yes' }) });
    assert.equal(over.code, 1);
    assert.equal(over.stderr.trim(), `Error from server (Forbidden): error when creating "STDIN": deployments.apps "p2" is forbidden: ValidatingAdmissionPolicy 'max-replicas-param' with binding 'max-replicas-param' denied request: replicas 4 exceed the limit 3`);
    // Not selected by the objectSelector: no param needed, nothing checked.
    assert.equal((await k(['apply', '-f', '-'], { input: deployment('params', 'p3', 4) })).code, 0);
  });

  test('failurePolicy: an evaluation error denies under Fail and is skipped under Ignore', async () => {
    const policy = (name: string, failurePolicy: string) => `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: { name: ${name} }
spec:
  failurePolicy: ${failurePolicy}
  matchConstraints:
    resourceRules:
      - { apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [secrets] }
  validations:
    - expression: object.data.missing == 'x'
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: { name: ${name} }
spec:
  policyName: ${name}
  validationActions: [Deny]
  matchResources:
    namespaceSelector: { matchLabels: { kubernetes.io/metadata.name: ${name} } }
`;
    await apply(policy('fail-closed', 'Fail'));
    await apply(policy('fail-open', 'Ignore'));
    for (const ns of ['fail-closed', 'fail-open']) assert.equal((await k(['create', 'namespace', ns])).code, 0);
    const closed = await k(['create', 'secret', 'generic', 's', '-n', 'fail-closed', '--from-literal=a=b']);
    assert.equal(closed.code, 1);
    assert.match(closed.stderr, /ValidatingAdmissionPolicy 'fail-closed' with binding 'fail-closed' denied request: expression 'object.data.missing == 'x'' resulted in error: no such key: missing/);
    const open = await k(['create', 'secret', 'generic', 's', '-n', 'fail-open', '--from-literal=a=b']);
    assert.equal(open.code, 0, open.stderr);
  });

  test('an expression over its cost budget is stopped quickly and denied under failurePolicy Fail', async () => {
    await apply(`apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: { name: expensive }
spec:
  matchConstraints:
    resourceRules:
      - { apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [configmaps] }
    objectSelector: { matchLabels: { expensive: "yes" } }
  variables:
    - name: items
      expression: "object.data.list.split(',')"
  validations:
    - expression: "variables.items.all(a, variables.items.all(b, variables.items.all(c, a + b + c != '')))"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: { name: expensive }
spec: { policyName: expensive, validationActions: [Deny] }
`);
    const list = Array.from({ length: 1000 }, (_, i) => String(i)).join(',');
    const started = performance.now();
    const r = await k(['apply', '-f', '-'], { input: `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: big-list, namespace: free, labels: { expensive: "yes" } }\ndata: { list: "${list}" }\n` });
    const ms = performance.now() - started;
    assert.equal(r.code, 1);
    assert.match(r.stderr, /ValidatingAdmissionPolicy 'expensive' with binding 'expensive' denied request: expression '.*' resulted in error: operation cancelled: actual cost limit exceeded/);
    assert.ok(ms < 10_000, `the refusal took ${Math.round(ms)} ms`);
    // The server still answers other writes.
    assert.equal((await k(['create', 'configmap', 'after-expensive', '-n', 'free'])).code, 0);
  });

  test('a policy with a broken expression, or a binding with Deny and Warn, is refused when written', async () => {
    const bad = await k(['apply', '-f', '-'], {
      input: `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: { name: broken }
spec:
  matchConstraints:
    resourceRules:
      - { apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods] }
  validations:
    - expression: "object.spec.containers.all(c, c.image.startsWith('x') "
`,
    });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /The ValidatingAdmissionPolicy "broken" is invalid: spec\.validations\[0\]\.expression: Invalid value: "object\.spec\.containers\.all\(c, c\.image\.startsWith\('x'\) ": compilation failed: ERROR: <input>:1:/);
    // A policy whose expression names a field the matched kind lacks is admitted, with a type-checking warning.
    await apply(`apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: { name: typo }
spec:
  matchConstraints:
    resourceRules:
      - { apiGroups: [apps], apiVersions: [v1], operations: [CREATE], resources: [deployments] }
  validations:
    - expression: object.spec.replicaz <= 5
`);
    const typo = (await k.json(['get', 'validatingadmissionpolicy', 'typo', '-o', 'json'])).status;
    assert.deepEqual(typo.typeChecking.expressionWarnings, [{ fieldRef: 'spec.validations[0].expression', warning: "apps/v1, Kind=Deployment: ERROR: <input>:1:12: undefined field 'replicaz'" }]);
    const both = await k(['apply', '-f', '-'], {
      input: `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: { name: both }
spec: { policyName: replica-limit, validationActions: [Deny, Warn] }
`,
    });
    assert.equal(both.code, 1);
    assert.match(both.stderr, /spec\.validationActions: Invalid value: \["Deny","Warn"\]: must not contain both Deny and Warn/);
  });

  test('CRD x-kubernetes-validations: rules at several levels, messageExpression, a transition rule, compile errors', async () => {
    const crd = (rule: string) => `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: { name: widgets.cel.example.com }
spec:
  group: cel.example.com
  scope: Namespaced
  names: { plural: widgets, singular: widget, kind: Widget }
  versions:
    - name: v1
      served: true
      storage: true
      subresources: { status: {} }
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-validations:
            - rule: "self.metadata.name.startsWith('w-')"
              message: name must start with w-
          properties:
            spec:
              type: object
              x-kubernetes-validations:
                - rule: ${JSON.stringify(rule)}
                  messageExpression: "'minReplicas exceeds maxReplicas in mode ' + self.mode"
                - rule: self.mode == oldSelf.mode
                  message: mode is immutable
              properties:
                minReplicas: { type: integer }
                maxReplicas: { type: integer }
                mode: { type: string, maxLength: 16 }
                ports:
                  type: array
                  items:
                    type: object
                    properties: { port: { type: integer } }
                    x-kubernetes-validations:
                      - rule: self.port > 1024
                        message: ports must be unprivileged
            status:
              type: object
              properties: { ready: { type: integer } }
              x-kubernetes-validations:
                - rule: self.ready >= 0
`;
    const broken = await k(['apply', '-f', '-'], { input: crd('self.minReplicas <=') });
    assert.equal(broken.code, 1);
    assert.match(broken.stderr, /spec\.versions\[0\]\.schema\.openAPIV3Schema\.properties\[spec\]\.x-kubernetes-validations\[0\]\.rule: Invalid value: apiextensions\.ValidationRule\{Rule:"self\.minReplicas <=", .*compilation failed: ERROR: <input>:1:/);
    await apply(crd('self.minReplicas <= self.maxReplicas'));
    const established = await k(['wait', '--for=condition=Established', 'crd/widgets.cel.example.com', '--timeout=30s']);
    assert.equal(established.code, 0, established.stderr);
    assert.equal((await k(['create', 'namespace', 'widgets'])).code, 0);
    const widget = (name: string, spec: string) => `apiVersion: cel.example.com/v1\nkind: Widget\nmetadata: { name: ${name}, namespace: widgets }\nspec: ${spec}\n`;

    const ok = await k(['apply', '-f', '-'], { input: widget('w-1', '{ minReplicas: 1, maxReplicas: 3, mode: fast, ports: [{ port: 8080 }] }') });
    assert.equal(ok.code, 0, ok.stderr);
    const bad = await k(['apply', '-f', '-'], { input: widget('bad', '{ minReplicas: 5, maxReplicas: 3, mode: fast, ports: [{ port: 80 }] }') });
    assert.equal(bad.code, 1);
    assert.equal(
      bad.stderr.trim(),
      [
        'The Widget "bad" is invalid: ',
        '* <nil>: Invalid value: "object": name must start with w-',
        '* spec: Invalid value: "object": minReplicas exceeds maxReplicas in mode fast',
        '* spec.ports[0]: Invalid value: "object": ports must be unprivileged',
      ].join('\n'),
    );
    // The transition rule: only on update, against the stored value.
    const changed = await k(['patch', 'widget', 'w-1', '-n', 'widgets', '--type=merge', '-p', '{"spec":{"mode":"slow"}}']);
    assert.equal(changed.code, 1);
    assert.match(changed.stderr, /The Widget "w-1" is invalid: spec: Invalid value: "object": mode is immutable/);
    const scaled = await k(['patch', 'widget', 'w-1', '-n', 'widgets', '--type=merge', '-p', '{"spec":{"maxReplicas":4}}']);
    assert.equal(scaled.code, 0, scaled.stderr);
    // Status writes are checked by the status schema's rules.
    const status = await k(['patch', 'widget', 'w-1', '-n', 'widgets', '--subresource=status', '--type=merge', '-p', '{"status":{"ready":-1}}']);
    assert.equal(status.code, 1);
    assert.match(status.stderr, /status: Invalid value: "object": failed rule: self\.ready >= 0/);
    assert.equal((await k(['patch', 'widget', 'w-1', '-n', 'widgets', '--subresource=status', '--type=merge', '-p', '{"status":{"ready":2}}'])).code, 0);
  });
});
