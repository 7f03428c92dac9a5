/**
 * What a real node (skiff's agent with its containerd, or the process runtime) leaves on the machine, found from its
 * data dir alone, and the hard clean that removes it whatever state the test ended in. Containers outlive the agent
 * by design (containerd shims, process-runtime shims), so a test that only stops its server leaks them.
 *
 * Found from the data dir: containerd's task bundles (`<data>/agent/run/containerd/io.containerd.runtime.v2.task/
 * k8s.io/<id>/config.json`: cgroupsPath, network namespace path, CRI annotations with the pod's uid), shims whose
 * `-address` (containerd) or state dir (process runtime) is under the data dir, mounts under it, and the CNI bridge
 * named in its conflist.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { removeStaleMasqRules } from '../../src/agent/network/stale-masq-rules.js';
import { removePodMasquerade } from '../../src/agent/network/pod-masquerade.js';
import { cgroupMountPoints, podCgroupDirs as agentPodCgroupDirs, pidsInCgroupTree } from './agent-cleanup.js';

const run = promisify(execFile);

export interface CriTask {
  id: string;
  type: 'sandbox' | 'container';
  sandboxId: string;
  podUid: string;
  podNamespace: string;
  podName: string;
  /** Absolute cgroup path (the same in every hierarchy). */
  cgroupsPath: string;
  /** /var/run/netns/cni-... for sandboxes. */
  netns?: string;
}

const taskDir = (dataDir: string) => join(dataDir, 'agent', 'run', 'containerd', 'io.containerd.runtime.v2.task', 'k8s.io');

/** The tasks (sandboxes and containers with a live or unreaped task) skiff's containerd keeps for this data dir. */
export function criTasks(dataDir: string): CriTask[] {
  const dir = taskDir(dataDir);
  if (!existsSync(dir)) return [];
  const tasks: CriTask[] = [];
  for (const id of readdirSync(dir)) {
    let spec: any;
    try {
      spec = JSON.parse(readFileSync(join(dir, id, 'config.json'), 'utf8'));
    } catch {
      continue; // bundle being created or removed
    }
    const a: Record<string, string> = spec.annotations ?? {};
    const netns = (spec.linux?.namespaces ?? []).find((n: { type: string; path?: string }) => n.type === 'network')?.path;
    tasks.push({
      id,
      type: a['io.kubernetes.cri.container-type'] === 'sandbox' ? 'sandbox' : 'container',
      sandboxId: a['io.kubernetes.cri.sandbox-id'] ?? id,
      podUid: a['io.kubernetes.cri.sandbox-uid'] ?? '',
      podNamespace: a['io.kubernetes.cri.sandbox-namespace'] ?? '',
      podName: a['io.kubernetes.cri.sandbox-name'] ?? '',
      cgroupsPath: spec.linux?.cgroupsPath ?? '',
      ...(typeof netns === 'string' && netns.includes('/netns/') ? { netns } : {}),
    });
  }
  return tasks;
}


function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((m): m is string => m !== undefined && (m === dir || m.startsWith(`${dir}/`)))
    .map((m) => m.replace(/\\040/g, ' '))
    .sort((a, b) => b.length - a.length);
}

/** Processes whose command line contains `needle` (shims of this data dir, its containerd). */
function processesWith(needle: string): Array<{ pid: number; cmdline: string }> {
  const found: Array<{ pid: number; cmdline: string }> = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmdline.includes(needle)) found.push({ pid: Number(entry), cmdline });
    } catch {
      // exited
    }
  }
  return found;
}

/** The pod cgroups (`.../pod<uid>`) under the given root, in every hierarchy, for the given uids. */


/** The cgroup directories of these pods, every hierarchy and QoS level. */
function podCgroupDirs(uids: Iterable<string>): string[] {
  return [...uids].filter((uid) => uid).flatMap((uid) => agentPodCgroupDirs(uid));
}

function rmdirTree(dir: string): void {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) rmdirTree(join(dir, e.name));
  try {
    rmdirSync(dir);
  } catch {
    // still busy: reported by leftovers
  }
}

/**
 * What is still on the machine for these pods (by uid): containerd tasks, shims, processes and cgroups, mounts,
 * network namespaces, log directories. Empty when everything went. `before` are the tasks seen while the pods ran.
 */
export function podLeftovers(dataDir: string, uids: string[], before: CriTask[] = []): string[] {
  const found: string[] = [];
  const want = new Set(uids);
  const tasks = [...before.filter((t) => want.has(t.podUid)), ...criTasks(dataDir).filter((t) => want.has(t.podUid))];
  for (const t of criTasks(dataDir)) if (want.has(t.podUid)) found.push(`containerd task ${t.type} ${t.id.slice(0, 12)} of ${t.podNamespace}/${t.podName}`);
  for (const id of new Set(tasks.filter((t) => t.type === 'sandbox').map((t) => t.id))) {
    for (const p of processesWith(`-id ${id}`)) found.push(`shim pid ${p.pid} for sandbox ${id.slice(0, 12)}`);
  }
  for (const dir of podCgroupDirs(want)) found.push(`cgroup ${dir}${pidsInCgroupTree(dir).length ? ` with pids ${pidsInCgroupTree(dir).join(',')}` : ''}`);
  for (const m of mountsUnder(dataDir)) if (tasks.some((t) => m.includes(t.id))) found.push(`mount ${m}`);
  for (const t of tasks) if (t.netns && existsSync(t.netns)) found.push(`network namespace ${t.netns}`);
  for (const root of ['/var/log/pods', join(dataDir, 'agent', 'pod-logs')]) {
    if (!existsSync(root)) continue;
    for (const e of readdirSync(root)) if ([...want].some((u) => e.endsWith(`_${u}`))) found.push(`log directory ${join(root, e)}`);
  }
  return [...new Set(found)];
}

/** The bridge and network name of the agent's CNI conflist, if it wrote one. */
function cniNetwork(dataDir: string): { bridge?: string; name?: string } {
  try {
    const list = JSON.parse(readFileSync(join(dataDir, 'agent', 'etc', 'cni', 'net.d', '10-skiff.conflist'), 'utf8'));
    return { name: list.name, bridge: list.plugins?.find((p: { type: string }) => p.type === 'bridge')?.bridge };
  } catch {
    return {};
  }
}

/**
 * Removes everything a node on this data dir may have left, after its server/agent processes are gone: kills the
 * shims and containerd of the data dir and the processes in its pods' cgroups, removes those cgroups, unmounts what
 * is mounted under the data dir, deletes the pods' network namespaces, masquerade rules and the bridge, the pods' log
 * directories, and finally the data dir. `extraUids`: pods known to the test (the process runtime has no bundles).
 */
export async function hardCleanNode(dataDir: string, extraUids: string[] = []): Promise<void> {
  const tasks = criTasks(dataDir);
  const uids = new Set([...tasks.map((t) => t.podUid), ...extraUids].filter(Boolean));
  const network = cniNetwork(dataDir);
  // Shims first (they would restart nothing, but they hold the containers' stdio), then containerd, then workloads.
  const owned = [...processesWith(`-address ${dataDir}/`), ...processesWith(`${dataDir}/agent/process`), ...processesWith(`--config ${dataDir}/agent/etc/containerd/`)];
  for (const p of owned) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  const cgroupDirs = [
    ...new Set([
      ...podCgroupDirs(uids),
      ...tasks.filter((t) => t.cgroupsPath).flatMap((t) => cgroupMountPoints().map((m) => join(m, dirname(t.cgroupsPath)))).filter((d) => existsSync(d)),
    ]),
  ];
  for (let attempt = 0; attempt < 20; attempt++) {
    const pids = [...new Set(cgroupDirs.flatMap((d) => pidsInCgroupTree(d)))];
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await sleep(100);
  }
  for (const dir of cgroupDirs) rmdirTree(dir);
  for (const m of mountsUnder(dataDir)) await run('umount', ['-l', m]).catch(() => {});
  for (const t of tasks) {
    if (!t.netns) continue;
    await run('umount', ['-l', t.netns]).catch(() => {});
    await rm(t.netns, { force: true }).catch(() => {});
  }
  if (network.name) for (const t of tasks) if (t.type === 'sandbox') await removeStaleMasqRules(network.name, t.id, [4]).catch(() => {});
  if (network.bridge) {
    await removePodMasquerade(network.bridge).catch(() => {});
    await run('ip', ['link', 'delete', network.bridge]).catch(() => {});
  }
  if (existsSync('/var/log/pods')) {
    for (const e of readdirSync('/var/log/pods')) if ([...uids].some((u) => e.endsWith(`_${u}`))) await rm(join('/var/log/pods', e), { recursive: true, force: true });
  }
  await rm(dataDir, { recursive: true, force: true });
}
