import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AuditPolicyChecker, parseAuditPolicy, type AuditRequestAttributes } from './audit-policy.js';

const req = (o: Partial<AuditRequestAttributes>): AuditRequestAttributes => ({
  user: { username: 'alice', groups: ['dev', 'system:authenticated'] },
  verb: 'get',
  isResourceRequest: true,
  path: '',
  apiGroup: '',
  resource: 'pods',
  subresource: '',
  namespace: 'default',
  name: 'p',
  ...o,
});

// The example policy of the Kubernetes auditing documentation, less its rules that need no test of their own.
const POLICY = `
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: RequestResponse
    resources:
    - group: ""
      resources: ["pods"]
  - level: Metadata
    resources:
    - group: ""
      resources: ["pods/log", "pods/status"]
  - level: None
    resources:
    - group: ""
      resources: ["configmaps"]
      resourceNames: ["controller-leader"]
  - level: None
    users: ["system:kube-proxy"]
    verbs: ["watch"]
    resources:
    - group: ""
      resources: ["endpoints", "services"]
  - level: None
    userGroups: ["system:authenticated"]
    nonResourceURLs:
    - "/api*"
    - "/version"
  - level: Request
    resources:
    - group: ""
      resources: ["configmaps"]
    namespaces: ["kube-system"]
  - level: Metadata
    resources:
    - group: ""
      resources: ["secrets", "configmaps"]
  - level: Request
    resources:
    - group: ""
    - group: "extensions"
  - level: Metadata
    omitStages:
      - "ResponseStarted"
`;

describe('audit policy', () => {
  const checker = new AuditPolicyChecker(parseAuditPolicy(POLICY));
  const level = (o: Partial<AuditRequestAttributes>) => checker.decide(req(o)).level;

  test('the first matching rule decides, as the documentation example reads', () => {
    assert.equal(level({}), 'RequestResponse');
    assert.equal(level({ subresource: 'log' }), 'Metadata');
    assert.equal(level({ subresource: 'exec' }), 'Request', 'pods/exec is not pods: the core-group catch-all');
    assert.equal(level({ resource: 'configmaps', name: 'controller-leader' }), 'None');
    assert.equal(level({ resource: 'configmaps', name: 'other', namespace: 'kube-system' }), 'Request');
    assert.equal(level({ resource: 'configmaps', name: 'other' }), 'Metadata');
    assert.equal(level({ resource: 'secrets' }), 'Metadata');
    assert.equal(level({ user: { username: 'system:kube-proxy', groups: [] }, verb: 'watch', resource: 'services', name: '' }), 'None');
    assert.equal(level({ user: { username: 'system:kube-proxy', groups: [] }, verb: 'list', resource: 'services', name: '' }), 'Request');
    assert.equal(level({ isResourceRequest: false, path: '/apis/apps/v1', resource: '' }), 'None');
    assert.equal(level({ isResourceRequest: false, path: '/healthz', resource: '' }), 'Metadata');
    assert.equal(level({ apiGroup: 'apps', resource: 'deployments' }), 'Metadata', 'falls through to the last rule');
    assert.deepEqual([...checker.decide(req({ apiGroup: 'apps', resource: 'deployments' })).omitStages].sort(), ['RequestReceived', 'ResponseStarted']);
    assert.deepEqual([...checker.decide(req({})).omitStages], ['RequestReceived']);
  });

  test('wildcards: *, */status, pods/*; namespaces; no rule → None', () => {
    const c = new AuditPolicyChecker(parseAuditPolicy(`{"apiVersion":"audit.k8s.io/v1","kind":"Policy","rules":[
      {"level":"Request","resources":[{"group":"apps","resources":["*/scale"]}]},
      {"level":"RequestResponse","resources":[{"group":"","resources":["pods/*"]}]},
      {"level":"Metadata","namespaces":["prod"]},
      {"level":"Metadata","resources":[{"group":"batch","resources":["*"]}]}]}`));
    const l = (o: Partial<AuditRequestAttributes>) => c.decide(req(o)).level;
    assert.equal(l({ apiGroup: 'apps', resource: 'deployments', subresource: 'scale' }), 'Request');
    assert.equal(l({ apiGroup: 'apps', resource: 'deployments' }), 'None');
    assert.equal(l({ subresource: 'exec' }), 'RequestResponse');
    assert.equal(l({}), 'RequestResponse', 'pods/* matches pods and its subresources (upstream checker.go)');
    assert.equal(l({ namespace: 'prod', resource: 'secrets' }), 'Metadata');
    assert.equal(l({ apiGroup: 'batch', resource: 'jobs' }), 'Metadata');
    assert.equal(l({ isResourceRequest: false, path: '/metrics', resource: '', namespace: '' }), 'None');
  });

  test('bad policies are refused naming the field', () => {
    const cases: Array<[string, RegExp]> = [
      ['kind: Policy\napiVersion: audit.k8s.io/v1beta1\nrules: [{level: Metadata}]', /apiVersion must be audit.k8s.io\/v1/],
      ['kind: Policy\napiVersion: audit.k8s.io/v1\nrules: []', /rules: Required value/],
      ['kind: Policy\napiVersion: audit.k8s.io/v1\nrules: [{level: Everything}]', /rules\[0\]\.level: Unsupported value: "Everything"/],
      ['kind: Policy\napiVersion: audit.k8s.io/v1\nrules: [{level: None, omitStages: [Done]}]', /rules\[0\]\.omitStages\[0\]: Unsupported value: "Done"/],
      ['kind: Policy\napiVersion: audit.k8s.io/v1\nrules: [{level: None, nonResourceURLs: ["/a"], resources: [{group: ""}]}]', /both regular resources and non-resource URLs/],
      ['kind: Policy\napiVersion: audit.k8s.io/v1\nrules: [{level: None, nonResourceURLs: ["/a*b"]}]', /a \* may only end/],
      ['kind: Policy\napiVersion: audit.k8s.io/v1\nrules: [{level: None, resources: [{group: "", resources: ["*"], resourceNames: ["x"]}]}]', /resourceNames need resources without wildcards/],
    ];
    for (const [text, re] of cases) assert.throws(() => parseAuditPolicy(text, 'p.yaml'), re, text);
  });
});
