/**
 * The Pod Security Standards (k8s.io/pod-security-admission/policy) as pure checks: each looks at a pod's metadata
 * and spec and answers with a violation (upstream's ForbiddenReason and ForbiddenDetail, word for word) or nothing.
 * `evaluatePod` runs the checks of a level at a version, in upstream's order: the baseline checks sorted by ID, then
 * the restricted ones sorted by ID, a restricted check replacing the baseline check it tightens (restricted volume
 * types replace hostPath volumes, unrestricted capabilities replace non-default capabilities, the restricted
 * seccompProfile check replaces the baseline one).
 *
 * https://kubernetes.io/docs/concepts/security/pod-security-standards/ (v1.32).
 */
import type { Container, PodSpec, SecurityContext } from 'kubernetes-types/core/v1.js';
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';

export type Level = 'privileged' | 'baseline' | 'restricted';

/** A policy version: `latest`, or a Kubernetes minor (v1.x). */
export type Version = { latest: true } | { latest: false; minor: number };

export interface Violation {
  reason: string;
  detail: string;
}

interface Check {
  id: string;
  level: 'baseline' | 'restricted';
  /** The baseline check this restricted check replaces at the restricted level. */
  overrides?: string;
  /** First minor the check applies from (upstream's MinimumVersion 1.x). */
  since?: number;
  run(meta: ObjectMeta, spec: PodSpec, version: Version): Violation | undefined;
}

function pluralize(singular: string, plural: string, n: number): string {
  return n === 1 ? singular : plural;
}

function joinQuote(items: Iterable<string>): string {
  return [...items].map((s) => JSON.stringify(s)).join(', ');
}

function sorted(set: Set<string>): string[] {
  return [...set].sort();
}

/** initContainers, containers, then ephemeralContainers, as upstream's visitContainers walks them. */
function containersOf(spec: PodSpec): Container[] {
  return [...(spec.initContainers ?? []), ...(spec.containers ?? []), ...((spec.ephemeralContainers ?? []) as Container[])];
}

function sc(c: Container): SecurityContext {
  return c.securityContext ?? {};
}

/** `container "a"` or `containers "a", "b"`. */
function named(names: string[]): string {
  return `${pluralize('container', 'containers', names.length)} ${joinQuote(names)}`;
}

const ALLOWED_CAPABILITIES_BASELINE = new Set(['AUDIT_WRITE', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'MKNOD', 'NET_BIND_SERVICE', 'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT']);
const ALLOWED_SELINUX_TYPES = new Set(['', 'container_t', 'container_init_t', 'container_kvm_t']);
const SECCOMP_POD_ANNOTATION = 'seccomp.security.alpha.kubernetes.io/pod';
const SECCOMP_CONTAINER_ANNOTATION = 'container.seccomp.security.alpha.kubernetes.io/';
const APPARMOR_ANNOTATION = 'container.apparmor.security.beta.kubernetes.io/';

/** The "safe" sysctls by the minor that allowed them (check_sysctls.go). */
const SYSCTLS_BY_MINOR: [number, string[]][] = [
  [0, ['kernel.shm_rmid_forced', 'net.ipv4.ip_local_port_range', 'net.ipv4.tcp_syncookies', 'net.ipv4.ping_group_range', 'net.ipv4.ip_unprivileged_port_start']],
  [27, ['net.ipv4.ip_local_reserved_ports']],
  [29, ['net.ipv4.tcp_keepalive_time', 'net.ipv4.tcp_fin_timeout', 'net.ipv4.tcp_keepalive_intvl', 'net.ipv4.tcp_keepalive_probes']],
];

/** Volume sources the restricted level allows (check_restrictedVolumes.go). */
const RESTRICTED_ALLOWED_VOLUMES = new Set(['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret']);

function atLeast(version: Version, minor: number): boolean {
  return version.latest || version.minor >= minor;
}

function validSeccompType(t: string | undefined): boolean {
  return t === 'RuntimeDefault' || t === 'Localhost';
}

/** "pod and containers "a"" style setters joined as upstream does. */
function setters(pod: boolean, containers: string[]): string {
  const parts: string[] = pod ? ['pod'] : [];
  if (containers.length > 0) parts.push(named(containers));
  return parts.join(' and ');
}

const CHECKS: Check[] = [
  {
    id: 'appArmorProfile',
    level: 'baseline',
    run(meta, spec) {
      // Fields (1.30+): the Unconfined type; annotations: anything but runtime/default, localhost/* or empty.
      const badType = (t: string | undefined) => t !== undefined && t !== 'RuntimeDefault' && t !== 'Localhost';
      const details: string[] = [];
      let count = 0;
      const podType = spec.securityContext?.appArmorProfile?.type;
      if (badType(podType)) {
        details.push(`pod must not set AppArmor profile type to ${JSON.stringify(podType)}`);
        count++;
      }
      const byType = new Map<string, string[]>();
      for (const c of containersOf(spec)) {
        const t = sc(c).appArmorProfile?.type;
        if (!badType(t)) continue;
        byType.set(t!, [...(byType.get(t!) ?? []), c.name]);
        count++;
      }
      for (const [t, names] of [...byType].sort(([a], [b]) => (a < b ? -1 : 1))) details.push(`${named(names)} must not set AppArmor profile type to ${JSON.stringify(t)}`);
      const annotations: string[] = [];
      for (const [k, v] of Object.entries(meta.annotations ?? {})) {
        if (k.startsWith(APPARMOR_ANNOTATION) && !(v === '' || v === 'runtime/default' || v.startsWith('localhost/'))) annotations.push(`"${k}=${JSON.stringify(v)}"`);
      }
      if (annotations.length > 0) {
        details.push(`annotations must not set AppArmor profile type to ${annotations.sort().join(', ')}`);
        count += annotations.length;
      }
      if (count === 0) return undefined;
      return { reason: pluralize('forbidden AppArmor profile', 'forbidden AppArmor profiles', count), detail: details.join('; ') };
    },
  },
  {
    id: 'capabilities_baseline',
    level: 'baseline',
    run(_meta, spec) {
      const badContainers: string[] = [];
      const caps = new Set<string>();
      for (const c of containersOf(spec)) {
        let valid = true;
        for (const cap of sc(c).capabilities?.add ?? []) {
          if (!ALLOWED_CAPABILITIES_BASELINE.has(cap)) {
            valid = false;
            caps.add(cap);
          }
        }
        if (!valid) badContainers.push(c.name);
      }
      if (badContainers.length === 0) return undefined;
      return { reason: 'non-default capabilities', detail: `${named(badContainers)} must not include ${joinQuote(sorted(caps))} in securityContext.capabilities.add` };
    },
  },
  {
    id: 'hostNamespaces',
    level: 'baseline',
    run(_meta, spec) {
      const set: string[] = [];
      if (spec.hostIPC) set.push('hostIPC=true');
      if (spec.hostNetwork) set.push('hostNetwork=true');
      if (spec.hostPID) set.push('hostPID=true');
      if (set.length === 0) return undefined;
      return { reason: 'host namespaces', detail: set.join(', ') };
    },
  },
  {
    id: 'hostPathVolumes',
    level: 'baseline',
    run(_meta, spec) {
      const names = (spec.volumes ?? []).filter((v) => v.hostPath).map((v) => v.name);
      if (names.length === 0) return undefined;
      return { reason: 'hostPath volumes', detail: `${pluralize('volume', 'volumes', names.length)} ${joinQuote(names)}` };
    },
  },
  {
    id: 'hostPorts',
    level: 'baseline',
    run(_meta, spec) {
      const badContainers: string[] = [];
      const ports = new Set<string>();
      for (const c of containersOf(spec)) {
        let valid = true;
        for (const p of c.ports ?? []) {
          if (p.hostPort) {
            valid = false;
            ports.add(String(p.hostPort));
          }
        }
        if (!valid) badContainers.push(c.name);
      }
      if (badContainers.length === 0) return undefined;
      return {
        reason: 'hostPort',
        detail: `${named(badContainers)} ${pluralize('uses', 'use', badContainers.length)} ${pluralize('hostPort', 'hostPorts', ports.size)} ${sorted(ports).join(', ')}`,
      };
    },
  },
  {
    id: 'privileged',
    level: 'baseline',
    run(_meta, spec) {
      const bad = containersOf(spec).filter((c) => sc(c).privileged === true).map((c) => c.name);
      if (bad.length === 0) return undefined;
      return { reason: 'privileged', detail: `${named(bad)} must not set securityContext.privileged=true` };
    },
  },
  {
    id: 'procMount',
    level: 'baseline',
    run(_meta, spec) {
      const bad: string[] = [];
      const types = new Set<string>();
      for (const c of containersOf(spec)) {
        const pm = sc(c).procMount;
        if (pm !== undefined && pm !== 'Default') {
          bad.push(c.name);
          types.add(pm);
        }
      }
      if (bad.length === 0) return undefined;
      return { reason: 'procMount', detail: `${named(bad)} must not set securityContext.procMount to ${joinQuote(sorted(types))}` };
    },
  },
  {
    id: 'seLinuxOptions',
    level: 'baseline',
    run(_meta, spec) {
      const badTypes = new Set<string>();
      let setUser = false;
      let setRole = false;
      const valid = (o: { type?: string; user?: string; role?: string }): boolean => {
        let ok = true;
        if (!ALLOWED_SELINUX_TYPES.has(o.type ?? '')) {
          ok = false;
          badTypes.add(o.type ?? '');
        }
        if (o.user) {
          ok = false;
          setUser = true;
        }
        if (o.role) {
          ok = false;
          setRole = true;
        }
        return ok;
      };
      const podOpts = spec.securityContext?.seLinuxOptions;
      const podBad = podOpts ? !valid(podOpts) : false;
      const bad = containersOf(spec).filter((c) => sc(c).seLinuxOptions && !valid(sc(c).seLinuxOptions!)).map((c) => c.name);
      if (!podBad && bad.length === 0) return undefined;
      const data: string[] = [];
      if (badTypes.size > 0) data.push(`${pluralize('type', 'types', badTypes.size)} ${joinQuote(sorted(badTypes))}`);
      if (setUser) data.push('user may not be set');
      if (setRole) data.push('role may not be set');
      return { reason: 'seLinuxOptions', detail: `${setters(podBad, bad)} set forbidden securityContext.seLinuxOptions: ${data.join('; ')}` };
    },
  },
  {
    id: 'seccompProfile_baseline',
    level: 'baseline',
    run(meta, spec, version) {
      if (!atLeast(version, 19)) {
        // Before 1.19 the profile was an annotation.
        const annotations = meta.annotations ?? {};
        const validValue = (v: string) => v === 'runtime/default' || v === 'docker/default' || v.startsWith('localhost/');
        const bad = new Set<string>();
        const podValue = annotations[SECCOMP_POD_ANNOTATION];
        if (podValue !== undefined && !validValue(podValue)) bad.add(`${SECCOMP_POD_ANNOTATION}=${JSON.stringify(podValue)}`);
        for (const c of containersOf(spec)) {
          const key = SECCOMP_CONTAINER_ANNOTATION + c.name;
          const v = annotations[key];
          if (v !== undefined && !validValue(v)) bad.add(`${key}=${JSON.stringify(v)}`);
        }
        if (bad.size === 0) return undefined;
        return { reason: 'seccompProfile', detail: `forbidden ${pluralize('annotation', 'annotations', bad.size)} ${sorted(bad).join(', ')}` };
      }
      const badValues = new Set<string>();
      const podProfile = spec.securityContext?.seccompProfile;
      const podBad = podProfile !== undefined && !validSeccompType(podProfile.type);
      if (podBad) badValues.add(podProfile.type);
      const bad: string[] = [];
      for (const c of containersOf(spec)) {
        const p = sc(c).seccompProfile;
        if (p && !validSeccompType(p.type)) {
          bad.push(c.name);
          badValues.add(p.type);
        }
      }
      if (!podBad && bad.length === 0) return undefined;
      return { reason: 'seccompProfile', detail: `${setters(podBad, bad)} must not set securityContext.seccompProfile.type to ${joinQuote(sorted(badValues))}` };
    },
  },
  {
    id: 'sysctls',
    level: 'baseline',
    run(_meta, spec, version) {
      const allowed = new Set(SYSCTLS_BY_MINOR.filter(([minor]) => atLeast(version, minor)).flatMap(([, names]) => names));
      const bad = (spec.securityContext?.sysctls ?? []).map((s) => s.name).filter((n) => !allowed.has(n));
      if (bad.length === 0) return undefined;
      return { reason: 'forbidden sysctls', detail: bad.join(', ') };
    },
  },
  {
    id: 'windowsHostProcess',
    level: 'baseline',
    run(_meta, spec) {
      const podBad = spec.securityContext?.windowsOptions?.hostProcess === true;
      const bad = containersOf(spec).filter((c) => sc(c).windowsOptions?.hostProcess === true).map((c) => c.name);
      if (!podBad && bad.length === 0) return undefined;
      return { reason: 'hostProcess', detail: `${setters(podBad, bad)} must not set securityContext.windowsOptions.hostProcess=true` };
    },
  },
  {
    id: 'allowPrivilegeEscalation',
    level: 'restricted',
    since: 8,
    run(_meta, spec) {
      const bad = containersOf(spec).filter((c) => sc(c).allowPrivilegeEscalation !== false).map((c) => c.name);
      if (bad.length === 0) return undefined;
      return { reason: 'allowPrivilegeEscalation != false', detail: `${named(bad)} must set securityContext.allowPrivilegeEscalation=false` };
    },
  },
  {
    id: 'capabilities_restricted',
    level: 'restricted',
    overrides: 'capabilities_baseline',
    since: 22,
    run(_meta, spec) {
      const missingDrop: string[] = [];
      const adding: string[] = [];
      const caps = new Set<string>();
      for (const c of containersOf(spec)) {
        const cap = sc(c).capabilities;
        if (!cap) {
          missingDrop.push(c.name);
          continue;
        }
        if (!(cap.drop ?? []).includes('ALL')) missingDrop.push(c.name);
        let forbiddenAdd = false;
        for (const a of cap.add ?? []) {
          if (a !== 'NET_BIND_SERVICE') {
            forbiddenAdd = true;
            caps.add(a);
          }
        }
        if (forbiddenAdd) adding.push(c.name);
      }
      const details: string[] = [];
      if (missingDrop.length > 0) details.push(`${named(missingDrop)} must set securityContext.capabilities.drop=["ALL"]`);
      if (adding.length > 0) details.push(`${named(adding)} must not include ${joinQuote(sorted(caps))} in securityContext.capabilities.add`);
      if (details.length === 0) return undefined;
      return { reason: 'unrestricted capabilities', detail: details.join('; ') };
    },
  },
  {
    id: 'restrictedVolumes',
    level: 'restricted',
    overrides: 'hostPathVolumes',
    run(_meta, spec) {
      const names: string[] = [];
      const types = new Set<string>();
      for (const v of spec.volumes ?? []) {
        const source = Object.keys(v).find((k) => k !== 'name' && (v as unknown as Record<string, unknown>)[k] != null);
        if (source && RESTRICTED_ALLOWED_VOLUMES.has(source)) continue;
        names.push(v.name);
        types.add(source ?? 'unknown');
      }
      if (names.length === 0) return undefined;
      const typeList = sorted(types);
      return {
        reason: 'restricted volume types',
        detail: `${pluralize('volume', 'volumes', names.length)} ${joinQuote(names)} ${pluralize('uses', 'use', names.length)} ${pluralize('restricted volume type', 'restricted volume types', typeList.length)} ${joinQuote(typeList)}`,
      };
    },
  },
  {
    id: 'runAsNonRoot',
    level: 'restricted',
    run(_meta, spec) {
      let podBad = false;
      let podNonRoot = false;
      const podValue = spec.securityContext?.runAsNonRoot;
      if (podValue === false) podBad = true;
      else if (podValue === true) podNonRoot = true;
      const explicit: string[] = [];
      const implicit: string[] = [];
      for (const c of containersOf(spec)) {
        const v = sc(c).runAsNonRoot;
        if (v === false) explicit.push(c.name);
        else if (v === undefined && !podNonRoot) implicit.push(c.name);
      }
      if (podBad || explicit.length > 0) return { reason: 'runAsNonRoot != true', detail: `${setters(podBad, explicit)} must not set securityContext.runAsNonRoot=false` };
      if (implicit.length > 0) return { reason: 'runAsNonRoot != true', detail: `pod or ${named(implicit)} must set securityContext.runAsNonRoot=true` };
      return undefined;
    },
  },
  {
    id: 'runAsUser',
    level: 'restricted',
    since: 23,
    run(_meta, spec) {
      const podBad = spec.securityContext?.runAsUser === 0;
      const bad = containersOf(spec).filter((c) => sc(c).runAsUser === 0).map((c) => c.name);
      if (!podBad && bad.length === 0) return undefined;
      return { reason: 'runAsUser=0', detail: `${setters(podBad, bad)} must not set runAsUser=0` };
    },
  },
  {
    id: 'seccompProfile_restricted',
    level: 'restricted',
    overrides: 'seccompProfile_baseline',
    since: 19,
    run(_meta, spec) {
      const badValues = new Set<string>();
      const podProfile = spec.securityContext?.seccompProfile;
      let podBad = false;
      let podSet = false;
      if (podProfile) {
        if (validSeccompType(podProfile.type)) podSet = true;
        else {
          podBad = true;
          badValues.add(podProfile.type);
        }
      }
      const explicit: string[] = [];
      const implicit: string[] = [];
      for (const c of containersOf(spec)) {
        const p = sc(c).seccompProfile;
        if (p) {
          if (!validSeccompType(p.type)) {
            explicit.push(c.name);
            badValues.add(p.type);
          }
        } else if (!podSet) implicit.push(c.name);
      }
      if (podBad || explicit.length > 0) {
        return { reason: 'seccompProfile', detail: `${setters(podBad, explicit)} must not set securityContext.seccompProfile.type to ${joinQuote(sorted(badValues))}` };
      }
      if (implicit.length > 0) return { reason: 'seccompProfile', detail: `pod or ${named(implicit)} must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"` };
      return undefined;
    },
  },
];

const BASELINE = CHECKS.filter((c) => c.level === 'baseline').sort((a, b) => (a.id < b.id ? -1 : 1));
const RESTRICTED_ONLY = CHECKS.filter((c) => c.level === 'restricted').sort((a, b) => (a.id < b.id ? -1 : 1));
const OVERRIDDEN = new Set(RESTRICTED_ONLY.map((c) => c.overrides).filter((id): id is string => !!id));

/** The checks of a level, in the order their violations are listed. */
function checksFor(level: Level, version: Version): Check[] {
  if (level === 'privileged') return [];
  const applies = (c: Check) => c.since === undefined || atLeast(version, c.since);
  if (level === 'baseline') return BASELINE.filter(applies);
  // A restricted check replaces the baseline check it tightens only where it applies at this version.
  const restricted = RESTRICTED_ONLY.filter(applies);
  const replaced = new Set(restricted.map((c) => c.overrides).filter((id): id is string => !!id && OVERRIDDEN.has(id)));
  return [...BASELINE.filter((c) => applies(c) && !replaced.has(c.id)), ...restricted];
}

/** The violations of a pod (its metadata and spec) against a level at a version; empty when it is allowed. */
export function evaluatePod(level: Level, version: Version, meta: ObjectMeta, spec: PodSpec): Violation[] {
  const out: Violation[] = [];
  for (const check of checksFor(level, version)) {
    const v = check.run(meta, spec, version);
    if (v) out.push(v);
  }
  return out;
}

/** Upstream's list form: `reason (detail), reason (detail)`. */
export function formatViolations(violations: Violation[]): string {
  return violations.map((v) => (v.detail ? `${v.reason} (${v.detail})` : v.reason)).join(', ');
}
