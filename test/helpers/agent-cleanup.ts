/**
 * What a real node agent leaves on the host, found and removed for end-to-end tests. Containers outlive the agent by
 * design (a killed `skiff server` must not take its pods along), so a test that starts a real agent has to take down
 * everything itself, also when it fails half-way:
 *
 *   hardCleanAgent()  the process runtime's supervisor (killAll), processes in the pods' cgroups, the cgroups
 *                     (deepest first), CNI ADDs the agent cached (DEL), the bridge named in the conflist, mounts under
 *                     the data dir, the pods' log directories, then the data dir itself
 *   podLeftovers()    what is still there for some pod uids: processes, cgroups, mounts, network namespaces
 *
 * The pods' cgroups live under a root shared by every agent on the machine (skiff-kubepods), so only the given pods'
 * cgroups are touched, never the root or the QoS levels.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, rmdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface AgentCleanupOptions {
  /** The agent's --data-dir (files under <dataDir>/agent). Removed at the end. */
  dataDir: string;
  /** Pods whose cgroups, processes and logs are the test's (the agent's own records add the ones it knows). */
  podUids?: Iterable<string>;
  /** Default skiff-kubepods (the kubelet's default cgroupRoot). */
  cgroupRoot?: string;
  /** Default /var/log/pods (the agent's log root as root). */
  logRoot?: string;
  /** More host paths to unmount beneath and remove (e.g. mount points the process runtime created on the host). */
  extraPaths?: string[];
}

const UID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Mount points of every cgroup hierarchy (v1 controllers, named hierarchies, cgroup2). */
export function cgroupMountPoints(): string[] {
  const points = new Set<string>();
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const fstype = right.split(' ')[0];
    if (fstype === 'cgroup' || fstype === 'cgroup2') points.add(left.split(' ')[4]!);
  }
  return [...points];
}

/** The pod's cgroup directories that exist, one per hierarchy (any QoS level: Guaranteed, burstable, besteffort). */
export function podCgroupDirs(uid: string, cgroupRoot = 'skiff-kubepods'): string[] {
  const base = cgroupRoot.replace(/^\/+|\/+$/g, '');
  const dirs: string[] = [];
  for (const mount of cgroupMountPoints()) {
    for (const level of ['', 'burstable/', 'besteffort/']) {
      const dir = join(mount, base, `${level}pod${uid}`);
      if (existsSync(dir)) dirs.push(dir);
    }
  }
  return dirs;
}

/** A cgroup and its descendants, deepest first. */
function cgroupTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) if (e.isDirectory()) walk(join(d, e.name));
    out.push(d);
  };
  walk(dir);
  return out;
}

/** Pids in a cgroup and its descendants. */
export function pidsInCgroupTree(dir: string): number[] {
  const pids = new Set<number>();
  for (const d of cgroupTree(dir)) {
    try {
      for (const p of readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n')) if (p.trim()) pids.add(Number(p));
    } catch {
      // gone meanwhile
    }
  }
  return [...pids];
}

/**
 * The container's cgroup directory, by container id (with or without the `process://` scheme): in the given v1
 * hierarchy (e.g. 'memory') when the machine has it, else in whichever hierarchy holds it (cgroup v2: the one tree).
 */
export function containerCgroupDir(uid: string, containerId: string, hierarchy = 'memory', cgroupRoot = 'skiff-kubepods'): string | undefined {
  const id = containerId.replace(/^[a-z]+:\/\//, '');
  const dirs = podCgroupDirs(uid, cgroupRoot)
    .map((d) => join(d, id))
    .filter((d) => existsSync(d));
  return dirs.find((d) => d.includes(`/${hierarchy}/`)) ?? dirs[0];
}

/** The network namespaces (`net:[inode]`) the pod's processes are in, other than the host's. */
export function podNetnsIds(uid: string, cgroupRoot = 'skiff-kubepods'): Set<string> {
  const host = readlinkSync('/proc/self/ns/net');
  const ids = new Set<string>();
  for (const dir of podCgroupDirs(uid, cgroupRoot)) {
    for (const pid of pidsInCgroupTree(dir)) {
      try {
        const ns = readlinkSync(`/proc/${pid}/ns/net`);
        if (ns !== host) ids.add(ns);
      } catch {
        // exited
      }
    }
  }
  return ids;
}

function procPids(): number[] {
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number);
}

function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '?';
  }
}

/**
 * What is left of these pods on the host: processes in their cgroups, the cgroups, mounts naming them, and processes
 * (or bind mounts) in the given network namespaces. Empty when nothing is.
 */
export function podLeftovers(uids: Iterable<string>, netns: Iterable<string> = [], cgroupRoot = 'skiff-kubepods'): string[] {
  const found: string[] = [];
  const uidList = [...uids];
  const nsSet = new Set(netns);
  for (const pid of procPids()) {
    let cg = '';
    try {
      cg = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
    } catch {
      continue;
    }
    for (const uid of uidList) if (cg.includes(`/pod${uid}`)) found.push(`process ${pid} (${comm(pid)}) in the cgroup of pod ${uid}`);
    if (nsSet.size > 0) {
      try {
        const ns = readlinkSync(`/proc/${pid}/ns/net`);
        if (nsSet.has(ns)) found.push(`process ${pid} (${comm(pid)}) in the pod network namespace ${ns}`);
      } catch {
        // exited
      }
    }
  }
  for (const uid of uidList) for (const dir of podCgroupDirs(uid, cgroupRoot)) found.push(`cgroup ${dir}`);
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
  for (const line of mounts) {
    for (const uid of uidList) if (line.includes(uid)) found.push(`mount ${line.split(' ')[4]} (pod ${uid})`);
    // a bind-mounted network namespace shows up as an nsfs mount whose root is net:[inode]
    for (const ns of nsSet) if (line.includes(ns)) found.push(`mount of the network namespace ${ns}: ${line.split(' ')[4]}`);
  }
  return found;
}

/** Mount points at or beneath one of the paths, deepest first. */
function mountsUnder(paths: string[]): string[] {
  const points = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p): p is string => !!p)
    .map((p) => p.replace(/\\040/g, ' '))
    .filter((p) => paths.some((root) => p === root || p.startsWith(`${root}/`)));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

/** Pod uids the agent's own records under the data dir name (volumes dir, process runtime sandboxes). */
function recordedPodUids(dataDir: string): string[] {
  const uids: string[] = [];
  try {
    for (const n of readdirSync(join(dataDir, 'agent', 'pods'))) if (UID_RE.test(n)) uids.push(n);
  } catch {
    // none
  }
  const sandboxes = join(dataDir, 'agent', 'process', 'sandboxes');
  try {
    for (const f of readdirSync(sandboxes)) {
      try {
        const uid = JSON.parse(readFileSync(join(sandboxes, f), 'utf8'))?.config?.metadata?.uid;
        if (typeof uid === 'string') uids.push(uid);
      } catch {
        // half-written record
      }
    }
  } catch {
    // not the process runtime
  }
  return uids;
}

async function withTimeout<T>(what: string, p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Removes everything a node agent with this data dir left on the host. Best effort and idempotent: each step runs even
 * when an earlier one failed; returns what it did and what failed (for the test's log), never throws.
 * Call it after the server process is gone (its agent would otherwise restart what this kills).
 */
export async function hardCleanAgent(o: AgentCleanupOptions): Promise<string[]> {
  const report: string[] = [];
  const cgroupRoot = o.cgroupRoot ?? 'skiff-kubepods';
  const uids = new Set([...(o.podUids ?? []), ...recordedPodUids(o.dataDir)]);
  const step = async (what: string, fn: () => Promise<void> | void) => {
    try {
      await fn();
    } catch (err) {
      report.push(`${what} failed: ${(err as Error).message}`);
    }
  };

  // 1. The process runtime's supervisor kills every container and sandbox it knows, then exits.
  const processState = join(o.dataDir, 'agent', 'process');
  if (existsSync(join(processState, 'shim.pid')) || existsSync(join(processState, 'sandboxes'))) {
    await step('stopping the process runtime supervisor', async () => {
      const { ProcessRuntime } = await import('../../src/agent/runtime/process/process-runtime.js');
      const runtime = new ProcessRuntime({ stateDir: processState, cgroupRoot });
      try {
        await withTimeout('shutdownSupervisor', runtime.shutdownSupervisor({ killAll: true }), 20_000);
      } finally {
        await runtime.close();
      }
      const pid = Number(readFileSync(join(processState, 'shim.pid'), 'utf8').trim() || 0);
      if (pid > 0) {
        const deadline = Date.now() + 5000;
        while (Date.now() < deadline && existsSync(`/proc/${pid}`) && comm(pid) === 'node') await new Promise((r) => setTimeout(r, 50));
        if (existsSync(`/proc/${pid}`) && comm(pid) === 'node' && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(processState)) {
          process.kill(pid, 'SIGKILL');
          report.push(`killed the supervisor ${pid}`);
        }
      }
    });
  }

  // 1b. Any supervisor of this state dir still running (one that shim.pid no longer names, e.g. after a restarted agent
  //     started another): found by its command line.
  await step('looking for stray supervisors', async () => {
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      let cmdline: string;
      try {
        cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8');
      } catch {
        continue;
      }
      if (!cmdline.includes('shim-main.js') || !cmdline.split('\0').includes(processState)) continue;
      try {
        process.kill(Number(name), 'SIGKILL');
        report.push(`killed a stray supervisor ${name}`);
      } catch {
        // exited
      }
    }
  });

  // 2. Whatever still runs in the pods' cgroups (containers of another runtime, strays), then the cgroups, deepest first.
  for (const uid of uids) {
    await step(`cleaning the cgroups of pod ${uid}`, async () => {
      const deadline = Date.now() + 5000;
      for (;;) {
        const pids = podCgroupDirs(uid, cgroupRoot).flatMap(pidsInCgroupTree);
        if (pids.length === 0) break;
        for (const pid of pids) {
          try {
            process.kill(pid, 'SIGKILL');
            report.push(`killed ${pid} (${comm(pid)}) of pod ${uid}`);
          } catch {
            // exited
          }
        }
        if (Date.now() > deadline) throw new Error(`processes ${pids.join(', ')} survive SIGKILL`);
        await new Promise((r) => setTimeout(r, 50));
      }
      for (const dir of podCgroupDirs(uid, cgroupRoot)) {
        for (const d of cgroupTree(dir)) {
          try {
            rmdirSync(d);
            report.push(`removed cgroup ${d}`);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
          }
        }
      }
    });
  }

  // 3. Pod networking: DEL of every ADD the agent cached (veths, leases, masquerade rules), then its bridge.
  const confDir = join(o.dataDir, 'agent', 'etc', 'cni', 'net.d');
  const conflist = join(confDir, '10-skiff.conflist');
  if (existsSync(conflist)) {
    await step('CNI teardown', async () => {
      const { CniNetwork } = await import('../../src/agent/network/cni-network.js');
      const network = new CniNetwork({ stateDir: join(o.dataDir, 'agent', 'cni'), confDir });
      const removed = await withTimeout('CNI garbage collection', network.garbageCollect(new Set()), 30_000);
      if (removed.length > 0) report.push(`CNI DEL for sandboxes ${removed.join(', ')}`);
    });
    await step('deleting the bridge', async () => {
      const list = JSON.parse(readFileSync(conflist, 'utf8')) as { plugins?: Array<{ type?: string; bridge?: string }> };
      const bridge = list.plugins?.find((p) => p.type === 'bridge')?.bridge;
      if (!bridge || !/^[\w.-]+$/.test(bridge)) return;
      const { removePodMasquerade } = await import('../../src/agent/network/pod-masquerade.js');
      await removePodMasquerade(bridge);
      // The service proxy's chains are named after the bridge (src/proxy); a killed agent leaves them.
      const [{ chainPrefixFor }, { listChains, removeIptablesRules }] = await Promise.all([import('../../src/proxy/iptables/render-iptables.js'), import('../../src/proxy/iptables/iptables-proxier.js')]);
      const prefix = chainPrefixFor(bridge);
      if ((await listChains('nat', prefix)).size + (await listChains('filter', prefix)).size > 0) {
        await removeIptablesRules(prefix);
        report.push(`removed service proxy chains ${prefix}-*`);
      }
      // The network policy chains too (src/agent/network/policy): SKIFF-POD-FW-<tag>*, SKIFF-NWPLCY-<tag>-*, and their jumps.
      const [{ policyChainTag }, { listPolicyChains, removeNetworkPolicyRules }] = await Promise.all([import('../../src/agent/network/policy/render-policy-iptables.js'), import('../../src/agent/network/policy/network-policy-controller.js')]);
      const tag = policyChainTag(bridge);
      if ((await listPolicyChains(tag)).size > 0) {
        await removeNetworkPolicyRules(tag);
        report.push(`removed network policy chains SKIFF-POD-FW-${tag}*`);
      }
      const { removeNftTable } = await import('../../src/proxy/nftables/nftables-proxier.js');
      const { stdout: tables } = await run('nft', ['list', 'tables']).catch(() => ({ stdout: '' }));
      if (tables.includes(`table ip skiff-${prefix.toLowerCase()}\n`)) {
        await removeNftTable(`skiff-${prefix.toLowerCase()}`);
        report.push(`removed service proxy table skiff-${prefix.toLowerCase()}`);
      }
      try {
        await run('ip', ['link', 'delete', bridge, 'type', 'bridge']);
        report.push(`deleted bridge ${bridge}`);
      } catch (err) {
        if (!/Cannot find device/.test(String((err as { stderr?: string }).stderr ?? err))) throw err;
      }
    });
  }

  // 4. Mounts beneath the data dir (emptyDir tmpfs, volumes) and the extra paths, deepest first.
  const roots = [o.dataDir, ...(o.extraPaths ?? [])];
  await step('unmounting', async () => {
    for (const point of mountsUnder(roots)) {
      try {
        await run('umount', ['--lazy', point]);
        report.push(`unmounted ${point}`);
      } catch (err) {
        report.push(`umount ${point} failed: ${String((err as { stderr?: string }).stderr ?? err).trim()}`);
      }
    }
  });

  // 5. The pods' log directories (<logRoot>/<ns>_<name>_<uid>).
  const logRoot = o.logRoot ?? '/var/log/pods';
  await step('removing pod logs', () => {
    let entries: string[] = [];
    try {
      entries = readdirSync(logRoot);
    } catch {
      return;
    }
    for (const e of entries) {
      if ([...uids].some((uid) => e.endsWith(`_${uid}`))) {
        rmSync(join(logRoot, e), { recursive: true, force: true });
        report.push(`removed ${join(logRoot, e)}`);
      }
    }
  });

  // 6. The files.
  for (const root of roots) await step(`removing ${root}`, () => rmSync(root, { recursive: true, force: true }));
  return report;
}
