/**
 * End to end: the policy admission plugins of `skiff server` (control plane only, pods stay Pending) driven by the real
 * kubectl: PodSecurity (a restricted namespace refuses a privileged hostPath pod in upstream's words, warns for a
 * Deployment, warns about existing pods when a namespace is labelled, refuses invalid labels), ResourceQuota (the
 * third pod of pods=2 is refused with the exact message, `kubectl describe quota` shows Used/Hard, a delete frees the
 * slot; cpu quotas require containers to state cpu) and LimitRanger (defaults and the annotation in a created pod, a
 * limit over the max refused, defaults counted by quota), and --pod-security-admission-config-file (cluster defaults
 * and exemptions). Run from dist/:
 *   npx tsc -p tsconfig.json && node --test dist/test/admission-policy.e2e.test.js
 * Needs kubectl (skips otherwise, fails under CI=true).
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { eventually } from './helpers/eventually.js';
import { kubectlSkip, type Kubectl } from './helpers/kubectl.js';
import { spawnServer } from './helpers/server-process.js';
import { spawnServerInTempDir, stopServerAndRemoveDir, type DirServer } from './helpers/stop-server.js';

const privilegedPod = (ns: string, name: string) => `apiVersion: v1
kind: Pod
metadata: { name: ${name}, namespace: ${ns} }
spec:
  containers:
    - name: c
      image: busybox
      securityContext: { privileged: true }
      volumeMounts: [{ name: host, mountPath: /host }]
  volumes:
    - name: host
      hostPath: { path: / }
`;

describe('admission policy: PodSecurity, ResourceQuota, LimitRanger (kubectl)', { skip: kubectlSkip() }, () => {
  let ds: DirServer | undefined;
  let k: Kubectl;

  /** A namespace whose default ServiceAccount exists (ServiceAccount admission needs it for pods). */
  const namespace = async (name: string, labels: Record<string, string> = {}) => {
    const r = await k(['create', 'namespace', name]);
    assert.equal(r.code, 0, r.stderr);
    if (Object.keys(labels).length > 0) {
      const l = await k(['label', 'namespace', name, ...Object.entries(labels).map(([a, b]) => `${a}=${b}`)]);
      assert.equal(l.code, 0, l.stderr);
    }
    await eventually(`the default ServiceAccount of ${name}`, async () => (await k(['get', 'serviceaccount', 'default', '-n', name])).code === 0, 20_000);
  };
  const run = (ns: string, name: string, ...extra: string[]) => k(['run', name, '-n', ns, '--image=busybox', '--restart=Never', ...extra]);

  before(async () => {
    ds = await spawnServerInTempDir('skiff-e2e-admission-');
    k = ds.k;
  });
  after(() => stopServerAndRemoveDir(ds?.server, ds?.dir));

  test('PodSecurity: a restricted namespace refuses a privileged hostPath pod with the standard message', async () => {
    await namespace('psa', { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/warn': 'restricted' });
    const r = await k(['apply', '-f', '-'], { input: privilegedPod('psa', 'priv') });
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /pods "priv" is forbidden: violates PodSecurity "restricted:latest": privileged \(container "c" must not set securityContext\.privileged=true\), allowPrivilegeEscalation != false \(container "c" must set securityContext\.allowPrivilegeEscalation=false\), unrestricted capabilities \(container "c" must set securityContext\.capabilities\.drop=\["ALL"\]\), restricted volume types \(volume "host" uses restricted volume type "hostPath"\), runAsNonRoot != true \(pod or container "c" must set securityContext\.runAsNonRoot=true\), seccompProfile \(pod or container "c" must set securityContext\.seccompProfile\.type to "RuntimeDefault" or "Localhost"\)/,
    );
    assert.equal((await k(['get', 'pod', 'priv', '-n', 'psa'])).code, 1, 'the pod was not created');
    // A pod that meets the restricted standard is admitted.
    const ok = await k(['apply', '-f', '-'], {
      input: `apiVersion: v1
kind: Pod
metadata: { name: fine, namespace: psa }
spec:
  securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: RuntimeDefault } }
  containers:
    - name: c
      image: busybox
      securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: [ALL] } }
`,
    });
    assert.equal(ok.code, 0, ok.stderr);
    assert.doesNotMatch(ok.stderr, /Warning/);
  });

  test('PodSecurity: a Deployment with a privileged template is admitted with a Warning', async () => {
    const r = await k(['create', 'deployment', 'web', '-n', 'psa', '--image=busybox', '--dry-run=client', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const deployment = JSON.parse(r.stdout);
    deployment.spec.template.spec.containers[0].securityContext = { privileged: true };
    const created = await k(['create', '-f', '-'], { input: JSON.stringify(deployment) });
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stderr, /^Warning: would violate PodSecurity "restricted:latest": privileged \(container "busybox" must not set securityContext\.privileged=true\), allowPrivilegeEscalation != false/m);
    assert.match(created.stdout, /deployment.apps\/web created/);
  });

  test('PodSecurity: labelling a namespace warns about its existing pods; invalid labels are refused', async () => {
    await namespace('psa-existing');
    const created = await k(['apply', '-f', '-'], { input: privilegedPod('psa-existing', 'old') });
    assert.equal(created.code, 0, created.stderr);
    const labelled = await k(['label', 'namespace', 'psa-existing', 'pod-security.kubernetes.io/enforce=baseline']);
    assert.equal(labelled.code, 0, labelled.stderr);
    assert.match(labelled.stderr, /^Warning: existing pods in namespace "psa-existing" violate the new PodSecurity enforce level "baseline:latest"$/m);
    assert.match(labelled.stderr, /^Warning: old: hostPath volumes, privileged$/m);
    const bad = await k(['label', 'namespace', 'psa-existing', '--overwrite', 'pod-security.kubernetes.io/enforce=strict']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /metadata\.labels\[pod-security\.kubernetes\.io\/enforce\]: Invalid value: "strict": must be one of privileged, baseline, restricted/);
  });

  test('ResourceQuota: pods=2 refuses the third pod with the exact message, describe shows Used/Hard, a delete frees it', async () => {
    await namespace('quota');
    const q = await k(['create', 'quota', 'pods', '-n', 'quota', '--hard=pods=2']);
    assert.equal(q.code, 0, q.stderr);
    await eventually('the quota controller to set status.hard', async () => (await k.json(['get', 'quota', 'pods', '-n', 'quota', '-o', 'json'])).status?.hard?.pods === '2');
    for (const name of ['p1', 'p2']) {
      const r = await run('quota', name);
      assert.equal(r.code, 0, r.stderr);
    }
    const third = await run('quota', 'p3');
    assert.equal(third.code, 1);
    assert.equal(third.stderr.trim(), 'Error from server (Forbidden): pods "p3" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=2, limited: pods=2');
    const describe = await k(['describe', 'quota', 'pods', '-n', 'quota']);
    assert.equal(describe.code, 0, describe.stderr);
    assert.match(describe.stdout, /Resource\s+Used\s+Hard\n-+\s+-+\s+-+\npods\s+2\s+2/);
    const del = await k(['delete', 'pod', 'p1', '-n', 'quota', '--wait=true']);
    assert.equal(del.code, 0, del.stderr);
    await eventually('the quota to be replenished', async () => (await k.json(['get', 'quota', 'pods', '-n', 'quota', '-o', 'json'])).status?.used?.pods === '1');
    const again = await run('quota', 'p3');
    assert.equal(again.code, 0, again.stderr);
    assert.equal((await k.json(['get', 'quota', 'pods', '-n', 'quota', '-o', 'json'])).status.used.pods, '2');
  });

  test('ResourceQuota: a cpu quota requires every container to state cpu', async () => {
    await namespace('quota-cpu');
    assert.equal((await k(['create', 'quota', 'compute', '-n', 'quota-cpu', '--hard=limits.cpu=1'])).code, 0);
    await eventually('status.hard', async () => (await k.json(['get', 'quota', 'compute', '-n', 'quota-cpu', '-o', 'json'])).status?.hard?.['limits.cpu'] === '1');
    const r = await run('quota-cpu', 'nolimits');
    assert.equal(r.stderr.trim(), 'Error from server (Forbidden): pods "nolimits" is forbidden: failed quota: compute: must specify limits.cpu for: nolimits');
  });

  test('LimitRanger: defaults and the annotation appear in a created pod; a limit over the max is refused; quota counts the defaults', async () => {
    await namespace('limits');
    const lr = await k(['apply', '-f', '-'], {
      input: `apiVersion: v1
kind: LimitRange
metadata: { name: defaults, namespace: limits }
spec:
  limits:
    - type: Container
      default: { cpu: 500m, memory: 256Mi }
      defaultRequest: { cpu: 100m, memory: 128Mi }
      max: { cpu: "1" }
`,
    });
    assert.equal(lr.code, 0, lr.stderr);
    await eventually('the LimitRange in the cache', async () => {
      const r = await run('limits', 'probe', '--dry-run=server', '-o', 'json');
      return r.code === 0 && JSON.parse(r.stdout).metadata.annotations?.['kubernetes.io/limit-ranger'] !== undefined;
    });
    const created = await run('limits', 'web');
    assert.equal(created.code, 0, created.stderr);
    const pod = await k.json(['get', 'pod', 'web', '-n', 'limits', '-o', 'json']);
    assert.deepEqual(pod.spec.containers[0].resources, { limits: { cpu: '500m', memory: '256Mi' }, requests: { cpu: '100m', memory: '128Mi' } });
    assert.equal(pod.metadata.annotations['kubernetes.io/limit-ranger'], 'LimitRanger plugin set: cpu, memory request for container web; cpu, memory limit for container web');
    assert.equal(pod.status.qosClass, 'Burstable');

    const big = await run('limits', 'big', '--overrides', JSON.stringify({ spec: { containers: [{ name: 'big', image: 'busybox', resources: { limits: { cpu: '2' } } }] } }));
    assert.equal(big.code, 1);
    assert.equal(big.stderr.trim(), 'Error from server (Forbidden): pods "big" is forbidden: maximum cpu usage per Container is 1, but limit is 2');

    // The defaults satisfy a cpu quota's "must specify" and are what it charges.
    assert.equal((await k(['create', 'quota', 'compute', '-n', 'limits', '--hard=requests.cpu=150m'])).code, 0);
    await eventually('the quota to count the pod', async () => (await k.json(['get', 'quota', 'compute', '-n', 'limits', '-o', 'json'])).status?.used?.['requests.cpu'] === '100m');
    const second = await run('limits', 'second');
    assert.equal(second.stderr.trim(), 'Error from server (Forbidden): pods "second" is forbidden: exceeded quota: compute, requested: requests.cpu=100m, used: requests.cpu=100m, limited: requests.cpu=150m');
  });
});

describe('skiff server --pod-security-admission-config-file', { skip: kubectlSkip() }, () => {
  let ds: DirServer | undefined;
  let dir: string;
  let k: Kubectl;

  before(async () => {
    ds = await spawnServerInTempDir('skiff-e2e-psa-config-', {
      files: {
        'psa.yaml': `apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
- name: PodSecurity
  configuration:
    apiVersion: pod-security.admission.config.k8s.io/v1
    kind: PodSecurityConfiguration
    defaults: { enforce: baseline, warn: restricted }
    exemptions: { namespaces: [trusted] }
`,
      },
      args: (d) => ['--pod-security-admission-config-file', join(d, 'psa.yaml')],
    });
    ({ dir, k } = ds);
  });
  after(() => stopServerAndRemoveDir(ds?.server, ds?.dir));

  test('unlabelled namespaces get the configured levels; exempt namespaces are not checked', async () => {
    for (const ns of ['plain', 'trusted']) {
      assert.equal((await k(['create', 'namespace', ns])).code, 0);
      await eventually(`the default ServiceAccount of ${ns}`, async () => (await k(['get', 'serviceaccount', 'default', '-n', ns])).code === 0, 20_000);
    }
    const refused = await k(['apply', '-f', '-'], { input: privilegedPod('plain', 'priv') });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /pods "priv" is forbidden: violates PodSecurity "baseline:latest": hostPath volumes \(volume "host"\), privileged \(container "c" must not set securityContext\.privileged=true\)/);
    // Baseline admits a plain pod; the restricted warn level names what it lacks.
    const warned = await k(['run', 'plain', '-n', 'plain', '--image=busybox', '--restart=Never']);
    assert.equal(warned.code, 0, warned.stderr);
    assert.match(warned.stderr, /^Warning: would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false/m);
    const exempt = await k(['apply', '-f', '-'], { input: privilegedPod('trusted', 'priv') });
    assert.equal(exempt.code, 0, exempt.stderr);
    assert.doesNotMatch(exempt.stderr, /Warning/);
  });

  test('a configuration that does not load stops the start, naming the field', async () => {
    await writeFile(join(dir, 'bad.yaml'), 'apiVersion: pod-security.admission.config.k8s.io/v1\nkind: PodSecurityConfiguration\ndefaults: { enforce: strict }\n');
    await assert.rejects(
      spawnServer(['--data-dir', join(dir, 'bad-data'), '--https-listen-port', '0', '--bind-address', '127.0.0.1', '--disable', 'coredns', '--pod-security-admission-config-file', join(dir, 'bad.yaml')], 30_000),
      // The log line quotes the error as a logfmt value (inner quotes escaped).
      /bad\.yaml: defaults\.enforce: Invalid value: \\"strict\\": must be one of privileged, baseline, restricted/,
    );
  });
});
