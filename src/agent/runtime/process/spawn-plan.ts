/**
 * Pure builders of the argv the process runtime spawns, so the namespace and cgroup plumbing is readable in one place
 * and testable without root.
 *
 * As root a pod is one long-lived holder process made by util-linux `unshare` (its own pid, mount, uts, ipc and, for pod
 * networking, net namespaces); containers and execs join it with `nsenter -t <holder>`, then a tiny /bin/sh wrapper writes
 * itself into the container's cgroup in every hierarchy and `exec`s the workload, so limits apply from the first
 * instruction (a process enters a v1 hierarchy only by writing cgroup.procs, one hierarchy at a time). Without root
 * there is no holder and the workload is spawned directly.
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
 * exec), says `ready` so the supervisor knows the namespaces exist, and then waits in a loop that also reaps orphans
 * reparented to it (dash's `wait` collects any child): kubelet's pause container, as a shell.
 */
export function sandboxPlan(namespaces: SandboxRecord['namespaces'], hostname: string): SpawnPlan {
  const args: string[] = [];
  if (namespaces.pid) args.push('--pid', '--fork', '--mount-proc');
  // slave: mounts the host makes later (volumes) still show up in the pod; mounts made in the pod stay there.
  if (namespaces.mount) args.push('--mount', '--propagation', 'slave');
  if (namespaces.uts) args.push('--uts');
  if (namespaces.ipc) args.push('--ipc');
  if (namespaces.net) args.push('--net');
  const setHostname = namespaces.uts ? 'printf %s "$1" > /proc/sys/kernel/hostname || exit 1; ' : '';
  const script = `${setHostname}echo ready; exec >/dev/null 2>&1 </dev/null; trap 'exit 0' TERM; while :; do sleep 3600 & wait $!; done`;
  return { file: UNSHARE, args: [...args, '--', SH, '-c', script, 'skiff-pause', hostname] };
}

/** nsenter arguments that enter exactly the namespaces the pod has (the mount namespace may be a container's own). */
function nsenterArgs(initPid: number, namespaces: SandboxRecord['namespaces'], mountNsPath?: string): string[] {
  const args = ['-t', String(initPid)];
  if (mountNsPath !== undefined) args.push(`--mount=${mountNsPath}`);
  else if (namespaces.mount) args.push('-m');
  if (namespaces.uts) args.push('-u');
  if (namespaces.ipc) args.push('-i');
  if (namespaces.net) args.push('-n');
  if (namespaces.pid) args.push('-p');
  return args;
}

/**
 * Joins the cgroups named by the first $1 arguments (exit 125 if that fails, as runc reports its own failures), changes
 * to the working directory, and execs the rest.
 */
const JOIN_AND_EXEC = 'n=$1; shift; while [ "$n" -gt 0 ]; do echo 0 > "$1" || exit 125; shift; n=$((n-1)); done; cd "$1" || exit 125; shift; exec "$@"';

/**
 * Bind-mounts the volumes (triples source, target, ro|rw after the count), creating missing mount points (a directory,
 * or an empty file for a file source), then changes directory and execs the rest. Runs in a mount namespace of the
 * container's own (unshare --mount, slave propagation), so one container's mounts are not its siblings'.
 */
const MOUNT_AND_EXEC =
  'k=$1; shift; while [ "$k" -gt 0 ]; do ' +
  'if [ -d "$1" ]; then mkdir -p "$2" || exit 125; elif [ ! -e "$2" ]; then mkdir -p "${2%/*}/" && : > "$2" || exit 125; fi; ' +
  'mount --bind "$1" "$2" || exit 125; if [ "$3" = ro ]; then mount -o remount,bind,ro "$2" || exit 125; fi; ' +
  'shift 3; k=$((k-1)); done; cd "$1" || exit 125; shift; exec "$@"';

export interface WorkloadSpec {
  initPid: number;
  namespaces: SandboxRecord['namespaces'];
  cgroupProcsFiles: string[];
  workingDir: string;
  argv: string[];
  security?: ContainerSecurity;
  /** Run under util-linux `script` for a pseudo-terminal (stdout and stderr become one stream). */
  tty?: boolean;
  /** Volumes to bind-mount in a mount namespace of the container's own (needs the pod's namespaces). */
  mounts?: Mount[];
  /** Enter this mount namespace instead of the pod's (an exec in a container that has its own). */
  mountNsPath?: string;
}

/** The spawn for a container's workload or an exec beside it. Without a holder (not root), the argv itself. */
export function workloadPlan(spec: WorkloadSpec): SpawnPlan {
  let argv = spec.argv;
  if (spec.tty) argv = [SCRIPT, '-q', '-e', '-c', argv.map(shellQuote).join(' '), '/dev/null'];
  argv = [...securityPrefix(spec.security), ...argv];
  if (spec.initPid <= 0) return { file: argv[0]!, args: argv.slice(1) };
  let workingDir = spec.workingDir;
  const mounts = spec.mounts ?? [];
  if (mounts.length > 0 && spec.namespaces.mount) {
    const triples = mounts.flatMap((m) => [m.hostPath, m.containerPath, m.readonly ? 'ro' : 'rw']);
    argv = [UNSHARE, '--mount', '--propagation', 'slave', '--', SH, '-c', MOUNT_AND_EXEC, 'skiff-mount', String(mounts.length), ...triples, workingDir, ...argv];
    workingDir = '/';
  }
  return {
    file: NSENTER,
    args: [...nsenterArgs(spec.initPid, spec.namespaces, spec.mountNsPath), '--', SH, '-c', JOIN_AND_EXEC, 'skiff-init', String(spec.cgroupProcsFiles.length), ...spec.cgroupProcsFiles, workingDir, ...argv],
  };
}

/** setpriv for runAsUser / runAsGroup / supplementalGroups; nothing when the container runs as the caller. */
function securityPrefix(security: ContainerSecurity | undefined): string[] {
  if (security === undefined || (security.runAsUser === undefined && security.runAsGroup === undefined)) return [];
  const args = [SETPRIV];
  if (security.runAsUser !== undefined) args.push(`--reuid=${security.runAsUser}`);
  const gid = security.runAsGroup ?? security.runAsUser;
  if (gid !== undefined) args.push(`--regid=${gid}`);
  if (security.supplementalGroups !== undefined && security.supplementalGroups.length > 0) args.push(`--groups=${security.supplementalGroups.join(',')}`);
  else args.push('--clear-groups');
  if (security.noNewPrivileges) args.push('--no-new-privs');
  args.push('--');
  return args;
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
