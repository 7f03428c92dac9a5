/**
 * The runtime conformance suite (../conformance.ts) against CriRuntime: a private containerd for this file (own
 * dirs, CNI bridge and cgroup parent), the busybox image built on this machine, echo listener from busybox nc.
 */
import { test } from 'node:test';
import { runRuntimeConformance } from '../conformance.js';
import { CriRuntime } from './cri-runtime.js';
import { skipUnlessContainerd, startCriTestEnv, TEST_BUSYBOX_IMAGE } from './cri-test-env.js';

const { skip } = skipUnlessContainerd();

if (skip) {
  test('ContainerRuntime conformance: cri', { skip }, () => {});
} else {
  runRuntimeConformance('cri', async () => {
    const env = await startCriTestEnv();
    return {
      runtime: env.runtime,
      image: TEST_BUSYBOX_IMAGE,
      cgroupParent: env.cgroupRoot,
      // A restarted agent: a new client over the same containerd.
      reopen: async () => new CriRuntime({ endpoint: env.containerd.endpoint }),
      // busybox nc: -ll keeps listening after each connection, -e cat echoes.
      listener: (port) => ['nc', '-ll', '-p', String(port), '-e', 'cat'],
      cleanup: () => env.cleanup(),
    };
  });
}
