/**
 * Pure builders of the argv the process runtime spawns, so the namespace and cgroup plumbing is readable in one place
 * and testable without root.
 *
 * As root a pod is one long-lived holder process made by util-linux `unshare` (its own pid, mount, uts, ipc and, for pod
 * networking, net namespaces); containers and execs join it with `nsenter -t <holder>`, a container then gets a mount
 * and (unless the pod shares one) a pid namespace of its own from `unshare`, and a tiny /bin/sh init writes itself into
 * the container's cgroup in every hierarchy, mounts the volumes, makes the root file system read-only if asked and
 * `exec`s the workload through `setpriv` (user, capabilities, no_new_privs), so limits apply from the first instruction
 * (a process enters a v1 hierarchy only by writing cgroup.procs, one hierarchy at a time). Without root there is no
 * holder and the workload is spawned directly.
 */
import type { ContainerSecurity, Mount } from '../types.js';
import type { SandboxRecord } from './shim-protocol.js';

export interface SpawnPlan {
  file: string;
  args: string[];
}

export const UNSHARE = '/usr/bin/unshare';
export const NSENTER = '/usr/bin/nsenter';
export const SETPRIV = '/usr/bin/setpriv';
export const SCRIPT = '/usr/bin/script';
export const SH = '/bin/sh';

/**
 * The pod's namespace holder. It sets the pod's hostname in its own uts namespace (writing the proc file spares an
 * exec), bind-mounts the pod's resolv.conf over /etc/resolv.conf in the pod's mount namespace when there is one (as
 * containerd mounts its sandbox's resolv.conf into every container; the host keeps its own), says `ready` so the
 * supervisor knows the namespaces exist, and then waits in a loop that also reaps orphans reparented to it (dash's
 * `wait` collects any child): kubelet's pause container, as a shell.
 */
export function sandboxPlan(namespaces: SandboxRecord['namespaces'], hostname: string, resolvConf?: string): SpawnPlan {
  const args: string[] = [];
  if (namespaces.pid) args.push('--pid', '--fork', '--mount-proc');
  // slave: mounts the host makes later (volumes) still show up in the pod; mounts made in the pod stay there.
  if (namespaces.mount) args.push('--mount', '--propagation', 'slave');
  if (namespaces.uts) args.push('--uts');
  if (namespaces.ipc) args.push('--ipc');
  if (namespaces.net) args.push('--net');
  const setHostname = namespaces.uts ? 'printf %s "$1" > /proc/sys/kernel/hostname || exit 1; ' : '';
  const dns = resolvConf !== undefined && namespaces.mount ? 'mount --bind "$2" /etc/resolv.conf || exit 1; ' : '';
  const script = `${setHostname}${dns}echo ready; exec >/dev/null 2>&1 </dev/null; trap 'exit 0' TERM; while :; do sleep 3600 & wait $!; done`;
  return { file: UNSHARE, args: [...args, '--', SH, '-c', script, 'skiff-pause', hostname, ...(dns ? [resolvConf!] : [])] };
}

/**
 * How a container's processes see pids: a pid namespace of its own, the pod's (shareProcessNamespace), the host's
 * (hostPID), or another container's (an ephemeral container's target: `kubectl debug --target`, CRI TARGET).
 */
export type PidNamespaceMode = 'container' | 'pod' | 'host' | 'target';

/** nsenter arguments that enter the pod's namespaces, or the container's own mount and pid namespaces where given. */
function nsenterArgs(initPid: number, namespaces: SandboxRecord['namespaces'], pid: PidNamespaceMode, mountNsPath?: string, pidNsPath?: string): string[] {
  const args = ['-t', String(initPid)];
  if (mountNsPath !== undefined) args.push(`--mount=${mountNsPath}`);
  else if (namespaces.mount) args.push('-m');
  if (namespaces.uts) args.push('-u');
  if (namespaces.ipc) args.push('-i');
  if (namespaces.net) args.push('-n');
  // Entering a pid namespace makes nsenter fork: the workload is its child, as it is unshare's with a new one.
  if (pidNsPath !== undefined) args.push(`--pid=${pidNsPath}`);
  else if (pid === 'pod' && namespaces.pid) args.push('-p');
  return args;
}

/** File systems a read-only root file system leaves as they are: /proc, /sys, /dev and the cgroup trees are not the image's. */
const KEEP_WRITABLE_TYPES = 'noproc,nosysfs,nodevtmpfs,nodevpts,nomqueue,nocgroup,nocgroup2,noautofs,nobinfmt_misc';

/**
 * The container's init, run by /bin/sh with positional arguments (counts first, so no value is ever spliced into the
 * script):
 *
 *   2|3                           the fd that is the container's stderr (3: fd 2 was the chain's, see UNSHARE_SIGKILL_MESSAGE)
 *   <n> <cgroup.procs file>...    joins the container's cgroup in every hierarchy (a v1 process enters one at a time)
 *   <k> (<source> <target> ro|rw)...  bind-mounts the volumes, creating missing mount points (a directory, or an empty
 *                                 file for a file source; the supervisor has made those on the host already, see
 *                                 mount-points.ts, so this is for targets inside another volume and costs no exec
 *                                 otherwise); only with a mount namespace of the container's own
 *   <r> <rw target>...            r = -1: the root file system stays as it is; r >= 0 (readOnlyRootFilesystem): every
 *                                 mount but /proc, /sys, /dev and cgroups is remounted read-only in one `mount --all`
 *                                 (runc remounts the rootfs read-only), then the r read-write volumes and /dev/shm are
 *                                 made writable again (a bind mount takes the read-only flag of the mount it copies)
 *   <workdir> <argv>...           cd, then exec
 *
 * Exit code 125 when a step fails, as runc reports its own failures.
 */
const CONTAINER_INIT =
  'if [ "$1" = 3 ]; then exec 2>&3 3>&-; fi; shift; ' +
  'n=$1; shift; while [ "$n" -gt 0 ]; do echo 0 > "$1" || exit 125; shift; n=$((n-1)); done; ' +
  'k=$1; shift; while [ "$k" -gt 0 ]; do ' +
  'if [ -d "$1" ]; then [ -d "$2" ] || mkdir -p "$2" || exit 125; elif [ ! -e "$2" ]; then mkdir -p "${2%/*}/" && : > "$2" || exit 125; fi; ' +
  'if [ "$3" = ro ]; then mount --bind -o ro "$1" "$2" || exit 125; else mount --bind "$1" "$2" || exit 125; fi; ' +
  'shift 3; k=$((k-1)); done; ' +
  'r=$1; shift; if [ "$r" -ge 0 ]; then ' +
  `mount --all -o remount,bind,ro -t ${KEEP_WRITABLE_TYPES}; case $? in 0|64) ;; *) exit 125;; esac; ` +
  'while [ "$r" -gt 0 ]; do mount -o remount,bind,rw "$1" || exit 125; shift; r=$((r-1)); done; ' +
  'mount -o remount,bind,rw /dev/shm 2>/dev/null; fi; ' +
  'cd "$1" || exit 125; shift; exec "$@"';

export interface WorkloadSpec {
  initPid: number;
  namespaces: SandboxRecord['namespaces'];
  cgroupProcsFiles: string[];
  workingDir: string;
  argv: string[];
  /** User, groups and no_new_privs (setpriv). */
  security?: ContainerSecurity;
  /**
   * The bounding set (and for root the effective and permitted sets), names without CAP_ (capabilities.ts);
   * undefined leaves the caller's set (privileged containers, and no root to drop from).
   */
  capabilities?: string[];
  /** Run under util-linux `script` for a pseudo-terminal (stdout and stderr become one stream). */
  tty?: boolean;
  /** Volumes to bind-mount in a mount namespace of the container's own (needs the pod's namespaces). */
  mounts?: Mount[];
  /**
   * Container start: the pid namespace it gets ('container': a new one, its workload is pid 1; 'target': pidNsPath's,
   * with a /proc of its own). Default: the pod's if it has one.
   */
  pidNamespace?: PidNamespaceMode;
  /** readOnlyRootFilesystem: everything but the volumes, /dev, /proc and /sys is read-only (container start). */
  readonlyRootfs?: boolean;
  /** Exec: enter this mount namespace instead of the pod's (the container has one of its own). */
  mountNsPath?: string;
  /** Enter this pid namespace: an exec the container's own, a start with pidNamespace 'target' the target's. */
  pidNsPath?: string;
}

/** The spawn for a container's workload or an exec beside it. Without a holder (not root), the argv itself. */
export function workloadPlan(spec: WorkloadSpec): SpawnPlan {
  let argv = spec.argv;
  if (spec.tty) argv = [SCRIPT, '-q', '-e', '-c', argv.map(shellQuote).join(' '), '/dev/null'];
  argv = [...securityPrefix(spec.security, spec.initPid > 0 ? spec.capabilities : undefined), ...argv];
  if (spec.initPid <= 0) return { file: argv[0]!, args: argv.slice(1) };
  const pid: PidNamespaceMode = spec.pidNamespace ?? (spec.namespaces.pid ? 'pod' : 'host');
  const mounts = spec.namespaces.mount ? (spec.mounts ?? []) : [];
  const readonly = spec.namespaces.mount && spec.readonlyRootfs === true;
  const ownPid = pid === 'container' && spec.pidNsPath === undefined;
  const init = [
    String(spec.cgroupProcsFiles.length),
    ...spec.cgroupProcsFiles,
    String(mounts.length),
    ...mounts.flatMap((m) => [m.hostPath, m.containerPath, m.readonly ? 'ro' : 'rw']),
    ...(readonly ? rwTargets(mounts) : ['-1']),
    spec.workingDir,
    ...argv,
  ];
  // With a pid namespace of its own, the workload's stderr is fd 3 and fd 2 carries the chain's own messages.
  const shell = [SH, '-c', CONTAINER_INIT, 'skiff-init', ownPid ? '3' : '2', ...init];
  // A /proc of its own that shows the pid namespace it is in (its own, or the target's that nsenter entered).
  const ownProc = spec.mountNsPath === undefined && (ownPid || pid === 'target');
  const ownMounts = spec.mountNsPath === undefined && (mounts.length > 0 || readonly || ownProc);
  // A mount namespace of the container's own (slave: host mounts made later still show up); with a pid namespace of its
  // own unshare forks, and its child is pid 1 and runs the init.
  const unshare = ownMounts ? [UNSHARE, '--mount', '--propagation', 'slave', ...(ownPid ? ['--pid', '--fork'] : []), ...(ownProc ? ['--mount-proc'] : []), '--'] : [];
  return {
    file: NSENTER,
    args: [...nsenterArgs(spec.initPid, spec.namespaces, ownPid ? 'host' : pid, spec.mountNsPath, spec.pidNsPath), '--', ...unshare, ...shell],
  };
}

/**
 * util-linux 2.38's `unshare --fork` exits 1 with this message when its child was killed by SIGKILL, instead of dying by
 * SIGKILL itself (it fails to reset SIGKILL's disposition; fixed in 2.40, util-linux PR #2617). A container with a pid
 * namespace of its own gets the chain's stderr on a pipe of its own (stderrFd 3), so the supervisor can tell this from
 * an exit 1 of the workload and report 137, as runc does.
 */
export const UNSHARE_SIGKILL_MESSAGE = 'sigprocmask unblock failed';

function rwTargets(mounts: Mount[]): string[] {
  const targets = mounts.filter((m) => !m.readonly).map((m) => m.containerPath);
  return [String(targets.length), ...targets];
}

/**
 * setpriv for runAsUser / runAsGroup / supplementalGroups, the capability sets and no_new_privs; nothing when there is
 * nothing to change. setpriv drops the bounding set before it changes the user, and clears the inheritable set so that
 * root's permitted and effective sets after execve are exactly the bounding set (runc: all four equal, ambient empty).
 */
function securityPrefix(security: ContainerSecurity | undefined, capabilities: string[] | undefined): string[] {
  const args: string[] = [];
  if (security?.runAsUser !== undefined) args.push(`--reuid=${security.runAsUser}`);
  const gid = security?.runAsGroup ?? security?.runAsUser;
  if (gid !== undefined) args.push(`--regid=${gid}`);
  if (security?.supplementalGroups !== undefined && security.supplementalGroups.length > 0) args.push(`--groups=${security.supplementalGroups.join(',')}`);
  else if (gid !== undefined) args.push('--clear-groups');
  if (capabilities !== undefined) args.push(`--bounding-set=-all${capabilities.map((c) => `,+${c.toLowerCase()}`).join('')}`, '--inh-caps=-all');
  if (security?.noNewPrivileges) args.push('--no-new-privs');
  return args.length === 0 ? [] : [SETPRIV, ...args, '--'];
}

export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_./=:,@%+-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** A relay run inside the pod's network namespace for port-forward: stdin → 127.0.0.1:port → stdout. */
export function portForwardRelay(port: number): string {
  return `const s=require('net').connect(${port},'127.0.0.1');process.stdin.pipe(s);s.pipe(process.stdout);s.on('error',(e)=>{process.stderr.write(String(e.message));process.exit(1)});`;
}

export function portForwardPlan(initPid: number, nodePath: string, port: number): SpawnPlan {
  return { file: NSENTER, args: ['-t', String(initPid), '-n', '--', nodePath, '-e', portForwardRelay(port)] };
}
