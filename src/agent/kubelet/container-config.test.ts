/** Table tests of container and sandbox configuration: expansion, environment, resources, cgroups, hosts file, mounts. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ConfigMap, Container, EnvFromSource, EnvVar, Pod, Secret, VolumeMount } from 'kubernetes-types/core/v1.js';
import type { PodVolume } from '../volumes/types.js';
import {
  containerConfig,
  ContainerConfigError,
  effectiveDnsPolicy,
  linuxResources,
  makeEnvironment,
  makeMounts,
  managedHostsFileContent,
  podCgroupParent,
  parseResolvConf,
  podDnsConfig,
  podSandboxConfig,
  type ObjectSource,
} from './container-config.js';
import { expand, mappingFor } from './expansion.js';
import { testPod } from './testing/runtime-fixtures.js';

describe('expand ($(VAR) as expansion.go)', () => {
  const vars = mappingFor(new Map([['VAR_A', 'A'], ['VAR_EMPTY', ''], ['VAR_REF', '$(VAR_A)']]));
  const table: [string, string][] = [
    ['$(VAR_A)', 'A'],
    ['___$(VAR_A)___', '___A___'],
    ['$(VAR_A)-$(VAR_A)', 'A-A'],
    ['$(VAR_EMPTY)', ''],
    ['$(UNKNOWN)', '$(UNKNOWN)'],
    ['$$(VAR_A)', '$(VAR_A)'],
    ['$$$(VAR_A)', '$A'],
    ['$$$$(VAR_A)', '$$(VAR_A)'],
    ['$(VAR_A', '$(VAR_A'],
    ['$VAR_A', '$VAR_A'],
    ['foo$', 'foo$'],
    ['$(VAR_REF)', '$(VAR_A)'],
    ['$()', '$()'],
  ];
  for (const [input, want] of table) it(`${input} -> ${want}`, () => assert.equal(expand(input, vars), want));
});

const cm: ConfigMap = { metadata: { name: 'cfg', namespace: 'default' }, data: { LEVEL: 'debug', 'bad key': 'x', '1abc': 'y', ok_key: 'z' } };
const secret: Secret = { metadata: { name: 'creds', namespace: 'default' }, data: { PASSWORD: Buffer.from('s3cret').toString('base64') } };
const source: ObjectSource = {
  getConfigMap: async (_ns, name) => (name === 'cfg' ? cm : undefined),
  getSecret: async (_ns, name) => (name === 'creds' ? secret : undefined),
};

describe('makeEnvironment', () => {
  const pod = (env: EnvVar[], envFrom: EnvFromSource[] = [], resources: Container['resources'] = {}): Pod => {
    const p = testPod({ containers: [{ name: 'app', image: 'i', command: ['x'], env, envFrom, resources }] });
    p.metadata!.labels = { app: 'web', tier: 'fe' };
    p.spec!.serviceAccountName = 'default';
    return p;
  };
  const run = async (p: Pod, warnings: string[] = []) =>
    Object.fromEntries((await makeEnvironment(p, p.spec!.containers[0]!, { podIPs: ['10.42.0.5'], hostIPs: ['192.168.1.10'], source, nodeAllocatable: { cpu: '4', memory: '8Gi' }, warn: (r, m) => warnings.push(`${r} ${m}`) })).map((e) => [e.name, e.value]));
  const table: [string, EnvVar[], EnvFromSource[], Record<string, string> | string][] = [
    ['plain values expand earlier names', [{ name: 'A', value: 'a' }, { name: 'B', value: '$(A)-$(C)' }, { name: 'C', value: 'c' }], [], { A: 'a', B: 'a-$(C)', C: 'c' }],
    ['fieldRef', [
      { name: 'NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'NS', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      { name: 'UID', valueFrom: { fieldRef: { fieldPath: 'metadata.uid' } } },
      { name: 'APP', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
      { name: 'LABELS', valueFrom: { fieldRef: { fieldPath: 'metadata.labels' } } },
      { name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
      { name: 'SA', valueFrom: { fieldRef: { fieldPath: 'spec.serviceAccountName' } } },
      { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
      { name: 'HOST_IPS', valueFrom: { fieldRef: { fieldPath: 'status.hostIPs' } } },
    ], [], { NAME: 'web', NS: 'default', UID: 'uid-1', APP: 'web', LABELS: 'app="web"\ntier="fe"', NODE: 'node-1', SA: 'default', POD_IP: '10.42.0.5', HOST_IPS: '192.168.1.10' }],
    ['configMapKeyRef and secretKeyRef', [
      { name: 'LEVEL', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'LEVEL' } } },
      { name: 'PW', valueFrom: { secretKeyRef: { name: 'creds', key: 'PASSWORD' } } },
    ], [], { LEVEL: 'debug', PW: 's3cret' }],
    ['optional refs that are missing are skipped', [
      { name: 'X', valueFrom: { configMapKeyRef: { name: 'nope', key: 'k', optional: true } } },
      { name: 'Y', valueFrom: { secretKeyRef: { name: 'creds', key: 'nokey', optional: true } } },
    ], [], {}],
    ['missing configMap', [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'nope', key: 'k' } } }], [], 'configmap "nope" not found'],
    ['missing secret', [{ name: 'X', valueFrom: { secretKeyRef: { name: 'nope', key: 'k' } } }], [], 'secret "nope" not found'],
    ['missing key', [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'k' } } }], [], "couldn't find key k in ConfigMap default/cfg"],
    ['missing secret key', [{ name: 'X', valueFrom: { secretKeyRef: { name: 'creds', key: 'k' } } }], [], "couldn't find key k in Secret default/creds"],
    ['envFrom with prefix, invalid keys skipped, env overrides', [{ name: 'CFG_LEVEL', value: 'info' }], [{ prefix: 'CFG_', configMapRef: { name: 'cfg' } }, { secretRef: { name: 'creds' } }],
      { CFG_LEVEL: 'info', CFG_1abc: 'y', CFG_ok_key: 'z', PASSWORD: 's3cret' }],
    ['envFrom of a missing optional configMap', [], [{ configMapRef: { name: 'nope', optional: true } }], {}],
    ['envFrom of a missing configMap', [], [{ configMapRef: { name: 'nope' } }], 'configmap "nope" not found'],
  ];
  for (const [name, env, envFrom, want] of table) {
    it(name, async () => {
      if (typeof want === 'string') await assert.rejects(run(pod(env, envFrom)), (err: Error) => err instanceof ContainerConfigError && err.message === want);
      else assert.deepEqual(await run(pod(env, envFrom)), want);
    });
  }
  it('warns about skipped envFrom keys in kubelet words', async () => {
    const warnings: string[] = [];
    await run(pod([], [{ configMapRef: { name: 'cfg' } }]), warnings);
    assert.deepEqual(warnings, ['InvalidEnvironmentVariableNames Keys [1abc, bad key] from the EnvFrom configMap default/cfg were skipped since they are considered invalid environment variable names.']);
  });
  it('resourceFieldRef with divisor, and node allocatable for a missing limit', async () => {
    const env: EnvVar[] = [
      { name: 'CPU_REQ', valueFrom: { resourceFieldRef: { resource: 'requests.cpu', divisor: '1m' } } },
      { name: 'CPU_LIM', valueFrom: { resourceFieldRef: { resource: 'limits.cpu' } } },
      { name: 'MEM_LIM', valueFrom: { resourceFieldRef: { resource: 'limits.memory', divisor: '1Mi' } } },
    ];
    assert.deepEqual(await run(pod(env, [], { requests: { cpu: '250m' }, limits: { memory: '64Mi' } })), { CPU_REQ: '250', CPU_LIM: '4', MEM_LIM: '64' });
  });
});

describe('linuxResources', () => {
  const c = (requests?: Record<string, string>, limits?: Record<string, string>): Container => ({ name: 'c', image: 'i', resources: { ...(requests ? { requests } : {}), ...(limits ? { limits } : {}) } });
  const table: [string, Container, object][] = [
    ['nothing: minimum shares, no quota', c(), { cpuShares: 2, cpuPeriod: 100000, cpuQuota: 0 }],
    ['250m request', c({ cpu: '250m' }), { cpuShares: 256, cpuPeriod: 100000, cpuQuota: 0 }],
    ['1m request is at least 2 shares', c({ cpu: '1m' }), { cpuShares: 2, cpuPeriod: 100000, cpuQuota: 0 }],
    ['limit only: shares from the limit, quota', c(undefined, { cpu: '500m', memory: '128Mi' }), { cpuShares: 512, cpuPeriod: 100000, cpuQuota: 50000, memoryLimitBytes: 134217728 }],
    ['tiny limit gets the minimum quota', c({ cpu: '1m' }, { cpu: '1m' }), { cpuShares: 2, cpuPeriod: 100000, cpuQuota: 1000 }],
    ['2 cpus', c({ cpu: '2' }, { cpu: '2' }), { cpuShares: 2048, cpuPeriod: 100000, cpuQuota: 200000 }],
  ];
  for (const [name, container, want] of table) it(name, () => assert.deepEqual(linuxResources(container), want));
});

describe('podCgroupParent', () => {
  const table: [string, Container['resources'], string][] = [
    ['guaranteed', { limits: { cpu: '1', memory: '1Gi' } }, '/skiff-kubepods/poduid-1'],
    ['burstable', { requests: { cpu: '100m' } }, '/skiff-kubepods/burstable/poduid-1'],
    ['best effort', {}, '/skiff-kubepods/besteffort/poduid-1'],
  ];
  for (const [name, resources, want] of table) {
    it(name, () => assert.equal(podCgroupParent(testPod({ containers: [{ name: 'c', image: 'i', resources }] }), 'skiff-kubepods'), want));
  }
});

describe('managedHostsFileContent', () => {
  it('writes localhost lines, the pod with its FQDN, and host aliases', () => {
    assert.equal(
      managedHostsFileContent(['10.42.0.5'], 'web-0', 'web.default.svc.cluster.local', [{ ip: '1.2.3.4', hostnames: ['foo', 'bar'] }]),
      '# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n' +
        '10.42.0.5\tweb-0.web.default.svc.cluster.local\tweb-0\n\n# Entries added by HostAliases.\n1.2.3.4\tfoo\tbar\n',
    );
  });
  it('without a subdomain, the bare hostname', () => {
    assert.ok(managedHostsFileContent(['10.42.0.5'], 'web', '').endsWith('fe00::2\tip6-allrouters\n10.42.0.5\tweb\n'));
  });
});

describe('makeMounts', () => {
  const volumes = new Map<string, PodVolume>([['data', { hostPath: '/v/data', readOnly: false }], ['cfg', { hostPath: '/v/cfg', readOnly: true }]]);
  const pod = testPod();
  const mounts = (vms: VolumeMount[]) => makeMounts(pod, { name: 'app', image: 'i', volumeMounts: vms }, volumes, mappingFor(new Map([['POD', 'web']])), '/pods/uid-1/etc-hosts');
  const table: [string, VolumeMount[], object[] | string][] = [
    ['plain, plus the managed /etc/hosts', [{ name: 'data', mountPath: '/data' }], [
      { containerPath: '/data', hostPath: '/v/data', readonly: false },
      { containerPath: '/etc/hosts', hostPath: '/pods/uid-1/etc-hosts', readonly: false },
    ]],
    ['readOnly from the volume or the mount; subPath; own /etc/hosts', [{ name: 'cfg', mountPath: '/etc/hosts', subPath: 'hosts' }, { name: 'data', mountPath: '/d', readOnly: true, subPathExpr: 'logs/$(POD)' }], [
      { containerPath: '/etc/hosts', hostPath: '/v/cfg/hosts', readonly: true },
      { containerPath: '/d', hostPath: '/v/data/logs/web', readonly: true },
    ]],
    ['.. in subPath is refused', [{ name: 'data', mountPath: '/d', subPath: 'a/../../etc' }], `subPath "a/../../etc" of volume "data" in container "app" must not contain '..'`],
    ['absolute subPath is refused', [{ name: 'data', mountPath: '/d', subPath: '/etc' }], `subPath "/etc" of volume "data" in container "app" must be a relative path`],
    ['unknown volume', [{ name: 'nope', mountPath: '/d' }], 'cannot find volume "nope" to mount into container "app"'],
  ];
  for (const [name, vms, want] of table) {
    it(name, () => {
      if (typeof want === 'string') assert.throws(() => mounts(vms), (err: Error) => err instanceof ContainerConfigError && err.message === want);
      else assert.deepEqual(mounts(vms), want);
    });
  }
});

describe('containerConfig and podSandboxConfig', () => {
  const pod = testPod({ containers: [{ name: 'app', image: 'node:20', command: ['node', '-e', '$(SCRIPT)'], args: ['$$(HOME)', '$(PORT)'], ports: [{ containerPort: 8080, hostPort: 30080 }] }] });
  const base = { restartCount: 2, env: [{ name: 'SCRIPT', value: 'x()' }, { name: 'PORT', value: '8080' }], volumes: new Map(), runtimeName: 'process' };
  it('expands command and args, names the log file after the restart count, labels the container', () => {
    const cfg = containerConfig(pod, pod.spec!.containers[0]!, { ...base, runtimeImages: false });
    assert.deepEqual([cfg.command, cfg.args, cfg.logPath, cfg.metadata], [['node', '-e', 'x()'], ['$(HOME)', '8080'], 'app/2.log', { name: 'app', attempt: 2 }]);
    assert.equal(cfg.labels['io.kubernetes.pod.uid'], 'uid-1');
    assert.equal(cfg.labels['io.kubernetes.container.name'], 'app');
    assert.equal(cfg.annotations['io.kubernetes.container.restartCount'], '2');
    assert.match(cfg.annotations['io.kubernetes.container.hash']!, /^[0-9a-f]{8}$/);
  });
  it('refuses a container without command on a runtime without images, naming the cri runtime', () => {
    const noCmd: Container = { name: 'web', image: 'nginx' };
    assert.throws(() => containerConfig(pod, noCmd, { ...base, runtimeImages: false }), (err: Error) => err instanceof ContainerConfigError && /--runtime cri/.test(err.message) && /"nginx"/.test(err.message));
    assert.deepEqual(containerConfig(pod, noCmd, { ...base, runtimeImages: true }).command, []);
  });
  it('builds the sandbox: log directory, cgroup parent, ports, labels, DNS', () => {
    const cfg = podSandboxConfig(pod, { attempt: 1, logRoot: '/var/log/pods', cgroupRoot: 'skiff-kubepods', clusterDomain: 'cluster.local', clusterDNS: ['10.43.0.10'] });
    assert.equal(cfg.logDirectory, '/var/log/pods/default_web_uid-1');
    assert.equal(cfg.cgroupParent, '/skiff-kubepods/besteffort/poduid-1');
    assert.equal(cfg.hostname, 'web');
    assert.deepEqual(cfg.metadata, { name: 'web', namespace: 'default', uid: 'uid-1', attempt: 1 });
    assert.deepEqual(cfg.portMappings, [{ protocol: 'TCP', containerPort: 8080, hostPort: 30080 }]);
    assert.deepEqual(cfg.dnsConfig, { servers: ['10.43.0.10'], searches: ['default.svc.cluster.local', 'svc.cluster.local', 'cluster.local'], options: ['ndots:5'] });
  });
  it('host-network pods with ClusterFirst use the host resolver', () => {
    const p = testPod();
    p.spec!.hostNetwork = true;
    assert.equal(podDnsConfig(p, 'cluster.local', ['10.43.0.10']), undefined);
  });
});

describe('pod DNS (GetPodDNS): policies, fallback without cluster DNS, dnsConfig', () => {
  const host = { servers: ['192.168.1.1'], searches: ['lan'], options: ['edns0'] };
  const withDns = (over: Partial<Pod['spec']>): Pod => {
    const p = testPod();
    Object.assign(p.spec!, over);
    return p;
  };
  const cluster = { servers: ['10.43.0.10'], searches: ['default.svc.cluster.local', 'svc.cluster.local', 'cluster.local'], options: ['ndots:5'] };
  const extra = { nameservers: ['1.1.1.1'], searches: ['example.com'], options: [{ name: 'ndots', value: '2' }, { name: 'rotate' }] };
  const table: Array<{ name: string; pod: Pod; clusterDNS: string[]; want: unknown; missing: boolean }> = [
    { name: 'ClusterFirst (default) with cluster DNS', pod: testPod(), clusterDNS: ['10.43.0.10'], want: cluster, missing: false },
    { name: 'ClusterFirst without cluster DNS: the host resolver, MissingClusterDNS', pod: testPod(), clusterDNS: [], want: undefined, missing: true },
    { name: 'ClusterFirst on the host network: Default, no warning', pod: withDns({ hostNetwork: true }), clusterDNS: [], want: undefined, missing: false },
    { name: 'ClusterFirstWithHostNet with cluster DNS', pod: withDns({ hostNetwork: true, dnsPolicy: 'ClusterFirstWithHostNet' }), clusterDNS: ['10.43.0.10'], want: cluster, missing: false },
    { name: 'ClusterFirstWithHostNet without cluster DNS: fallback, warning', pod: withDns({ hostNetwork: true, dnsPolicy: 'ClusterFirstWithHostNet' }), clusterDNS: [], want: undefined, missing: true },
    { name: 'Default: the host resolver', pod: withDns({ dnsPolicy: 'Default' }), clusterDNS: ['10.43.0.10'], want: undefined, missing: false },
    {
      name: 'Default + dnsConfig: the host resolver extended',
      pod: withDns({ dnsPolicy: 'Default', dnsConfig: extra }),
      clusterDNS: ['10.43.0.10'],
      want: { servers: ['192.168.1.1', '1.1.1.1'], searches: ['lan', 'example.com'], options: ['edns0', 'ndots:2', 'rotate'] },
      missing: false,
    },
    {
      name: 'ClusterFirst without cluster DNS + dnsConfig: host resolver extended',
      pod: withDns({ dnsConfig: { nameservers: ['192.168.1.1', '9.9.9.9'] } }),
      clusterDNS: [],
      want: { servers: ['192.168.1.1', '9.9.9.9'], searches: ['lan'], options: ['edns0'] },
      missing: true,
    },
    { name: 'None + dnsConfig: dnsConfig alone', pod: withDns({ dnsPolicy: 'None', dnsConfig: extra }), clusterDNS: ['10.43.0.10'], want: { servers: ['1.1.1.1'], searches: ['example.com'], options: ['ndots:2', 'rotate'] }, missing: false },
    {
      name: 'ClusterFirst + dnsConfig options merged by name',
      pod: withDns({ dnsConfig: { options: [{ name: 'ndots', value: '1' }] } }),
      clusterDNS: ['10.43.0.10'],
      want: { ...cluster, options: ['ndots:1'] },
      missing: false,
    },
  ];
  for (const t of table) {
    it(t.name, () => {
      assert.deepEqual(podDnsConfig(t.pod, 'cluster.local', t.clusterDNS, host), t.want);
      assert.equal(effectiveDnsPolicy(t.pod, t.clusterDNS).missingClusterDNS, t.missing);
    });
  }
  it('parseResolvConf: nameservers, the last search/domain line, options; comments ignored', () => {
    assert.deepEqual(parseResolvConf('# generated\nnameserver 10.0.0.2\nnameserver 10.0.0.3 ; x\ndomain corp\nsearch a.example b.example\noptions ndots:2 timeout:1\n'), {
      servers: ['10.0.0.2', '10.0.0.3'],
      searches: ['a.example', 'b.example'],
      options: ['ndots:2', 'timeout:1'],
    });
  });
});
