/** The CRI translation without a runtime: wire encoding of the hand-written messages, and the field mapping. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { PodSandboxConfig } from '../types.js';
import { messageType, NamespaceMode, TO_OBJECT } from './cri-api.js';
import { fromCriContainerStatus, toCriContainerConfig, toCriResources, toCriSandboxConfig } from './cri-runtime.js';
import { parseExitStatus } from './stream-client.js';

describe('CRI messages on the wire', () => {
  test('field numbers as api.proto has them (hand-checked bytes)', () => {
    const t = messageType('StopContainerRequest');
    // container_id = 1 (tag 0x0a, length 3, "abc"), timeout = 2 (tag 0x10, varint 30)
    assert.deepEqual([...t.encode(t.fromObject({ containerId: 'abc', timeout: 30 })).finish()], [0x0a, 3, 0x61, 0x62, 0x63, 0x10, 30]);
    const v = messageType('VersionResponse');
    const bytes = Buffer.from([0x12, 10, ...Buffer.from('containerd'), 0x22, 2, ...Buffer.from('v1')]);
    assert.deepEqual(v.toObject(v.decode(bytes), TO_OBJECT), { version: '', runtimeName: 'containerd', runtimeVersion: '', runtimeApiVersion: 'v1' });
  });

  test('int64 nanosecond timestamps decode to numbers; maps to objects; unknown fields are skipped', () => {
    const t = messageType('ContainerStatus');
    const encoded = t.encode(t.fromObject({ id: 'c1', createdAt: 1_700_000_000_123_456_789, labels: { a: 'b' } })).finish();
    const withUnknown = Buffer.concat([Buffer.from(encoded), Buffer.from([0xa8, 0x06, 0x01])]); // field 101, varint 1
    const decoded = t.toObject(t.decode(withUnknown), TO_OBJECT) as { createdAt: number; labels: Record<string, string> };
    assert.equal(Math.floor(decoded.createdAt / 1e6), 1_700_000_000_123);
    assert.deepEqual(decoded.labels, { a: 'b' });
  });
});

const sandbox: PodSandboxConfig = {
  metadata: { name: 'p', namespace: 'ns', uid: 'u', attempt: 1 },
  hostname: 'p',
  logDirectory: '/var/log/pods/ns_p_u',
  portMappings: [{ protocol: 'UDP', containerPort: 53, hostPort: 5353 }],
  labels: {},
  annotations: {},
  hostNetwork: false,
  hostPID: false,
  hostIPC: false,
  cgroupParent: '/skiff-kubepods/podu',
};

describe('toCriSandboxConfig', () => {
  for (const [name, overrides, network, pid, ipc, hostname] of [
    ['pod namespaces', {}, NamespaceMode.POD, NamespaceMode.CONTAINER, NamespaceMode.POD, 'p'],
    ['hostNetwork', { hostNetwork: true }, NamespaceMode.NODE, NamespaceMode.CONTAINER, NamespaceMode.POD, ''],
    ['hostPID and hostIPC', { hostPID: true, hostIPC: true }, NamespaceMode.POD, NamespaceMode.NODE, NamespaceMode.NODE, 'p'],
    ['shareProcessNamespace', { shareProcessNamespace: true }, NamespaceMode.POD, NamespaceMode.POD, NamespaceMode.POD, 'p'],
  ] as const) {
    test(name, () => {
      const cri = toCriSandboxConfig({ ...sandbox, ...overrides }) as { hostname: string; linux: { cgroupParent: string; securityContext: { namespaceOptions: object } }; portMappings: object[] };
      assert.deepEqual(cri.linux.securityContext.namespaceOptions, { network, pid, ipc });
      assert.equal(cri.hostname, hostname);
      assert.equal(cri.linux.cgroupParent, '/skiff-kubepods/podu');
      assert.deepEqual(cri.portMappings, [{ protocol: 1, containerPort: 53, hostPort: 5353, hostIp: '' }]);
      // And it encodes: every field name exists in the message type.
      const t = messageType('PodSandboxConfig');
      assert.equal(t.verify(cri), null);
    });
  }
  test('negative oom_score_adj is never asked for (no CAP_SYS_RESOURCE here)', () => {
    assert.equal((toCriResources({ oomScoreAdj: -997 }) as { oomScoreAdj: number }).oomScoreAdj, 0);
    assert.equal((toCriResources({ oomScoreAdj: 1000 }) as { oomScoreAdj: number }).oomScoreAdj, 1000);
  });
});

test('toCriContainerConfig: an ephemeral container with a target joins its pid namespace (NamespaceMode TARGET)', () => {
  const base = { metadata: { name: 'dbg', attempt: 0 }, image: 'busybox', command: ['sh'], args: [], env: [], mounts: [], logPath: 'dbg/0.log', stdin: true, stdinOnce: false, tty: false, resources: {}, labels: {}, annotations: {} };
  type Cri = { linux: { securityContext: { namespaceOptions: Record<string, unknown> } } };
  const targeted = toCriContainerConfig({ ...base, pidTargetContainerId: 'abc123' }, sandbox) as Cri;
  assert.deepEqual(targeted.linux.securityContext.namespaceOptions, { network: NamespaceMode.POD, pid: NamespaceMode.TARGET, ipc: NamespaceMode.POD, targetId: 'abc123' });
  assert.equal(messageType('ContainerConfig').verify(targeted), null);
  const plain = toCriContainerConfig(base, sandbox) as Cri;
  assert.deepEqual(plain.linux.securityContext.namespaceOptions, { network: NamespaceMode.POD, pid: NamespaceMode.CONTAINER, ipc: NamespaceMode.POD });
});

test('fromCriContainerStatus: ns to ms, state names, reason kept as containerd words it', () => {
  const s = fromCriContainerStatus(
    {
      id: 'c',
      metadata: { name: 'app', attempt: 2 },
      state: 2,
      createdAt: 1_000_000_000,
      startedAt: 2_000_000_000,
      finishedAt: 3_500_000_000,
      exitCode: 137,
      image: { image: 'busybox' },
      imageRef: 'sha256:x',
      reason: 'OOMKilled',
      message: '',
      labels: {},
      annotations: {},
      logPath: '/l',
    },
    'sb',
  );
  assert.deepEqual([s.state, s.createdAt, s.startedAt, s.finishedAt, s.exitCode, s.reason, s.podSandboxId, s.metadata.attempt], ['exited', 1000, 2000, 3500, 137, 'OOMKilled', 'sb', 2]);
});

describe('parseExitStatus (the v4 error channel)', () => {
  for (const [body, protocol, expected] of [
    ['', 'v4.channel.k8s.io', { exitCode: 0 }],
    ['{"metadata":{},"status":"Success"}', 'v4.channel.k8s.io', { exitCode: 0 }],
    [
      '{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}',
      'v4.channel.k8s.io',
      { exitCode: 3 },
    ],
    ['{"status":"Failure","message":"OCI runtime exec failed: exec: \\"x\\": not found"}', 'v5.channel.k8s.io', { error: 'OCI runtime exec failed: exec: "x": not found' }],
    ['some text error', 'channel.k8s.io', { error: 'some text error' }],
  ] as const) {
    test(`${protocol}: ${body.slice(0, 40) || '(empty)'}`, () => assert.deepEqual(parseExitStatus(body, protocol), expected));
  }
});

test('fromCriContainerStatus: a container that exited before containerd stamped its start never finishes before it started', () => {
  const s = fromCriContainerStatus(
    { id: 'c', metadata: null, state: 2, createdAt: 1e9, startedAt: 2_001_000_000, finishedAt: 2_000_000_000, exitCode: 0, image: null, imageRef: '', reason: 'Completed', message: '', labels: {}, annotations: {}, logPath: '' },
    'sb',
  );
  assert.deepEqual([s.startedAt, s.finishedAt], [2000, 2000]);
});
