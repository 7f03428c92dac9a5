/**
 * A private containerd for one test file: temporary data dir, its own CNI network (unique bridge and /24), a unique
 * cgroup parent, the locally built busybox and pause images imported. `cleanup()` removes every sandbox, stops
 * containerd, unmounts what it left under the data dir, and deletes the dirs, cgroups and bridge; it is safe to call
 * after a failure at any point. Tests skip (with the reason) when this machine cannot do it, unless CI=true.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, rmdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildBusyboxImage, findStaticBusybox } from '../../images/busybox-rootfs.js';
import { importImageArchive } from '../../images/image-import.js';
import { buildPauseImage } from '../../images/sandbox-image.js';
import { pickFreeSubnet } from '../../network/network-testing.js';
import type { PodSandboxConfig } from '../types.js';
import { CriRuntime } from './cri-runtime.js';
import { findBinary, ManagedContainerd } from './managed-containerd.js';
import type { RegistriesConfig } from './registries.js';

const execFileAsync = promisify(execFile);

export const TEST_PAUSE_IMAGE = 'registry.k8s.io/pause:skiff-test';
/** The same name test/helpers/oci-image.ts uses. */
export const TEST_BUSYBOX_IMAGE = 'docker.io/skiff-test/busybox:local';

/** Why a real containerd cannot run here, or undefined. Under CI=true the caller fails instead of skipping. */
export function containerdMissing(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (containerd, runc, CNI)';
  for (const binary of ['containerd', 'ctr', 'runc', 'containerd-shim-runc-v2']) if (!findBinary(binary)) return `${binary} is not installed (apt-get install containerd runc)`;
  if (!existsSync('/usr/lib/cni/bridge')) return 'CNI plugins are not in /usr/lib/cni (apt-get install containernetworking-plugins)';
  return findStaticBusybox() ? undefined : 'no statically linked busybox (apt-get install busybox-static)';
}

/** `{ skip }` for node:test: a reason to skip, or false (and under CI a missing part is a failure, not a skip). */
export function skipUnlessContainerd(): { skip: string | false } {
  const missing = containerdMissing();
  if (missing && process.env.CI === 'true') throw new Error(`CI=true but ${missing}`);
  return { skip: missing ?? false };
}

export interface CriTestEnv {
  dir: string;
  containerd: ManagedContainerd;
  runtime: CriRuntime;
  /** The cgroup parent all test pods go under (one level, removed at cleanup). */
  cgroupRoot: string;
  /** The /24 the test's CNI network hands out (pickFreeSubnet), e.g. 10.244.33.0/24. */
  subnet: string;
  bridge: string;
  suffix: string;
  /** Milliseconds from spawning containerd until it answered Version. */
  readyMs: number;
  /** A sandbox config for a pod named `name`, with a unique uid and the test's cgroup parent. */
  sandboxConfig(name: string, overrides?: Partial<PodSandboxConfig>): PodSandboxConfig;
  cleanup(): Promise<void>;
}

export interface CriTestEnvOptions {
  registries?: RegistriesConfig;
  /** Import the busybox test image (default true). */
  busybox?: boolean;
  /** Import the locally built pause image as TEST_PAUSE_IMAGE (default true; false leaves it to the test). */
  pause?: boolean;
  /** Add CNI's portmap plugin to the test network, for hostPort (its per-pod iptables chains go with each pod). */
  portmap?: boolean;
  /** More RuntimeClass handlers in containerd's config (handler -> runc-compatible binary), e.g. { 'skiff-test': 'runc' }. */
  extraRuntimes?: Record<string, string>;
}

function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((mountPoint): mountPoint is string => mountPoint !== undefined && (mountPoint === dir || mountPoint.startsWith(`${dir}/`)))
    .map((m) => m.replace(/\\040/g, ' '))
    .sort((a, b) => b.length - a.length);
}

/** rmdir the cgroup `path` and everything below it, deepest first, in every v1 hierarchy and the unified one. */
export function removeCgroupTree(path: string): void {
  const roots = readdirSync('/sys/fs/cgroup', { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => join('/sys/fs/cgroup', d.name));
  for (const root of roots) {
    const top = join(root, path);
    if (!existsSync(top)) continue;
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) walk(join(dir, entry.name));
      try {
        rmdirSync(dir);
      } catch {
        // busy (a process is still inside): left for the machine owner to see
      }
    };
    walk(top);
  }
}

/**
 * portmap's per-pod chains go with each pod, but it leaves its shared top-level chains in the nat table. They are
 * removed when no pod of anyone uses them any more (CNI-HOSTPORT-DNAT jumps to no per-pod chain), so a concurrent
 * user of portmap on this machine keeps working.
 */
export async function removeIdlePortmapChains(): Promise<void> {
  const iptables = (...args: string[]) => execFileAsync('iptables', ['-w', '5', '-t', 'nat', ...args]);
  let dnat: string;
  try {
    dnat = (await iptables('-S', 'CNI-HOSTPORT-DNAT')).stdout;
  } catch {
    return; // no chain: nothing to do
  }
  if (dnat.split('\n').some((rule) => rule.startsWith('-A CNI-HOSTPORT-DNAT'))) return;
  const jumps: Array<[string, string[]]> = [
    ['PREROUTING', ['-m', 'addrtype', '--dst-type', 'LOCAL', '-j', 'CNI-HOSTPORT-DNAT']],
    ['OUTPUT', ['-m', 'addrtype', '--dst-type', 'LOCAL', '-j', 'CNI-HOSTPORT-DNAT']],
    ['POSTROUTING', ['-m', 'comment', '--comment', 'CNI portfwd requiring masquerade', '-j', 'CNI-HOSTPORT-MASQ']],
  ];
  for (const [chain, rule] of jumps) await iptables('-D', chain, ...rule).catch(() => {});
  for (const chain of ['CNI-HOSTPORT-DNAT', 'CNI-HOSTPORT-MASQ', 'CNI-HOSTPORT-SETMARK']) {
    await iptables('-F', chain).catch(() => {});
    await iptables('-X', chain).catch(() => {});
  }
}

export async function startCriTestEnv(options: CriTestEnvOptions = {}): Promise<CriTestEnv> {
  const suffix = randomBytes(3).toString('hex');
  // A /24 no route or address on this machine uses yet (other tests' bridges, the host's own networks).
  const subnet = await pickFreeSubnet();
  // Short: the containerd socket path must stay under 108 bytes.
  const dir = await mkdtemp(`/tmp/skcri-${suffix}-`);
  const bridge = `skc${suffix}`;
  const cgroupRoot = `/skiff-test-${suffix}`;
  const cniConfDir = join(dir, 'cni');
  await mkdir(cniConfDir, { recursive: true });
  await writeFile(
    join(cniConfDir, '10-skiff-test.conflist'),
    JSON.stringify({
      cniVersion: '1.0.0',
      name: `skiff-test-${suffix}`,
      plugins: [
        {
          type: 'bridge',
          bridge,
          isGateway: true,
          ipMasq: false,
          hairpinMode: true,
          ipam: { type: 'host-local', dataDir: join(dir, 'ipam'), ranges: [[{ subnet }]], routes: [{ dst: '0.0.0.0/0' }] },
        },
        // hostPort: containerd hands the sandbox's port mappings to portmap (capability portMappings).
        ...(options.portmap ? [{ type: 'portmap', capabilities: { portMappings: true } }] : []),
      ],
    }),
  );
  const containerd = new ManagedContainerd({
    dataDir: dir,
    sandboxImage: TEST_PAUSE_IMAGE,
    cniConfDir,
    registries: options.registries,
    ...(options.extraRuntimes ? { extraRuntimes: options.extraRuntimes } : {}),
    restartBackoff: { initialMs: 100, maxMs: 1000, resetAfterMs: 10_000 },
  });
  let runtime: CriRuntime | undefined;

  const cleanup = async () => {
    if (runtime) {
      try {
        for (const sandbox of await runtime.listPodSandboxes()) {
          await runtime.stopPodSandbox(sandbox.id).catch(() => {});
          await runtime.removePodSandbox(sandbox.id).catch(() => {});
        }
      } catch {
        // containerd already gone
      }
      await runtime.close();
    }
    await containerd.stop();
    for (const mountPoint of mountsUnder(dir)) await execFileAsync('umount', ['-l', mountPoint]).catch(() => {});
    await rm(dir, { recursive: true, force: true });
    removeCgroupTree(cgroupRoot);
    await execFileAsync('ip', ['link', 'delete', bridge]).catch(() => {});
    if (options.portmap) await removeIdlePortmapChains();
  };

  try {
    const started = performance.now();
    await containerd.start();
    const readyMs = performance.now() - started;
    runtime = new CriRuntime({ endpoint: containerd.endpoint });
    const importOptions = { address: containerd.socketPath };
    if (options.pause !== false) await importImageArchive((await buildPauseImage(TEST_PAUSE_IMAGE)).archive, importOptions);
    if (options.busybox !== false) await importImageArchive((await buildBusyboxImage(TEST_BUSYBOX_IMAGE)).archive, importOptions);
    let pods = 0;
    return {
      dir,
      containerd,
      runtime,
      cgroupRoot,
      subnet,
      bridge,
      suffix,
      readyMs,
      sandboxConfig(name, overrides = {}) {
        const uid = `${suffix}-${++pods}-${randomBytes(4).toString('hex')}`;
        return {
          metadata: { name, namespace: 'default', uid, attempt: 0 },
          hostname: name,
          logDirectory: join(dir, 'pods', `default_${name}_${uid}`),
          portMappings: [],
          labels: { 'io.kubernetes.pod.uid': uid, 'io.kubernetes.pod.name': name, 'io.kubernetes.pod.namespace': 'default' },
          annotations: {},
          hostNetwork: false,
          hostPID: false,
          hostIPC: false,
          cgroupParent: `${cgroupRoot}/pod${uid}`,
          ...overrides,
        };
      },
      cleanup,
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
