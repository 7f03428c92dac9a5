/**
 * RBAC end to end: a real skiff server, the real kubectl, users with real client certificates signed by the cluster
 * CA (openssl, as an administrator would issue them) and the admin impersonating them with `--as`. Expectations are
 * Kubernetes' documented semantics: view cannot read secrets, edit cannot change RBAC, admin of a namespace through
 * a RoleBinding, escalation refused, impersonation needs the verb, bootstrap roles reconciled and aggregated.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually } from './helpers/eventually.js';
import { kubectlFor, kubectlSkip, type Kubectl } from './helpers/kubectl.js';
import { issueClientCert } from './rbac-client-cert.js';
import { startTestServer, type TestServer } from './helpers/test-server.js';

const skip = kubectlSkip();

/** A kubeconfig with a client certificate for CN=user, O=each group, signed by the cluster CA. */
async function userKubeconfig(s: TestServer, user: string, groups: string[] = []): Promise<string> {
  const tls = join(s.dataDir, 'server', 'tls');
  const cert = issueClientCert(join(tls, 'server-ca.crt'), join(tls, 'server-ca.key'), s.dataDir, user, groups);
  const b64 = (pem: string) => Buffer.from(pem).toString('base64');
  const kubeconfig = join(s.dataDir, `user-${user.replace(/[^a-z0-9]/gi, '_')}.kubeconfig`);
  await writeFile(
    kubeconfig,
    `apiVersion: v1
kind: Config
clusters:
- name: skiff
  cluster: {server: "${s.url}", certificate-authority-data: ${b64(await readFile(join(tls, 'server-ca.crt'), 'utf8'))}}
users:
- name: ${JSON.stringify(user)}
  user: {client-certificate-data: ${b64(cert.certPem)}, client-key-data: ${b64(cert.keyPem)}}
contexts:
- name: ctx
  context: {cluster: skiff, user: ${JSON.stringify(user)}}
current-context: ctx
`,
    { mode: 0o600 },
  );
  return kubeconfig;
}

describe('RBAC with kubectl', { skip }, () => {
  let s: TestServer;
  let admin: Kubectl;
  const as: Record<string, Kubectl> = {};

  before(async () => {
    s = await startTestServer({ controlPlane: false });
    admin = kubectlFor(s.kubeconfig);
    as.alice = kubectlFor(await userKubeconfig(s, 'alice', ['devs']));
    as.bob = kubectlFor(await userKubeconfig(s, 'bob'));
    as.carol = kubectlFor(await userKubeconfig(s, 'carol'));
    as.nobody = kubectlFor(await userKubeconfig(s, 'nobody'));
    const setup = `
apiVersion: v1
kind: Namespace
metadata: {name: team-a}
---
apiVersion: v1
kind: Namespace
metadata: {name: team-b}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: robot, namespace: team-a}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: devs-edit, namespace: team-a}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}
subjects: [{kind: Group, apiGroup: rbac.authorization.k8s.io, name: devs}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: bob-view, namespace: team-a}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{kind: User, apiGroup: rbac.authorization.k8s.io, name: bob}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: carol-admin, namespace: team-b}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: admin}
subjects: [{kind: User, apiGroup: rbac.authorization.k8s.io, name: carol}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: robot-view, namespace: team-a}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{kind: ServiceAccount, name: robot}]
---
apiVersion: v1
kind: Secret
metadata: {name: db, namespace: team-a}
stringData: {password: hunter2}
`;
    const r = await admin(['apply', '-f', '-'], { input: setup });
    assert.equal(r.code, 0, r.stderr);
    // Decisions follow the watch cache: wait until the last binding is in force.
    await eventually('robot-view in force', async () => (await admin(['auth', 'can-i', 'list', 'pods', '-n', 'team-a', '--as', 'system:serviceaccount:team-a:robot'])).stdout.trim() === 'yes');
  });
  after(async () => {
    await s?.stop();
  });

  // [who (`--as` by the admin, and the user's own certificate where there is one), verb, resource, namespace, allowed];
  // `resource#sub` asks about a subresource (kubectl reads `resource/x` as a name).
  const matrix: [string, string[], string, string, string, boolean][] = [
    ['view', ['bob'], 'get', 'pods', 'team-a', true],
    ['view', ['bob'], 'watch', 'deployments.apps', 'team-a', true],
    ['view', ['bob'], 'get', 'secrets', 'team-a', false],
    ['view', ['bob'], 'create', 'pods', 'team-a', false],
    ['view', ['bob'], 'list', 'pods', 'team-b', false],
    ['edit', ['alice', 'devs'], 'create', 'deployments.apps', 'team-a', true],
    ['edit', ['alice', 'devs'], 'get', 'secrets', 'team-a', true],
    ['edit', ['alice', 'devs'], 'create', 'pods#exec', 'team-a', true],
    ['view', ['bob'], 'create', 'pods#exec', 'team-a', false],
    ['view', ['bob'], 'get', 'pods#log', 'team-a', true],
    ['edit', ['alice', 'devs'], 'create', 'rolebindings.rbac.authorization.k8s.io', 'team-a', false],
    ['edit', ['alice', 'devs'], 'list', 'roles.rbac.authorization.k8s.io', 'team-a', false],
    ['edit', ['alice', 'devs'], 'update', 'resourcequotas', 'team-a', false],
    ['edit', ['alice', 'devs'], 'delete', 'pods', 'team-b', false],
    ['admin', ['carol'], 'create', 'rolebindings.rbac.authorization.k8s.io', 'team-b', true],
    ['admin', ['carol'], 'delete', 'secrets', 'team-b', true],
    ['admin', ['carol'], 'create', 'resourcequotas', 'team-b', false],
    ['admin', ['carol'], 'get', 'pods', 'team-a', false],
    ['admin', ['carol'], 'list', 'nodes', '', false],
    ['service account view', ['system:serviceaccount:team-a:robot'], 'list', 'pods', 'team-a', true],
    ['service account view', ['system:serviceaccount:team-a:robot'], 'delete', 'pods', 'team-a', false],
    ['service account view', ['system:serviceaccount:team-a:robot'], 'get', 'configmaps', 'team-b', false],
    // The control plane's identities, by the bootstrap policy (the scheduler runs with exactly these in skiff server).
    ['scheduler', ['system:kube-scheduler'], 'create', 'pods#binding', 'team-a', true],
    ['scheduler', ['system:kube-scheduler'], 'create', 'pods', 'team-a', false],
    ['scheduler', ['system:kube-scheduler'], 'update', 'leases.coordination.k8s.io/kube-scheduler', 'kube-system', true],
    ['scheduler', ['system:kube-scheduler'], 'update', 'leases.coordination.k8s.io/kube-controller-manager', 'kube-system', false],
    ['scheduler', ['system:kube-scheduler'], 'get', 'secrets', 'team-a', false],
    ['kube-proxy', ['system:kube-proxy'], 'watch', 'endpointslices.discovery.k8s.io', '', true],
    ['controller manager', ['system:kube-controller-manager'], 'list', 'secrets', '', true],
    ['controller manager', ['system:kube-controller-manager'], 'delete', 'pods', 'team-a', false],
    ['no binding', ['nobody'], 'get', 'pods', 'default', false],
    ['no binding', ['nobody'], 'create', 'selfsubjectaccessreviews.authorization.k8s.io', '', true],
    ['no binding', ['nobody'], 'get', 'namespaces', '', false],
  ];

  for (const [role, [user, ...groups], verb, resource, ns, allowed] of matrix) {
    const [res, sub] = resource.split('#');
    const where = [...(ns ? ['-n', ns] : []), ...(sub ? ['--subresource', sub] : [])];
    it(`${role}: ${user} ${allowed ? 'may' : 'may not'} ${verb} ${resource}${ns ? ` in ${ns}` : ''} (kubectl --as)`, async () => {
      const r = await admin(['auth', 'can-i', verb, res, ...where, '--as', user, ...groups.flatMap((g) => ['--as-group', g])]);
      assert.equal(r.stdout.trim(), allowed ? 'yes' : 'no', r.stderr);
    });
    const own = as[user];
    if (own) {
      it(`${role}: ${user} ${allowed ? 'may' : 'may not'} ${verb} ${resource}${ns ? ` in ${ns}` : ''} (own certificate)`, async () => {
        const r = await own(['auth', 'can-i', verb, res, ...where]);
        assert.equal(r.stdout.trim(), allowed ? 'yes' : 'no', r.stderr);
      });
    }
  }

  it('a real request gets kube-apiserver’s 403 wording', async () => {
    const r = await as.bob(['get', 'secrets', '-n', 'team-a']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Error from server \(Forbidden\): secrets is forbidden: User "bob" cannot list resource "secrets" in API group "" in the namespace "team-a"/);
    const named = await as.bob(['get', 'secret', 'db', '-n', 'team-a', '-o', 'name']);
    assert.match(named.stderr, /secrets "db" is forbidden: User "bob" cannot get resource "secrets" in API group "" in the namespace "team-a"/);
    const ok = await as.alice(['get', 'secret', 'db', '-n', 'team-a', '-o', 'jsonpath={.data.password}']);
    assert.equal(Buffer.from(ok.stdout, 'base64').toString(), 'hunter2', ok.stderr);
    const cluster = await as.bob(['get', 'nodes']);
    assert.match(cluster.stderr, /nodes is forbidden: User "bob" cannot list resource "nodes" in API group "" at the cluster scope/);
  });

  it('auth can-i --list and auth whoami tell the truth', async () => {
    const list = await as.bob(['auth', 'can-i', '--list', '-n', 'team-a']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^pods\s+\[\]\s+\[\]\s+\[get list watch\]$/m);
    assert.doesNotMatch(list.stdout, /^secrets\s/m);
    assert.match(list.stdout, /selfsubjectaccessreviews\.authorization\.k8s\.io\s+\[\]\s+\[\]\s+\[create\]/);
    const who = await as.alice(['auth', 'whoami', '-o', 'json']);
    assert.deepEqual(JSON.parse(who.stdout).status.userInfo, { username: 'alice', groups: ['devs', 'system:authenticated'] });
  });

  it('escalation: a namespace admin may grant only what they hold, unless given bind', async () => {
    const grant = (name: string, role: string, kind = 'ClusterRole') => `apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: ${name}, namespace: team-b}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ${kind}, name: ${role}}
subjects: [{kind: User, apiGroup: rbac.authorization.k8s.io, name: dave}]
`;
    // edit in her namespace: within what admin holds.
    const ok = await as.carol(['create', '-f', '-'], { input: grant('dave-edit', 'edit') });
    assert.equal(ok.code, 0, ok.stderr);
    const refused = await as.carol(['create', '-f', '-'], { input: grant('dave-root', 'cluster-admin') });
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /rolebindings\.rbac\.authorization\.k8s\.io "dave-root" is forbidden: user "carol" \(groups=\["system:authenticated"\]\) is attempting to grant RBAC permissions not currently held:\n\{APIGroups:\["\*"\], Resources:\["\*"\], Verbs:\["\*"\]\}/);
    // A Role with a rule she lacks (nodes) is refused; one within her rights is not.
    const role = (name: string, resource: string) => `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: ${name}, namespace: team-b}
rules: [{apiGroups: [""], resources: [${resource}], verbs: [get, list]}]
`;
    assert.equal((await as.carol(['create', '-f', '-'], { input: role('secret-reader', 'secrets') })).code, 0);
    const wide = await as.carol(['create', '-f', '-'], { input: role('node-reader', 'nodes') });
    assert.match(wide.stderr, /roles\.rbac\.authorization\.k8s\.io "node-reader" is forbidden: user "carol" .* not currently held:\n\{APIGroups:\[""\], Resources:\["nodes"\], Verbs:\["get" "list"\]\}/);
    // Edit cannot touch RBAC at all.
    const edit = await as.alice(['create', 'rolebinding', 'x', '--clusterrole=view', '--user=alice', '-n', 'team-a']);
    assert.match(edit.stderr, /rolebindings\.rbac\.authorization\.k8s\.io is forbidden: User "alice" cannot create resource "rolebindings" in API group "rbac\.authorization\.k8s\.io" in the namespace "team-a"/);
    // Creating ClusterRoles is not enough to set an aggregationRule: it gathers anything, so it needs everything.
    assert.equal((await admin(['create', 'clusterrole', 'role-maker', '--verb=create', '--resource=clusterroles.rbac.authorization.k8s.io'])).code, 0);
    assert.equal((await admin(['create', 'clusterrolebinding', 'carol-role-maker', '--clusterrole=role-maker', '--user=carol'])).code, 0);
    const aggregated = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: gather-all}
aggregationRule: {clusterRoleSelectors: [{matchLabels: {anything: "true"}}]}
`;
    await eventually('carol may create ClusterRoles', async () => (await admin(['auth', 'can-i', 'create', 'clusterroles.rbac.authorization.k8s.io', '--as', 'carol'])).stdout.trim() === 'yes');
    const agg = await as.carol(['create', '-f', '-'], { input: aggregated });
    assert.match(agg.stderr, /clusterroles\.rbac\.authorization\.k8s\.io "gather-all" is forbidden: must have cluster-admin privileges to use the aggregationRule/);
    assert.equal((await as.carol(['create', 'clusterrole', 'plain', '--verb=get', '--resource=secrets'])).code, 1, 'she holds secrets only in team-b, not cluster-wide');
    // The bind verb on cluster-admin lets her bind it without holding it.
    const bindRole = await admin(['create', 'clusterrole', 'bind-root', '--verb=bind', '--resource=clusterroles', '--resource-name=cluster-admin']);
    assert.equal(bindRole.code, 0, bindRole.stderr);
    assert.equal((await admin(['create', 'rolebinding', 'carol-bind', '--clusterrole=bind-root', '--user=carol', '-n', 'team-b'])).code, 0);
    await eventually('carol may bind cluster-admin', async () => (await as.carol(['create', '-f', '-'], { input: grant('dave-root', 'cluster-admin') })).code === 0);
    await eventually('dave is admin of team-b', async () => (await admin(['auth', 'can-i', 'delete', 'nodes', '--as', 'dave'])).stdout.trim() === 'no' && (await admin(['auth', 'can-i', '*', '*', '-n', 'team-b', '--as', 'dave'])).stdout.trim() === 'yes');
  });

  it('impersonation needs the impersonate verb; edit may impersonate service accounts of its namespace', async () => {
    const denied = await as.alice(['get', 'pods', '-n', 'team-a', '--as', 'bob']);
    assert.match(denied.stderr, /users "bob" is forbidden: User "alice" cannot impersonate resource "users" in API group "" at the cluster scope/);
    const group = await as.bob(['get', 'pods', '-n', 'team-a', '--as', 'bob', '--as-group', 'system:masters']);
    assert.match(group.stderr, /is forbidden: User "bob" cannot impersonate resource "users" in API group "" at the cluster scope/);
    // edit carries `impersonate` on serviceaccounts: alice acts as the robot, with the robot's rights only.
    const sa = await as.alice(['auth', 'whoami', '-o', 'json', '--as', 'system:serviceaccount:team-a:robot']);
    assert.equal(sa.code, 0, sa.stderr);
    assert.deepEqual(JSON.parse(sa.stdout).status.userInfo.groups, ['system:serviceaccounts', 'system:serviceaccounts:team-a', 'system:authenticated']);
    const asRobot = await as.alice(['delete', 'secret', 'db', '-n', 'team-a', '--as', 'system:serviceaccount:team-a:robot']);
    assert.match(asRobot.stderr, /User "system:serviceaccount:team-a:robot" cannot delete resource "secrets"/);
    // Granting impersonate on one user allows exactly that user.
    assert.equal((await admin(['create', 'clusterrole', 'impersonate-bob', '--verb=impersonate', '--resource=users', '--resource-name=bob'])).code, 0);
    assert.equal((await admin(['create', 'clusterrolebinding', 'alice-impersonates-bob', '--clusterrole=impersonate-bob', '--user=alice'])).code, 0);
    await eventually('alice acts as bob', async () => {
      const r = await as.alice(['get', 'secrets', '-n', 'team-a', '--as', 'bob']);
      return /User "bob" cannot list resource "secrets"/.test(r.stderr);
    });
    const other = await as.alice(['get', 'pods', '--as', 'carol']);
    assert.match(other.stderr, /users "carol" is forbidden: User "alice" cannot impersonate/);
  });

  it('SubjectAccessReview and LocalSubjectAccessReview answer for others; only those allowed may ask', async () => {
    const sar = (kind: string, ns?: string) => `apiVersion: authorization.k8s.io/v1
kind: ${kind}
metadata: {${ns ? `namespace: ${ns}` : ''}}
spec: {user: bob, resourceAttributes: {namespace: team-a, verb: get, resource: secrets}}
`;
    // kubectl's client-side schema check does not find skiff's review kinds in its OpenAPI (as for SelfSubjectAccessReview).
    const create = ['create', '--validate=false', '-f', '-'];
    const r = await admin([...create, '-o', 'json'], { input: sar('SubjectAccessReview') });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).status.allowed, false);
    const local = await admin([...create, '-o', 'json'], { input: sar('LocalSubjectAccessReview', 'team-a') });
    assert.equal(JSON.parse(local.stdout).status.allowed, false, local.stderr);
    const mismatch = await admin([...create, '-n', 'team-b'], { input: sar('LocalSubjectAccessReview', 'team-b') });
    assert.match(mismatch.stderr, /spec\.resourceAttributes\.namespace must match namespace: team-b/);
    const viewer = await as.bob(create, { input: sar('SubjectAccessReview') });
    assert.match(viewer.stderr, /subjectaccessreviews\.authorization\.k8s\.io is forbidden: User "bob" cannot create resource "subjectaccessreviews"/);
  });

  it('aggregation: a ClusterRole labelled aggregate-to-view extends view (and so edit and admin)', async () => {
    // view has no leases; kubectl names them by a resource discovery knows (an unknown one is sent without a group).
    const widget = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: lease-viewer
  labels: {rbac.authorization.k8s.io/aggregate-to-view: "true"}
rules: [{apiGroups: [coordination.k8s.io], resources: [leases], verbs: [get, list]}]
`;
    assert.equal((await as.bob(['auth', 'can-i', 'list', 'leases.coordination.k8s.io', '-n', 'team-a'])).stdout.trim(), 'no');
    assert.equal((await admin(['apply', '-f', '-'], { input: widget })).code, 0);
    await eventually('view aggregates leases', async () => (await as.bob(['auth', 'can-i', 'list', 'leases.coordination.k8s.io', '-n', 'team-a'])).stdout.trim() === 'yes');
    const view = await admin.json(['get', 'clusterrole', 'view']);
    assert.ok(view.rules.some((r: { apiGroups?: string[]; resources?: string[] }) => r.apiGroups?.includes('coordination.k8s.io') && r.resources?.includes('leases')));
    const admin2 = await admin.json(['get', 'clusterrole', 'admin']);
    assert.ok(admin2.rules.some((r: { resources?: string[]; verbs: string[] }) => r.resources?.includes('leases') && r.verbs.includes('list') && !r.verbs.includes('create')), 'view -> edit -> admin');
    assert.equal((await admin(['delete', 'clusterrole', 'lease-viewer'])).code, 0);
    await eventually('view no longer has leases', async () => (await as.bob(['auth', 'can-i', 'list', 'leases.coordination.k8s.io', '-n', 'team-a'])).stdout.trim() === 'no');
  });

  it('only an admin may bind a role that does not exist (upstream: 404 for others)', async () => {
    const ghost = await as.carol(['create', 'rolebinding', 'ghost', '--clusterrole=no-such-role', '--user=dave', '-n', 'team-b']);
    assert.notEqual(ghost.code, 0);
    assert.match(ghost.stderr, /clusterrole\.rbac\.authorization\.k8s\.io "no-such-role" not found/);
    const r = await as.carol(['get', 'rolebinding', 'ghost', '-n', 'team-b']);
    assert.match(r.stderr, /NotFound|not found/, 'nothing was created');
  });

  it('a binding to a missing role grants nothing and says why', async () => {
    assert.equal((await admin(['create', 'rolebinding', 'ghost', '--clusterrole=no-such-role', '--user=nobody', '-n', 'default'])).code, 0);
    await eventually('the reason names the missing role', async () => {
      const r = await as.nobody(['get', 'pods', '-n', 'default']);
      return /pods is forbidden: User "nobody" cannot list resource "pods" in API group "" in the namespace "default": RBAC: clusterrole\.rbac\.authorization\.k8s\.io "no-such-role" not found/.test(r.stderr);
    });
  });

  it('auth reconcile -f creates and extends roles and bindings', async () => {
    const policy = `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: reconciled, namespace: team-a}
rules: [{apiGroups: [""], resources: [configmaps], verbs: [get]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: reconciled, namespace: team-a}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reconciled}
subjects: [{kind: User, apiGroup: rbac.authorization.k8s.io, name: erin}]
`;
    const r = await admin(['auth', 'reconcile', '-f', '-'], { input: policy });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /role\.rbac\.authorization\.k8s\.io\/reconciled reconciled/);
    await eventually('erin reads configmaps', async () => (await admin(['auth', 'can-i', 'get', 'configmaps', '-n', 'team-a', '--as', 'erin'])).stdout.trim() === 'yes');
    const again = await admin(['auth', 'reconcile', '-f', '-'], { input: policy.replace('verbs: [get]', 'verbs: [get, list]') });
    assert.equal(again.code, 0, again.stderr);
    const role = await admin.json(['get', 'role', 'reconciled', '-n', 'team-a']);
    assert.ok(JSON.stringify(role.rules).includes('list'));
  });
});

describe('bootstrap policy across restarts', { skip }, () => {
  it('is reconciled at start, and an object annotated autoupdate=false is left as the user made it', async () => {
    let s = await startTestServer({ controlPlane: false, datastore: 'sqlite' });
    const dataDir = s.dataDir;
    try {
      let k = kubectlFor(s.kubeconfig);
      const view = await k.json(['get', 'clusterrole', 'view']);
      assert.ok(view.rules.length > 5, 'view is aggregated from system:aggregate-to-view');
      assert.equal(view.metadata.annotations['rbac.authorization.kubernetes.io/autoupdate'], 'true');
      // A user strips system:basic-user and protects it; another user strips system:discovery without protecting it.
      assert.equal((await k(['annotate', 'clusterrole', 'system:basic-user', 'rbac.authorization.kubernetes.io/autoupdate=false', '--overwrite'])).code, 0);
      assert.equal((await k(['patch', 'clusterrole', 'system:basic-user', '--type=json', '-p', '[{"op":"replace","path":"/rules","value":[]}]'])).code, 0);
      assert.equal((await k(['patch', 'clusterrole', 'system:discovery', '--type=json', '-p', '[{"op":"replace","path":"/rules","value":[]}]'])).code, 0);
      assert.equal((await k(['delete', 'clusterrolebinding', 'system:public-info-viewer'])).code, 0);
      await s.running.stop();
      // The kubeconfig is written again at start, with the new port.
      s = await startTestServer({ controlPlane: false, datastore: 'sqlite', dataDir });
      k = kubectlFor(s.kubeconfig);
      assert.deepEqual((await k.json(['get', 'clusterrole', 'system:basic-user'])).rules ?? [], []);
      assert.ok((await k.json(['get', 'clusterrole', 'system:discovery'])).rules.length > 0);
      assert.equal((await k(['get', 'clusterrolebinding', 'system:public-info-viewer'])).code, 0);
    } finally {
      await s.stop();
      const { rm } = await import('node:fs/promises');
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
