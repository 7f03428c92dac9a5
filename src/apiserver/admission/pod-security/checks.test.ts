import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PodSpec } from 'kubernetes-types/core/v1.js';
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';
import { evaluatePod, formatViolations, type Level, type Version } from './checks.js';

const latest: Version = { latest: true };

/** A pod that passes restricted: the starting point every case changes one thing in. */
function restrictedPod(): PodSpec {
  return {
    securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
    containers: [{ name: 'app', image: 'busybox', securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } }],
  };
}

interface Case {
  name: string;
  level: Level;
  version?: Version;
  meta?: ObjectMeta;
  spec: (s: PodSpec) => void;
  want: string;
}

// Messages as upstream's check_*.go words them (ForbiddenReason (ForbiddenDetail)).
const cases: Case[] = [
  { name: 'compliant pod', level: 'restricted', spec: () => {}, want: '' },
  { name: 'host namespaces, sorted', level: 'baseline', spec: (s) => Object.assign(s, { hostPID: true, hostNetwork: true, hostIPC: true }), want: 'host namespaces (hostIPC=true, hostNetwork=true, hostPID=true)' },
  { name: 'privileged', level: 'baseline', spec: (s) => (s.containers[0]!.securityContext!.privileged = true), want: 'privileged (container "app" must not set securityContext.privileged=true)' },
  {
    name: 'privileged, two containers',
    level: 'baseline',
    spec: (s) => {
      s.initContainers = [{ name: 'init', image: 'x', securityContext: { privileged: true } }];
      s.containers[0]!.securityContext!.privileged = true;
    },
    want: 'privileged (containers "init", "app" must not set securityContext.privileged=true)',
  },
  { name: 'baseline capabilities', level: 'baseline', spec: (s) => (s.containers[0]!.securityContext!.capabilities!.add = ['SYS_ADMIN', 'CHOWN', 'NET_RAW']), want: 'non-default capabilities (container "app" must not include "NET_RAW", "SYS_ADMIN" in securityContext.capabilities.add)' },
  { name: 'hostPath volume (baseline)', level: 'baseline', spec: (s) => (s.volumes = [{ name: 'root', hostPath: { path: '/' } }]), want: 'hostPath volumes (volume "root")' },
  {
    name: 'hostPort',
    level: 'baseline',
    spec: (s) => (s.containers[0]!.ports = [{ containerPort: 80, hostPort: 8080 }, { containerPort: 81, hostPort: 80 }]),
    want: 'hostPort (container "app" uses hostPorts 80, 8080)',
  },
  {
    name: 'AppArmor annotations (upstream test case)',
    level: 'baseline',
    meta: {
      annotations: {
        'container.apparmor.security.beta.kubernetes.io/': 'bogus',
        'container.apparmor.security.beta.kubernetes.io/a': '',
        'container.apparmor.security.beta.kubernetes.io/b': 'runtime/default',
        'container.apparmor.security.beta.kubernetes.io/c': 'localhost/',
        'container.apparmor.security.beta.kubernetes.io/d': 'localhost/foo',
        'container.apparmor.security.beta.kubernetes.io/e': 'unconfined',
        'container.apparmor.security.beta.kubernetes.io/f': 'unknown',
      },
    },
    spec: () => {},
    want:
      'forbidden AppArmor profiles (annotations must not set AppArmor profile type to "container.apparmor.security.beta.kubernetes.io/="bogus"", ' +
      '"container.apparmor.security.beta.kubernetes.io/e="unconfined"", "container.apparmor.security.beta.kubernetes.io/f="unknown"")',
  },
  { name: 'AppArmor Unconfined on the pod', level: 'baseline', spec: (s) => (s.securityContext!.appArmorProfile = { type: 'Unconfined' }), want: 'forbidden AppArmor profile (pod must not set AppArmor profile type to "Unconfined")' },
  { name: 'AppArmor Unconfined on a container', level: 'baseline', spec: (s) => (s.containers[0]!.securityContext!.appArmorProfile = { type: 'Unconfined' }), want: 'forbidden AppArmor profile (container "app" must not set AppArmor profile type to "Unconfined")' },
  { name: 'AppArmor localhost allowed', level: 'baseline', meta: { annotations: { 'container.apparmor.security.beta.kubernetes.io/app': 'localhost/x' } }, spec: () => {}, want: '' },
  {
    name: 'SELinux type and user',
    level: 'baseline',
    spec: (s) => (s.securityContext!.seLinuxOptions = { type: 'spc_t', user: 'system_u' }),
    want: 'seLinuxOptions (pod set forbidden securityContext.seLinuxOptions: type "spc_t"; user may not be set)',
  },
  { name: 'SELinux container_t allowed', level: 'baseline', spec: (s) => (s.securityContext!.seLinuxOptions = { type: 'container_t', level: 's0:c1' }), want: '' },
  { name: 'procMount Unmasked', level: 'baseline', spec: (s) => (s.containers[0]!.securityContext!.procMount = 'Unmasked'), want: 'procMount (container "app" must not set securityContext.procMount to "Unmasked")' },
  { name: 'seccomp Unconfined (baseline)', level: 'baseline', spec: (s) => (s.securityContext!.seccompProfile = { type: 'Unconfined' }), want: 'seccompProfile (pod must not set securityContext.seccompProfile.type to "Unconfined")' },
  {
    name: 'seccomp annotation before 1.19',
    level: 'baseline',
    version: { latest: false, minor: 18 },
    meta: { annotations: { 'seccomp.security.alpha.kubernetes.io/pod': 'unconfined' } },
    spec: () => {},
    want: 'seccompProfile (forbidden annotation seccomp.security.alpha.kubernetes.io/pod="unconfined")',
  },
  { name: 'unsafe sysctls', level: 'baseline', spec: (s) => (s.securityContext!.sysctls = [{ name: 'kernel.msgmax', value: '1' }, { name: 'net.ipv4.tcp_syncookies', value: '1' }]), want: 'forbidden sysctls (kernel.msgmax)' },
  { name: 'tcp_keepalive_time allowed at latest', level: 'baseline', spec: (s) => (s.securityContext!.sysctls = [{ name: 'net.ipv4.tcp_keepalive_time', value: '1' }]), want: '' },
  { name: 'tcp_keepalive_time refused at v1.28', level: 'baseline', version: { latest: false, minor: 28 }, spec: (s) => (s.securityContext!.sysctls = [{ name: 'net.ipv4.tcp_keepalive_time', value: '1' }]), want: 'forbidden sysctls (net.ipv4.tcp_keepalive_time)' },
  { name: 'hostProcess', level: 'baseline', spec: (s) => (s.securityContext!.windowsOptions = { hostProcess: true }), want: 'hostProcess (pod must not set securityContext.windowsOptions.hostProcess=true)' },
  { name: 'allowPrivilegeEscalation unset', level: 'restricted', spec: (s) => delete s.containers[0]!.securityContext!.allowPrivilegeEscalation, want: 'allowPrivilegeEscalation != false (container "app" must set securityContext.allowPrivilegeEscalation=false)' },
  { name: 'no drop ALL', level: 'restricted', spec: (s) => (s.containers[0]!.securityContext!.capabilities = { drop: ['NET_RAW'] }), want: 'unrestricted capabilities (container "app" must set securityContext.capabilities.drop=["ALL"])' },
  {
    name: 'restricted capabilities replace the baseline check',
    level: 'restricted',
    spec: (s) => (s.containers[0]!.securityContext!.capabilities!.add = ['SYS_ADMIN', 'NET_BIND_SERVICE']),
    want: 'unrestricted capabilities (container "app" must not include "SYS_ADMIN" in securityContext.capabilities.add)',
  },
  { name: 'NET_BIND_SERVICE allowed', level: 'restricted', spec: (s) => (s.containers[0]!.securityContext!.capabilities!.add = ['NET_BIND_SERVICE']), want: '' },
  {
    name: 'restricted volume types replace hostPath volumes',
    level: 'restricted',
    spec: (s) => (s.volumes = [{ name: 'host', hostPath: { path: '/' } }, { name: 'cfg', configMap: { name: 'x' } }]),
    want: 'restricted volume types (volume "host" uses restricted volume type "hostPath")',
  },
  {
    name: 'two restricted volumes',
    level: 'restricted',
    spec: (s) => (s.volumes = [{ name: 'a', nfs: { server: 's', path: '/' } }, { name: 'b', hostPath: { path: '/' } }, { name: 'c' } as never, { name: 'd', cephfs: { monitors: [] } }]),
    want: 'restricted volume types (volumes "a", "b", "c", "d" use restricted volume types "cephfs", "hostPath", "nfs", "unknown")',
  },
  { name: 'runAsNonRoot missing', level: 'restricted', spec: (s) => delete s.securityContext!.runAsNonRoot, want: 'runAsNonRoot != true (pod or container "app" must set securityContext.runAsNonRoot=true)' },
  { name: 'runAsNonRoot on the container is enough', level: 'restricted', spec: (s) => { delete s.securityContext!.runAsNonRoot; s.containers[0]!.securityContext!.runAsNonRoot = true; }, want: '' },
  { name: 'runAsNonRoot=false', level: 'restricted', spec: (s) => (s.securityContext!.runAsNonRoot = false), want: 'runAsNonRoot != true (pod must not set securityContext.runAsNonRoot=false)' },
  { name: 'runAsUser=0', level: 'restricted', spec: (s) => { s.securityContext!.runAsUser = 0; s.containers[0]!.securityContext!.runAsUser = 0; }, want: 'runAsUser=0 (pod and container "app" must not set runAsUser=0)' },
  { name: 'runAsUser=0 not checked before 1.23', level: 'restricted', version: { latest: false, minor: 22 }, spec: (s) => (s.securityContext!.runAsUser = 0), want: '' },
  { name: 'seccomp missing', level: 'restricted', spec: (s) => delete s.securityContext!.seccompProfile, want: 'seccompProfile (pod or container "app" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")' },
  { name: 'privileged is allowed at privileged', level: 'privileged', spec: (s) => Object.assign(s, { hostNetwork: true }), want: '' },
];

for (const c of cases) {
  test(`PodSecurity check: ${c.name}`, () => {
    const spec = restrictedPod();
    c.spec(spec);
    assert.equal(formatViolations(evaluatePod(c.level, c.version ?? latest, c.meta ?? {}, spec)), c.want);
  });
}

test('a privileged hostPath pod lists every restricted violation in upstream order', () => {
  const spec: PodSpec = {
    hostNetwork: true,
    hostPID: true,
    volumes: [{ name: 'host', hostPath: { path: '/' } }],
    containers: [{ name: 'container-00', image: 'x', securityContext: { privileged: true, runAsUser: 0 } }],
  };
  // The form Kubernetes' documentation shows for this pod.
  assert.equal(
    formatViolations(evaluatePod('restricted', latest, {}, spec)),
    'host namespaces (hostNetwork=true, hostPID=true), privileged (container "container-00" must not set securityContext.privileged=true), ' +
      'allowPrivilegeEscalation != false (container "container-00" must set securityContext.allowPrivilegeEscalation=false), ' +
      'unrestricted capabilities (container "container-00" must set securityContext.capabilities.drop=["ALL"]), ' +
      'restricted volume types (volume "host" uses restricted volume type "hostPath"), ' +
      'runAsNonRoot != true (pod or container "container-00" must set securityContext.runAsNonRoot=true), ' +
      'runAsUser=0 (container "container-00" must not set runAsUser=0), ' +
      'seccompProfile (pod or container "container-00" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")',
  );
  // Baseline names only its own checks, hostPath volumes among them.
  assert.equal(
    formatViolations(evaluatePod('baseline', latest, {}, spec)),
    'host namespaces (hostNetwork=true, hostPID=true), hostPath volumes (volume "host"), privileged (container "container-00" must not set securityContext.privileged=true)',
  );
});
