/**
 * bench/process-sandbox: where a process-runtime pod start goes below the kubelet, measured on the runtime itself (no
 * API server, no pod worker): per pod runPodSandbox (the supervisor's namespaces + pod cgroup, then the CNI ADD of a
 * real bridge network on a free scratch /24), of it the network's setUp, then createContainer and startContainer of a
 * `sleep` container. Pods are started one at a time with a pause between them (--gap-ms, default 100), so the figures
 * are the path's own latency, not a queue's.
 *
 * Baseline in the same run, interleaved pod by pod: a bare `unshare --pid --fork --mount --uts --ipc --net sh` until it
 * printed its first line (the namespaces alone), and one exec of the bridge plugin's VERSION (the cost of starting one
 * Go plugin binary, which a CNI ADD pays per plugin).
 *
 * Everything is removed at the end: sandboxes (CNI DEL), the bridge and its masquerade chain, the FORWARD guard, the
 * cgroups, the supervisor and the temp dir. Needs root, util-linux and the CNI plugins in /usr/lib/cni.
 *
 * Usage: npm run build && node dist/bench/process-sandbox.js [--pods 40] [--gap-ms 100]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CniNetwork } from '../src/agent/network/cni-network.js';
import { execCniPlugin } from '../src/agent/network/cni-plugin-exec.js';
import { guardSubnet, pickFreeSubnet } from '../src/agent/network/network-testing.js';
import type { PodNetwork, PodNetworkRequest, PodNetworkResult } from '../src/agent/network/types.js';
import { Cgroup, detectCgroupLayout } from '../src/agent/runtime/process/cgroups.js';
import { ProcessRuntime } from '../src/agent/runtime/process/process-runtime.js';
import type { ContainerConfig, PodSandboxConfig } from '../src/agent/runtime/types.js';
import { stats } from './stats.js';

const arg = (name: string, dflt: string) => (process.argv.includes(`--${name}`) ? process.argv[process.argv.indexOf(`--${name}`) + 1]! : dflt);
const PODS = Number(arg('pods', '40'));
const GAP_MS = Number(arg('gap-ms', '100'));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The network's setUp timed (the rest of runPodSandbox is the supervisor's part). */
class TimedNetwork implements PodNetwork {
  last = 0;
  constructor(private readonly inner: PodNetwork) {}
  status() {
    return this.inner.status();
  }
  async setUp(request: PodNetworkRequest): Promise<PodNetworkResult> {
    const t0 = performance.now();
    try {
      return await this.inner.setUp(request);
    } finally {
      this.last = performance.now() - t0;
    }
  }
  tearDown(request: PodNetworkRequest) {
    return this.inner.tearDown(request);
  }
}

function spawnUntilOutput(argv: string[], children: ChildProcess[]): Promise<number> {
  const t0 = performance.now();
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'ignore'], detached: true });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', () => resolve(performance.now() - t0));
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`${argv.join(' ')} exited (${code}) before it wrote anything`)));
  });
}

async function main(): Promise<void> {
  if (process.geteuid?.() !== 0) throw new Error('bench/process-sandbox needs root (namespaces, cgroups, CNI)');
  const dir = await mkdtemp(join(tmpdir(), 'skiff-bench-sandbox-'));
  const suffix = randomBytes(3).toString('hex');
  const cgroupRoot = `skiff-bench-${suffix}`;
  const subnet = await pickFreeSubnet(24);
  const cni = new CniNetwork({ stateDir: join(dir, 'net'), confDir: join(dir, 'conf'), bridgeName: `skb${suffix}`, networkName: `skiff-bench-${suffix}`, podCidrs: [subnet] });
  await cni.setPodCidrs([subnet]);
  const removeGuard = await guardSubnet(subnet, cni.bridgeName);
  const network = new TimedNetwork(cni);
  const runtime = new ProcessRuntime({ stateDir: join(dir, 'rt'), network, cgroupRoot });
  const children: ChildProcess[] = [];
  const sandboxes: string[] = [];
  const ms = { sandbox: [] as number[], network: [] as number[], supervisor: [] as number[], create: [] as number[], start: [] as number[], total: [] as number[] };
  const base = { unshare: [] as number[], plugin_exec: [] as number[] };
  try {
    await runtime.status(); // starts the supervisor outside the measurement
    for (let i = 0; i < PODS; i++) {
      const uid = randomBytes(8).toString('hex');
      const config: PodSandboxConfig = {
        metadata: { name: `bench-${i}`, namespace: 'bench', uid, attempt: 0 },
        hostname: `bench-${i}`,
        logDirectory: join(dir, 'logs', uid),
        portMappings: [],
        labels: {},
        annotations: {},
        hostNetwork: false,
        hostPID: false,
        hostIPC: false,
        cgroupParent: `/${cgroupRoot}/pod${uid}`,
      };
      const container: ContainerConfig = {
        metadata: { name: 'c', attempt: 0 },
        image: 'host',
        command: ['sleep', '3600'],
        args: [],
        env: [],
        mounts: [],
        logPath: 'c/0.log',
        stdin: false,
        stdinOnce: false,
        tty: false,
        resources: {},
        labels: {},
        annotations: {},
      };
      const t0 = performance.now();
      const id = await runtime.runPodSandbox(config);
      const t1 = performance.now();
      sandboxes.push(id);
      const cid = await runtime.createContainer(id, container, config);
      const t2 = performance.now();
      await runtime.startContainer(cid);
      const t3 = performance.now();
      // The pod really has its network: an address, and eth0 in the namespace its containers enter.
      const status = await runtime.podSandboxStatus(id);
      if (status?.network !== 'pod' || status.ip === undefined) throw new Error(`sandbox ${id}: no pod network: ${JSON.stringify(status)}`);
      // (An exec right after the start can miss the container's own /proc: tried again.)
      let dev = await runtime.execSync(cid, ['cat', '/proc/net/dev'], 5000);
      for (let tries = 0; tries < 5 && dev.exitCode !== 0; tries++) {
        await sleep(50);
        dev = await runtime.execSync(cid, ['cat', '/proc/net/dev'], 5000);
      }
      if (dev.exitCode !== 0 || !dev.stdout.toString().includes('eth0:')) throw new Error(`sandbox ${id}: no eth0 in the container: ${dev.stdout.toString()}${dev.stderr.toString()}`);
      ms.sandbox.push(t1 - t0);
      ms.network.push(network.last);
      ms.supervisor.push(t1 - t0 - network.last);
      ms.create.push(t2 - t1);
      ms.start.push(t3 - t2);
      ms.total.push(t3 - t0);
      await sleep(GAP_MS / 2);
      base.unshare.push(await spawnUntilOutput(['unshare', '--pid', '--fork', '--mount', '--uts', '--ipc', '--net', 'sh', '-c', 'echo ready; exec sleep 3600'], children));
      const p0 = performance.now();
      await execCniPlugin({ type: 'bridge', command: 'VERSION', pluginDirs: cni.pluginDirs, config: { cniVersion: '1.0.0' }, timeoutMs: 10_000 });
      base.plugin_exec.push(performance.now() - p0);
      await sleep(GAP_MS / 2);
    }
  } finally {
    for (const child of children) {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // gone
      }
    }
    for (const id of sandboxes) await runtime.removePodSandbox(id).catch((err: unknown) => console.error(`removing sandbox ${id}: ${(err as Error).message}`));
    await runtime.shutdownSupervisor({ killAll: true });
    await runtime.close();
    await cni.removeBridge().catch((err: unknown) => console.error(`removing bridge: ${(err as Error).message}`));
    await removeGuard();
    const layout = detectCgroupLayout();
    if (layout !== undefined) new Cgroup(layout, `/${cgroupRoot}`).remove();
    await rm(dir, { recursive: true, force: true });
  }
  const phases = Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, stats(v)]));
  const baseline = Object.fromEntries(Object.entries(base).map(([k, v]) => [k, stats(v)]));
  const total = phases.total!;
  const unshare = baseline.unshare!;
  console.log(
    JSON.stringify(
      {
        bench: 'process-sandbox',
        pods: PODS,
        gap_ms: GAP_MS,
        load_average_1m: Math.round((await import('node:os')).loadavg()[0]! * 10) / 10,
        phases_ms: phases,
        baseline_ms: baseline,
        ratio_total_over_unshare: { p50: Math.round((total.p50 / unshare.p50) * 100) / 100, p99: Math.round((total.p99 / unshare.p99) * 100) / 100 },
      },
      null,
      2,
    ),
  );
}

await main();
