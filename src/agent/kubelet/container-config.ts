/**
 * From the pod spec to what the runtime is asked to run: PodSandboxConfig and ContainerConfig (runtime/types.ts), as
 * kubelet builds them (pkg/kubelet/kubelet_pods.go makeEnvironmentVariables, makeMounts, managedHostsFileContent;
 * pkg/kubelet/kuberuntime/kuberuntime_container.go generateContainerConfig, kuberuntime_container_linux.go
 * calculateLinuxResources; kuberuntime_sandbox.go generatePodSandboxConfig; labels.go). Pure except for the
 * ConfigMap/Secret getter, which the caller injects.
 */
import { isAbsolute, join, normalize } from 'node:path';
import type { ConfigMap, Container, HostAlias, Pod, Secret } from 'kubernetes-types/core/v1.js';
import { parseQuantity, toMilli, toUnits } from '../../api/quantity.js';
import {
  CONTAINER_NAME_LABEL,
  POD_NAME_LABEL,
  POD_NAMESPACE_LABEL,
  POD_UID_LABEL,
  type ContainerConfig,
  type DnsConfig,
  type LinuxResources,
  type Mount,
  type PodSandboxConfig,
  type PortMapping,
} from '../runtime/types.js';
import type { PodVolume } from '../volumes/types.js';
import { expand, mappingFor } from './expansion.js';
import { computePodQos, effectiveRequests, type QosClass } from './qos.js';
import {
  CONTAINER_HASH_ANNOTATION,
  CONTAINER_PORTS_ANNOTATION,
  CONTAINER_PRESTOP_HANDLER_ANNOTATION,
  CONTAINER_RESTART_COUNT_ANNOTATION,
  CONTAINER_TERMINATION_MESSAGE_PATH_ANNOTATION,
  CONTAINER_TERMINATION_MESSAGE_POLICY_ANNOTATION,
  CONTAINER_TYPE_LABEL,
  hashContainer,
  POD_TERMINATION_GRACE_PERIOD_ANNOTATION,
} from './runtime-pod-status.js';

/** A container that cannot be configured: its status waits with reason CreateContainerConfigError and this message. */
export class ContainerConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ContainerConfigError';
  }
}

/** Where ConfigMaps and Secrets come from (the API, an informer cache, a test map); undefined = not found. */
export interface ObjectSource {
  getConfigMap(namespace: string, name: string): Promise<ConfigMap | undefined>;
  getSecret(namespace: string, name: string): Promise<Secret | undefined>;
}

export interface EnvContext {
  podIPs: string[];
  hostIPs: string[];
  source: ObjectSource;
  /** Node allocatable cpu and memory: limits.cpu/limits.memory of a container without limits (downward API). */
  nodeAllocatable?: { cpu?: string; memory?: string };
  /** Called once per envFrom source with invalid keys, with kubelet's InvalidEnvironmentVariableNames message. */
  warn?: (reason: string, message: string) => void;
  /** Service environment variables (service-env.ts serviceEnvironment): `$(VAR)` sees them, explicit env wins over them. */
  serviceEnv?: ReadonlyMap<string, string>;
}

const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

/** ConfigMap data and binaryData... kubelet uses data only for env. Secret data is base64 on the wire. */
function secretValue(s: Secret, key: string): string | undefined {
  const v = s.data?.[key];
  if (v !== undefined) return Buffer.from(v, 'base64').toString('utf8');
  return s.stringData?.[key];
}

/**
 * The container's environment (makeEnvironmentVariables): envFrom in order (prefix, invalid names skipped with a
 * warning), then env in order with `$(VAR)` expanded against what came before. Missing required sources throw
 * ContainerConfigError with kubelet's message. Service environment variables come last, each unless env or envFrom
 * set the same name (kubelet appends them after the container's own).
 */
export async function makeEnvironment(pod: Pod, container: Container, ctx: EnvContext): Promise<Array<{ name: string; value: string }>> {
  const ns = pod.metadata?.namespace ?? '';
  const env = new Map<string, string>();
  for (const from of container.envFrom ?? []) {
    if (from.configMapRef) {
      const name = from.configMapRef.name ?? '';
      const cm = await ctx.source.getConfigMap(ns, name);
      if (!cm) {
        if (from.configMapRef.optional) continue;
        throw new ContainerConfigError(`configmap "${name}" not found`);
      }
      addAll(env, cm.data ?? {}, from.prefix ?? '', (invalid) =>
        ctx.warn?.('InvalidEnvironmentVariableNames', `Keys [${invalid.join(', ')}] from the EnvFrom configMap ${ns}/${name} were skipped since they are considered invalid environment variable names.`),
      );
    } else if (from.secretRef) {
      const name = from.secretRef.name ?? '';
      const secret = await ctx.source.getSecret(ns, name);
      if (!secret) {
        if (from.secretRef.optional) continue;
        throw new ContainerConfigError(`secret "${name}" not found`);
      }
      const data: Record<string, string> = {};
      for (const k of Object.keys(secret.data ?? {})) data[k] = secretValue(secret, k)!;
      addAll(env, data, from.prefix ?? '', (invalid) =>
        ctx.warn?.('InvalidEnvironmentVariableNames', `Keys [${invalid.join(', ')}] from the EnvFrom secret ${ns}/${name} were skipped since they are considered invalid environment variable names.`),
      );
    }
  }
  const serviceEnv = ctx.serviceEnv ?? new Map<string, string>();
  const mapping = mappingFor(env, serviceEnv);
  for (const e of container.env ?? []) {
    let value: string | undefined;
    if (e.valueFrom === undefined) {
      value = expand(e.value ?? '', mapping);
    } else if (e.valueFrom.fieldRef) {
      value = podFieldValue(pod, e.valueFrom.fieldRef.fieldPath, ctx);
    } else if (e.valueFrom.resourceFieldRef) {
      const ref = e.valueFrom.resourceFieldRef;
      const target = ref.containerName ? [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].find((c) => c.name === ref.containerName) : container;
      if (!target) throw new ContainerConfigError(`container ${ref.containerName} not found`);
      value = resourceFieldValue(target, ref.resource, ref.divisor === undefined ? undefined : String(ref.divisor), ctx.nodeAllocatable);
    } else if (e.valueFrom.configMapKeyRef) {
      const { name = '', key, optional } = e.valueFrom.configMapKeyRef;
      const cm = await ctx.source.getConfigMap(ns, name);
      if (!cm) {
        if (optional) continue;
        throw new ContainerConfigError(`configmap "${name}" not found`);
      }
      value = cm.data?.[key];
      if (value === undefined) {
        if (optional) continue;
        throw new ContainerConfigError(`couldn't find key ${key} in ConfigMap ${ns}/${name}`);
      }
    } else if (e.valueFrom.secretKeyRef) {
      const { name = '', key, optional } = e.valueFrom.secretKeyRef;
      const secret = await ctx.source.getSecret(ns, name);
      if (!secret) {
        if (optional) continue;
        throw new ContainerConfigError(`secret "${name}" not found`);
      }
      value = secretValue(secret, key);
      if (value === undefined) {
        if (optional) continue;
        throw new ContainerConfigError(`couldn't find key ${key} in Secret ${ns}/${name}`);
      }
    }
    if (value !== undefined) env.set(e.name, value);
  }
  const out = [...env].map(([name, value]) => ({ name, value }));
  for (const [name, value] of serviceEnv) if (!env.has(name)) out.push({ name, value });
  return out;
}

function addAll(env: Map<string, string>, data: Record<string, string>, prefix: string, warn: (invalid: string[]) => void): void {
  const invalid: string[] = [];
  for (const [k, v] of Object.entries(data)) {
    const name = prefix + k;
    if (!ENV_NAME.test(name)) {
      invalid.push(name);
      continue;
    }
    env.set(name, v);
  }
  if (invalid.length) warn(invalid.sort());
}

/** fieldRef values (podFieldSelectorRuntimeValue, fieldpath.ExtractFieldPathAsString). */
export function podFieldValue(pod: Pod, path: string, ctx: Pick<EnvContext, 'podIPs' | 'hostIPs'>): string {
  const meta = pod.metadata ?? {};
  const subscript = /^metadata\.(labels|annotations)\['(.*)'\]$/.exec(path);
  if (subscript) return (subscript[1] === 'labels' ? meta.labels : meta.annotations)?.[subscript[2]!] ?? '';
  switch (path) {
    case 'metadata.name':
      return meta.name ?? '';
    case 'metadata.namespace':
      return meta.namespace ?? '';
    case 'metadata.uid':
      return meta.uid ?? '';
    case 'metadata.labels':
    case 'metadata.annotations': {
      const m = (path === 'metadata.labels' ? meta.labels : meta.annotations) ?? {};
      return Object.keys(m)
        .sort()
        .map((k) => `${k}=${JSON.stringify(m[k])}`)
        .join('\n');
    }
    case 'spec.nodeName':
      return pod.spec?.nodeName ?? '';
    case 'spec.serviceAccountName':
      return pod.spec?.serviceAccountName ?? '';
    case 'status.hostIP':
      return ctx.hostIPs[0] ?? '';
    case 'status.hostIPs':
      return ctx.hostIPs.join(',');
    case 'status.podIP':
      return ctx.podIPs[0] ?? '';
    case 'status.podIPs':
      return ctx.podIPs.join(',');
  }
  throw new ContainerConfigError(`unsupported fieldPath: ${path}`);
}

/** resourceFieldRef values (ExtractContainerResourceValue): ceil(value / divisor); a missing limit is the node's allocatable. */
export function resourceFieldValue(container: Container, resource: string, divisor: string | undefined, allocatable: EnvContext['nodeAllocatable'] = {}): string {
  const div = divisor === undefined || toMilli(parseQuantity(divisor)) === 0n ? parseQuantity('1') : parseQuantity(divisor);
  const limits = (container.resources?.limits ?? {}) as Record<string, string | number>;
  const requests = effectiveRequests(container);
  const [kind, name] = resource.split('.') as [string, string];
  let q: string | number | undefined;
  if (kind === 'limits') q = limits[name] ?? (allocatable as Record<string, string | undefined>)[name];
  else if (kind === 'requests') q = requests[name];
  else throw new ContainerConfigError(`unsupported container resource : ${resource}`);
  const value = parseQuantity(String(q ?? '0'));
  if (name === 'cpu') return String(Math.ceil(Number(toMilli(value)) / Number(toMilli(div))));
  if (name === 'memory' || name === 'ephemeral-storage') return String(Math.ceil(Number(toUnits(value)) / Number(toUnits(div))));
  throw new ContainerConfigError(`unsupported container resource : ${resource}`);
}

const MIN_SHARES = 2;
const MAX_SHARES = 262144;
const QUOTA_PERIOD = 100_000;
const MIN_QUOTA = 1000;

function quantityMilli(v: string | number | undefined): number {
  return v === undefined ? 0 : Number(toMilli(parseQuantity(String(v))));
}

/** requests and limits in kernel units (calculateLinuxResources, milliCPUToShares, milliCPUToQuota). */
export function linuxResources(container: Container, qos?: QosClass, nodeMemoryBytes?: number): LinuxResources {
  const limits = (container.resources?.limits ?? {}) as Record<string, string | number>;
  const requests = effectiveRequests(container);
  const cpuRequest = quantityMilli(requests.cpu);
  const cpuLimit = quantityMilli(limits.cpu);
  const memLimit = limits.memory === undefined ? 0 : Number(toUnits(parseQuantity(String(limits.memory))));
  const shares = cpuRequest === 0 ? MIN_SHARES : Math.min(MAX_SHARES, Math.max(MIN_SHARES, Math.floor((cpuRequest * 1024) / 1000)));
  const out: LinuxResources = { cpuShares: shares, cpuPeriod: QUOTA_PERIOD, cpuQuota: cpuLimit === 0 ? 0 : Math.max(MIN_QUOTA, Math.floor((cpuLimit * QUOTA_PERIOD) / 1000)) };
  if (memLimit > 0) out.memoryLimitBytes = memLimit;
  const adj = oomScoreAdj(container, qos, nodeMemoryBytes);
  if (adj !== undefined) out.oomScoreAdj = adj;
  return out;
}

/**
 * pkg/kubelet/qos/policy.go GetContainerOOMScoreAdjust, except that Guaranteed gets 0 instead of -997: nothing may
 * lower oom_score_adj below 0 without CAP_SYS_RESOURCE (see reference/runtime-feasibility.md), and 0 still ranks
 * guaranteed containers below every other class.
 */
function oomScoreAdj(container: Container, qos: QosClass | undefined, nodeMemoryBytes: number | undefined): number | undefined {
  if (qos === 'Guaranteed') return 0;
  if (qos === 'BestEffort') return 1000;
  if (qos !== 'Burstable' || !nodeMemoryBytes) return undefined;
  const req = effectiveRequests(container).memory;
  const bytes = req === undefined ? 0 : Number(toUnits(parseQuantity(String(req))));
  const adj = 1000 - Math.floor((1000 * bytes) / nodeMemoryBytes);
  return Math.min(999, Math.max(3, adj));
}

/** `/<root>/pod<uid>` for Guaranteed pods, `/<root>/burstable/pod<uid>` and `/<root>/besteffort/pod<uid>` otherwise. */
export function podCgroupParent(pod: Pod, root: string): string {
  const qos = pod.status?.qosClass ?? computePodQos(pod);
  const base = `/${root.replace(/^\/+|\/+$/g, '')}`;
  const uid = pod.metadata?.uid ?? '';
  return qos === 'Guaranteed' ? `${base}/pod${uid}` : `${base}/${qos.toLowerCase()}/pod${uid}`;
}

/** `<logRoot>/<namespace>_<name>_<uid>` (kubelet's BuildPodLogsDirectory). */
export function podLogDirectory(logRoot: string, pod: Pod): string {
  return join(logRoot, `${pod.metadata?.namespace}_${pod.metadata?.name}_${pod.metadata?.uid}`);
}

/** The pod's hostname and, with a subdomain, its domain (`<subdomain>.<ns>.svc.<clusterDomain>`), as GeneratePodHostNameAndDomain. */
export function podHostnameAndDomain(pod: Pod, clusterDomain: string): { hostname: string; domain: string } {
  let hostname = pod.spec?.hostname || pod.metadata?.name || '';
  if (hostname.length > 63) hostname = hostname.slice(0, 63).replace(/[-.]+$/, '');
  const sub = pod.spec?.subdomain;
  return { hostname, domain: sub ? `${sub}.${pod.metadata?.namespace}.svc.${clusterDomain}` : '' };
}

/** The /etc/hosts kubelet manages for pods not on the host network (managedHostsFileContent). */
export function managedHostsFileContent(podIPs: string[], hostname: string, domain: string, aliases: HostAlias[] = []): string {
  let out = '# Kubernetes-managed hosts file.\n';
  out += '127.0.0.1\tlocalhost\n';
  out += '::1\tlocalhost ip6-localhost ip6-loopback\n';
  out += 'fe00::0\tip6-localnet\n';
  out += 'fe00::0\tip6-mcastprefix\n';
  out += 'fe00::1\tip6-allnodes\n';
  out += 'fe00::2\tip6-allrouters\n';
  for (const ip of podIPs) out += domain ? `${ip}\t${hostname}.${domain}\t${hostname}\n` : `${ip}\t${hostname}\n`;
  if (aliases.length) {
    out += '\n# Entries added by HostAliases.\n';
    for (const a of aliases) out += `${a.ip}\t${(a.hostnames ?? []).join('\t')}\n`;
  }
  return out;
}

export interface SandboxOptions {
  attempt: number;
  logRoot: string;
  cgroupRoot: string;
  clusterDomain: string;
  /** Cluster DNS servers for dnsPolicy ClusterFirst (e.g. ['10.43.0.10']); none = the host's resolver. */
  clusterDNS: string[];
  /** The node's resolver (its /etc/resolv.conf), the base that spec.dnsConfig extends under dnsPolicy Default. */
  hostDNS?: DnsConfig;
}

/** What a pod's dnsPolicy comes to on this node (getPodDNSType, plus GetPodDNS's fallback when no cluster DNS is set). */
export interface EffectiveDnsPolicy {
  policy: 'ClusterFirst' | 'Default' | 'None';
  /** ClusterFirst asked for, no cluster DNS configured: kubelet falls back to Default and warns (MissingClusterDNS). */
  missingClusterDNS: boolean;
}

export function effectiveDnsPolicy(pod: Pod, clusterDNS: string[]): EffectiveDnsPolicy {
  const asked = pod.spec?.dnsPolicy ?? 'ClusterFirst';
  let policy: EffectiveDnsPolicy['policy'];
  if (asked === 'None') policy = 'None';
  else if (asked === 'ClusterFirstWithHostNet') policy = 'ClusterFirst';
  else if (asked === 'ClusterFirst' && !pod.spec?.hostNetwork) policy = 'ClusterFirst';
  else policy = 'Default';
  if (policy === 'ClusterFirst' && clusterDNS.length === 0) return { policy: 'Default', missingClusterDNS: true };
  return { policy, missingClusterDNS: false };
}

/** kubelet's MissingClusterDNS words (pkg/kubelet/network/dns/dns.go GetPodDNS). */
export const MISSING_CLUSTER_DNS_MESSAGE = 'kubelet does not have ClusterDNS IP configured and cannot create Pod using "ClusterFirst" policy. Falling back to "Default" policy.';

/** The nameserver, search and options lines of a resolv.conf (the host's, for dnsPolicy Default). */
export function parseResolvConf(text: string): DnsConfig {
  const config: DnsConfig = { servers: [], searches: [], options: [] };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const [key, ...fields] = line.split(/\s+/);
    if (key === 'nameserver' && fields[0]) config.servers.push(fields[0]);
    else if (key === 'search' || key === 'domain') config.searches = fields.filter(Boolean);
    else if (key === 'options') config.options.push(...fields.filter(Boolean));
  }
  return config;
}

/**
 * dnsPolicy (pkg/kubelet/network/dns GetPodDNS): ClusterFirst → cluster DNS and search path; Default (also
 * ClusterFirst without cluster DNS, and on the host network) → the host's resolver, which is `undefined` here unless
 * spec.dnsConfig extends it (the runtime then keeps the host's /etc/resolv.conf); None → spec.dnsConfig alone.
 */
export function podDnsConfig(pod: Pod, clusterDomain: string, clusterDNS: string[], hostDNS?: DnsConfig): DnsConfig | undefined {
  const { policy } = effectiveDnsPolicy(pod, clusterDNS);
  const extra = pod.spec?.dnsConfig;
  let config: DnsConfig | undefined;
  if (policy === 'ClusterFirst') {
    const ns = pod.metadata?.namespace;
    config = { servers: [...clusterDNS], searches: [`${ns}.svc.${clusterDomain}`, `svc.${clusterDomain}`, clusterDomain], options: ['ndots:5'] };
  } else if (policy === 'None') {
    config = { servers: [], searches: [], options: [] };
  } else if (extra) {
    config = hostDNS ? { servers: [...hostDNS.servers], searches: [...hostDNS.searches], options: [...hostDNS.options] } : { servers: [], searches: [], options: [] };
  }
  if (extra && config) {
    // appendDNSConfig: servers and searches without duplicates, options merged by name.
    for (const s of extra.nameservers ?? []) if (!config.servers.includes(s)) config.servers.push(s);
    for (const s of extra.searches ?? []) if (!config.searches.includes(s)) config.searches.push(s);
    for (const o of extra.options ?? []) {
      const opt = o.value === undefined ? o.name ?? '' : `${o.name}:${o.value}`;
      const i = config.options.findIndex((x) => x.split(':')[0] === o.name);
      if (i >= 0) config.options[i] = opt;
      else config.options.push(opt);
    }
  }
  return config;
}

export function podSandboxConfig(pod: Pod, o: SandboxOptions): PodSandboxConfig {
  const meta = pod.metadata ?? {};
  const { hostname } = podHostnameAndDomain(pod, o.clusterDomain);
  const portMappings: PortMapping[] = [];
  for (const c of [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])]) {
    for (const p of c.ports ?? []) {
      portMappings.push({ protocol: (p.protocol ?? 'TCP') as PortMapping['protocol'], containerPort: p.containerPort, hostPort: p.hostPort ?? 0, ...(p.hostIP ? { hostIp: p.hostIP } : {}) });
    }
  }
  const dnsConfig = podDnsConfig(pod, o.clusterDomain, o.clusterDNS, o.hostDNS);
  const config: PodSandboxConfig = {
    metadata: { name: meta.name ?? '', namespace: meta.namespace ?? '', uid: meta.uid ?? '', attempt: o.attempt },
    hostname,
    logDirectory: podLogDirectory(o.logRoot, pod),
    ...(dnsConfig ? { dnsConfig } : {}),
    portMappings,
    labels: { ...(meta.labels ?? {}), [POD_NAME_LABEL]: meta.name ?? '', [POD_NAMESPACE_LABEL]: meta.namespace ?? '', [POD_UID_LABEL]: meta.uid ?? '' },
    annotations: { ...(meta.annotations ?? {}) },
    hostNetwork: !!pod.spec?.hostNetwork,
    hostPID: !!pod.spec?.hostPID,
    hostIPC: !!pod.spec?.hostIPC,
    ...(pod.spec?.shareProcessNamespace ? { shareProcessNamespace: true } : {}),
    cgroupParent: podCgroupParent(pod, o.cgroupRoot),
  };
  const resources = podLevelResources(pod);
  if (resources) config.resources = resources;
  const sysctls = pod.spec?.securityContext?.sysctls;
  if (sysctls?.length) config.sysctls = Object.fromEntries(sysctls.map((s) => [s.name, s.value]));
  return config;
}

/** The pod cgroup's limits: the sum of the containers' limits, when every container has one (per resource). */
function podLevelResources(pod: Pod): LinuxResources | undefined {
  const containers = pod.spec?.containers ?? [];
  if (containers.length === 0) return undefined;
  const out: LinuxResources = {};
  const limit = (c: Container, r: string) => (c.resources?.limits as Record<string, string | number> | undefined)?.[r];
  if (containers.every((c) => limit(c, 'memory') !== undefined)) {
    out.memoryLimitBytes = containers.reduce((sum, c) => sum + Number(toUnits(parseQuantity(String(limit(c, 'memory'))))), 0);
  }
  if (containers.every((c) => limit(c, 'cpu') !== undefined)) {
    const milli = containers.reduce((sum, c) => sum + quantityMilli(limit(c, 'cpu')), 0);
    out.cpuPeriod = QUOTA_PERIOD;
    out.cpuQuota = Math.max(MIN_QUOTA, Math.floor((milli * QUOTA_PERIOD) / 1000));
  }
  return Object.keys(out).length ? out : undefined;
}

export interface ContainerConfigOptions {
  restartCount: number;
  env: Array<{ name: string; value: string }>;
  /** VolumeManager.setUpPod's result. */
  volumes: ReadonlyMap<string, PodVolume>;
  /** The runtime runs images (capabilities.images); without, `command` is required. */
  runtimeImages: boolean;
  runtimeName: string;
  /** Host path of the pod's managed /etc/hosts, mounted unless the container mounts /etc/hosts itself. */
  hostsFile?: string;
  isInit?: boolean;
  isEphemeral?: boolean;
  /** An ephemeral container's targetContainerName, running: the runtime id whose pid namespace it joins. */
  pidTargetContainerId?: string;
  nodeMemoryBytes?: number;
}

/** generateContainerConfig: argv, env, mounts, resources, security, labels and annotations. Throws ContainerConfigError. */
export function containerConfig(pod: Pod, container: Container, o: ContainerConfigOptions): ContainerConfig {
  if (!o.runtimeImages && !(container.command && container.command.length > 0)) {
    throw new ContainerConfigError(
      `container ${container.name} has no command: the ${o.runtimeName} runtime runs commands from the node's filesystem and cannot run the image's entrypoint (image ${JSON.stringify(container.image ?? '')}); set command, or run the agent with --runtime cri`,
    );
  }
  const envMap = new Map(o.env.map((e) => [e.name, e.value]));
  const mapping = mappingFor(envMap);
  const meta = pod.metadata ?? {};
  const mounts = makeMounts(pod, container, o.volumes, mapping, o.hostsFile);
  const sc = container.securityContext;
  const psc = pod.spec?.securityContext;
  const security = {
    ...((sc?.runAsUser ?? psc?.runAsUser) !== undefined ? { runAsUser: sc?.runAsUser ?? psc?.runAsUser } : {}),
    ...((sc?.runAsGroup ?? psc?.runAsGroup) !== undefined ? { runAsGroup: sc?.runAsGroup ?? psc?.runAsGroup } : {}),
    ...(psc?.supplementalGroups?.length ? { supplementalGroups: [...psc.supplementalGroups] } : {}),
    ...(sc?.readOnlyRootFilesystem !== undefined ? { readonlyRootfs: sc.readOnlyRootFilesystem } : {}),
    ...(sc?.privileged !== undefined ? { privileged: sc.privileged } : {}),
    ...(sc?.capabilities ? { capabilities: { add: [...(sc.capabilities.add ?? [])], drop: [...(sc.capabilities.drop ?? [])] } } : {}),
    ...(sc?.allowPrivilegeEscalation === false ? { noNewPrivileges: true } : {}),
  };
  const annotations: Record<string, string> = {
    [CONTAINER_HASH_ANNOTATION]: hashContainer(container),
    [CONTAINER_RESTART_COUNT_ANNOTATION]: String(o.restartCount),
    [CONTAINER_TERMINATION_MESSAGE_PATH_ANNOTATION]: container.terminationMessagePath ?? '/dev/termination-log',
    [CONTAINER_TERMINATION_MESSAGE_POLICY_ANNOTATION]: container.terminationMessagePolicy ?? 'File',
    [POD_TERMINATION_GRACE_PERIOD_ANNOTATION]: String(pod.spec?.terminationGracePeriodSeconds ?? 30),
  };
  if (container.lifecycle?.preStop) annotations[CONTAINER_PRESTOP_HANDLER_ANNOTATION] = JSON.stringify(container.lifecycle.preStop);
  if (container.ports?.length) annotations[CONTAINER_PORTS_ANNOTATION] = JSON.stringify(container.ports);
  return {
    metadata: { name: container.name, attempt: o.restartCount },
    image: container.image ?? '',
    command: (container.command ?? []).map((s) => expand(s, mapping)),
    args: (container.args ?? []).map((s) => expand(s, mapping)),
    ...(container.workingDir ? { workingDir: container.workingDir } : {}),
    env: o.env,
    mounts,
    logPath: `${container.name}/${o.restartCount}.log`,
    stdin: !!container.stdin,
    stdinOnce: !!container.stdinOnce,
    tty: !!container.tty,
    resources: linuxResources(container, (pod.status?.qosClass as QosClass | undefined) ?? computePodQos(pod), o.nodeMemoryBytes),
    ...(Object.keys(security).length ? { security } : {}),
    ...(o.pidTargetContainerId ? { pidTargetContainerId: o.pidTargetContainerId } : {}),
    labels: {
      [POD_NAME_LABEL]: meta.name ?? '',
      [POD_NAMESPACE_LABEL]: meta.namespace ?? '',
      [POD_UID_LABEL]: meta.uid ?? '',
      [CONTAINER_NAME_LABEL]: container.name,
      ...(o.isInit ? { [CONTAINER_TYPE_LABEL]: 'init' } : o.isEphemeral ? { [CONTAINER_TYPE_LABEL]: 'ephemeral' } : {}),
    },
    annotations,
  };
}

/** volumeMounts → runtime mounts (makeMounts): subPath and subPathExpr under the volume, no escapes, readOnly from either side. */
export function makeMounts(pod: Pod, container: Container, volumes: ReadonlyMap<string, PodVolume>, mapping: (name: string) => string, hostsFile?: string): Mount[] {
  const mounts: Mount[] = [];
  for (const vm of container.volumeMounts ?? []) {
    const vol = volumes.get(vm.name);
    if (!vol) throw new ContainerConfigError(`cannot find volume "${vm.name}" to mount into container "${container.name}"`);
    let hostPath = vol.hostPath;
    let sub = vm.subPath ?? '';
    if (vm.subPathExpr) sub = expand(vm.subPathExpr, mapping);
    if (sub) {
      if (isAbsolute(sub)) throw new ContainerConfigError(`subPath "${sub}" of volume "${vm.name}" in container "${container.name}" must be a relative path`);
      if (sub.split('/').includes('..') || normalize(sub).startsWith('..')) {
        throw new ContainerConfigError(`subPath "${sub}" of volume "${vm.name}" in container "${container.name}" must not contain '..'`);
      }
      hostPath = join(hostPath, sub);
    }
    const propagation = vm.mountPropagation === 'HostToContainer' ? 'hostToContainer' : vm.mountPropagation === 'Bidirectional' ? 'bidirectional' : undefined;
    mounts.push({ containerPath: vm.mountPath, hostPath, readonly: !!vm.readOnly || vol.readOnly, ...(propagation ? { propagation } : {}) });
  }
  if (hostsFile && !pod.spec?.hostNetwork && !mounts.some((m) => m.containerPath === '/etc/hosts')) {
    mounts.push({ containerPath: '/etc/hosts', hostPath: hostsFile, readonly: false });
  }
  return mounts;
}
