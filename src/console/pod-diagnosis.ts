/**
 * What the console tells about a pod, computed from the pod, its events and the nodes: kubectl's STATUS column, why
 * it is Pending (the scheduler's FailedScheduling message split into its per-reason node counts, and a per-node check
 * of the usual filters), and why it restarts (last termination, exit code meaning, OOM, probe failures). Pure
 * functions, shared by the browser bundle (console/) and its unit tests.
 */
import type { Event, Node, Pod, Toleration } from 'kubernetes-types/core/v1.js';

/** kubectl get pods' STATUS column (printers.go printPod): the reason of the most telling container state. */
export function podDisplayStatus(pod: Pod): string {
  let reason = pod.status?.reason ?? pod.status?.phase ?? 'Unknown';
  const init = pod.status?.initContainerStatuses ?? [];
  for (let i = 0; i < init.length; i++) {
    const s = init[i]!;
    if (s.state?.terminated?.exitCode === 0) continue;
    if (s.state?.terminated) return s.state.terminated.reason ? `Init:${s.state.terminated.reason}` : `Init:ExitCode:${s.state.terminated.exitCode}`;
    if (s.state?.waiting?.reason && s.state.waiting.reason !== 'PodInitializing') return `Init:${s.state.waiting.reason}`;
    return `Init:${i}/${pod.spec?.initContainers?.length ?? init.length}`;
  }
  let running = false;
  for (const s of [...(pod.status?.containerStatuses ?? [])].reverse()) {
    if (s.state?.waiting?.reason) reason = s.state.waiting.reason;
    else if (s.state?.terminated?.reason) reason = s.state.terminated.reason;
    else if (s.state?.terminated) reason = s.state.terminated.signal ? `Signal:${s.state.terminated.signal}` : `ExitCode:${s.state.terminated.exitCode}`;
    else if (s.ready && s.state?.running) running = true;
  }
  if (reason === 'Completed' && running) reason = 'Running';
  if (pod.metadata?.deletionTimestamp) reason = pod.status?.reason === 'NodeLost' ? 'Unknown' : 'Terminating';
  return reason;
}

export function podReadyCount(pod: Pod): [number, number] {
  const statuses = pod.status?.containerStatuses ?? [];
  return [statuses.filter((s) => s.ready).length, pod.spec?.containers?.length ?? statuses.length];
}

export function podRestarts(pod: Pod): number {
  return (pod.status?.containerStatuses ?? []).reduce((n, s) => n + (s.restartCount ?? 0), 0);
}

export interface SchedulingReason {
  count: number;
  reason: string;
}

export interface PendingDiagnosis {
  /** The scheduler's message, e.g. `0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint ...`. */
  message: string;
  /** How many nodes the scheduler considered (the N of `0/N`), when the message says. */
  nodes?: number;
  reasons: SchedulingReason[];
  /** Preemption's part of the message (`preemption: ...`), when present. */
  preemption?: string;
}

/**
 * Why a pod is Pending: the PodScheduled=False condition's message (or the newest FailedScheduling event's), split as
 * upstream's FitError.Error() builds it: "0/N nodes are available: <count> <reason>, <count> <reason>. preemption: ...".
 * Undefined when the pod is scheduled or no reason is known yet.
 */
export function diagnosePending(pod: Pod, events: readonly Event[] = []): PendingDiagnosis | undefined {
  if (pod.spec?.nodeName) return undefined;
  const cond = pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
  const failed = events
    .filter((e) => e.reason === 'FailedScheduling' && e.involvedObject?.name === pod.metadata?.name)
    .sort((a, b) => eventTime(b) - eventTime(a))[0];
  const message = cond?.message ?? failed?.message;
  if (!message) return undefined;
  return { message, ...parseFitError(message) };
}

export function parseFitError(message: string): { nodes?: number; reasons: SchedulingReason[]; preemption?: string } {
  const m = /^0\/(\d+) nodes are available(?::\s*(.*))?$/s.exec(message.trim());
  if (!m) return { reasons: [] };
  let rest = m[2] ?? '';
  let preemption: string | undefined;
  const p = rest.indexOf(' preemption: ');
  if (p >= 0) {
    preemption = rest.slice(p + ' preemption: '.length).trim();
    rest = rest.slice(0, p);
  }
  rest = rest.trim().replace(/\.$/, '');
  const reasons: SchedulingReason[] = [];
  // Reasons are joined by ", "; a reason may itself contain commas, so split only where a count starts.
  for (const part of rest.split(/, (?=\d+ )/)) {
    const r = /^(\d+) (.*)$/s.exec(part.trim());
    if (r) reasons.push({ count: Number(r[1]), reason: r[2]! });
  }
  return { nodes: Number(m[1]), reasons, ...(preemption ? { preemption } : {}) };
}

export interface NodeFit {
  node: string;
  fits: boolean;
  /** Each filter that rejects the node, in kube-scheduler's words where it has them. */
  reasons: string[];
}

/**
 * The usual filters checked per node in the browser (NodeUnschedulable, NodeName, NodeSelector/required node
 * affinity on matchLabels-style terms, TaintToleration, NodeResourcesFit on cpu/memory/pods), so the page can say
 * which node fails which filter. An approximation of the scheduler's view, from the same objects it reads.
 */
export function checkNodeFits(pod: Pod, nodes: readonly Node[], podsOnNodes: readonly Pod[]): NodeFit[] {
  const want = podRequests(pod);
  return nodes.map((node) => {
    const reasons: string[] = [];
    const name = node.metadata?.name ?? '';
    if (node.spec?.unschedulable && !tolerates(pod.spec?.tolerations, { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' })) reasons.push('node(s) were unschedulable');
    const labels = node.metadata?.labels ?? {};
    for (const [k, v] of Object.entries(pod.spec?.nodeSelector ?? {})) {
      if (labels[k] !== v) {
        reasons.push(`node(s) didn't match Pod's node affinity/selector (${k}=${v})`);
        break;
      }
    }
    for (const t of node.spec?.taints ?? []) {
      if ((t.effect === 'NoSchedule' || t.effect === 'NoExecute') && !tolerates(pod.spec?.tolerations, t)) {
        reasons.push(`node(s) had untolerated taint {${t.key}: ${t.value ?? ''}}`);
      }
    }
    const alloc = node.status?.allocatable ?? {};
    const used = podsOnNodes.filter((p) => p.spec?.nodeName === name && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed').map(podRequests);
    const usedCpu = used.reduce((n, r) => n + r.cpu, 0);
    const usedMem = used.reduce((n, r) => n + r.memory, 0);
    if (alloc.cpu !== undefined && want.cpu > 0 && usedCpu + want.cpu > parseQuantity(alloc.cpu)) reasons.push('Insufficient cpu');
    if (alloc.memory !== undefined && want.memory > 0 && usedMem + want.memory > parseQuantity(alloc.memory)) reasons.push('Insufficient memory');
    if (alloc.pods !== undefined && used.length + 1 > parseQuantity(alloc.pods)) reasons.push('Too many pods');
    return { node: name, fits: reasons.length === 0, reasons };
  });
}

function tolerates(tolerations: readonly Toleration[] | undefined, taint: { key: string; effect: string; value?: string }): boolean {
  return (tolerations ?? []).some((t) => {
    if (t.effect && t.effect !== taint.effect) return false;
    if (t.operator === 'Exists') return !t.key || t.key === taint.key;
    return t.key === taint.key && (t.value ?? '') === (taint.value ?? '');
  });
}

/** cpu in cores, memory in bytes: the larger of the containers' sum and any init container, as the scheduler counts. */
export function podRequests(pod: Pod): { cpu: number; memory: number } {
  const sum = { cpu: 0, memory: 0 };
  for (const c of pod.spec?.containers ?? []) {
    sum.cpu += parseQuantity(c.resources?.requests?.cpu ?? '0');
    sum.memory += parseQuantity(c.resources?.requests?.memory ?? '0');
  }
  for (const c of pod.spec?.initContainers ?? []) {
    sum.cpu = Math.max(sum.cpu, parseQuantity(c.resources?.requests?.cpu ?? '0'));
    sum.memory = Math.max(sum.memory, parseQuantity(c.resources?.requests?.memory ?? '0'));
  }
  return sum;
}

const SUFFIXES: Record<string, number> = {
  n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

/** A Kubernetes quantity as a number (`250m` = 0.25, `64Mi` = 67108864); NaN when malformed. */
export function parseQuantity(q: string | number): number {
  if (typeof q === 'number') return q;
  const m = /^([+-]?[0-9.]+(?:[eE][+-]?\d+)?)([a-zA-Z]*)$/.exec(q.trim());
  if (!m) return NaN;
  const mult = SUFFIXES[m[2]!];
  return mult === undefined ? NaN : Number(m[1]) * mult;
}

export interface RestartDiagnosis {
  container: string;
  restarts: number;
  /** The current waiting reason (CrashLoopBackOff, ...) and its message. */
  waiting?: string;
  lastExitCode?: number;
  lastReason?: string;
  lastMessage?: string;
  lastFinishedAt?: string;
  /** What the exit code or reason usually means. */
  meaning?: string;
  /** Probe failures and kills from events (Unhealthy, Killing, BackOff), newest first. */
  evidence: string[];
}

/** Why the pod's containers restart (one entry per container that restarted or is crash-looping). */
export function diagnoseRestarts(pod: Pod, events: readonly Event[] = []): RestartDiagnosis[] {
  const out: RestartDiagnosis[] = [];
  const podEvents = events.filter((e) => e.involvedObject?.name === pod.metadata?.name && e.involvedObject?.kind === 'Pod').sort((a, b) => eventTime(b) - eventTime(a));
  for (const s of pod.status?.containerStatuses ?? []) {
    const waiting = s.state?.waiting;
    if ((s.restartCount ?? 0) === 0 && waiting?.reason !== 'CrashLoopBackOff' && !s.state?.terminated) continue;
    const last = s.lastState?.terminated ?? s.state?.terminated;
    const fieldPath = `spec.containers{${s.name}}`;
    const evidence = podEvents
      .filter((e) => ['Unhealthy', 'Killing', 'BackOff', 'Failed', 'OOMKilling'].includes(e.reason ?? '') && (!e.involvedObject?.fieldPath || e.involvedObject.fieldPath === fieldPath))
      .slice(0, 5)
      .map((e) => `${e.reason}: ${e.message ?? ''}${(e.count ?? 1) > 1 ? ` (x${e.count})` : ''}`);
    const meaning = explainTermination(last?.exitCode, last?.reason, evidence);
    out.push({
      container: s.name,
      restarts: s.restartCount ?? 0,
      ...(waiting?.reason ? { waiting: waiting.message ? `${waiting.reason}: ${waiting.message}` : waiting.reason } : {}),
      ...(last ? { lastExitCode: last.exitCode, ...(last.reason ? { lastReason: last.reason } : {}), ...(last.message ? { lastMessage: last.message } : {}), ...(last.finishedAt ? { lastFinishedAt: last.finishedAt } : {}) } : {}),
      ...(meaning ? { meaning } : {}),
      evidence,
    });
  }
  return out;
}

/** The usual meaning of a container's end (shell and signal conventions: 128+n is signal n). */
export function explainTermination(exitCode: number | undefined, reason: string | undefined, evidence: readonly string[] = []): string | undefined {
  if (reason === 'OOMKilled') return 'killed by the kernel for exceeding its memory limit (OOMKilled): raise resources.limits.memory or use less memory';
  const probe = evidence.find((e) => e.startsWith('Unhealthy: Liveness probe failed') || e.startsWith('Killing:') && e.includes('liveness probe'));
  if (probe) return `restarted by the kubelet because its liveness probe failed (${probe})`;
  if (exitCode === undefined) return undefined;
  if (exitCode === 0) return 'exited successfully (0): a container of a Deployment is restarted even so, since restartPolicy is Always';
  if (exitCode === 137) return 'killed by SIGKILL (137 = 128+9): out of memory, a failed liveness probe, or a stop that outlived its grace period';
  if (exitCode === 143) return 'stopped by SIGTERM (143 = 128+15)';
  if (exitCode === 139) return 'segmentation fault (139 = 128+11, SIGSEGV)';
  if (exitCode === 126) return 'the command was found but could not be run (126: permission denied or not executable)';
  if (exitCode === 127) return 'the command was not found (127)';
  if (exitCode > 128 && exitCode < 160) return `killed by signal ${exitCode - 128} (${exitCode} = 128+${exitCode - 128})`;
  return `the program exited with code ${exitCode} (an error of the application: see its logs, previous instance)`;
}

export function eventTime(e: Event): number {
  const t = e.lastTimestamp ?? (e as { eventTime?: string }).eventTime ?? e.firstTimestamp ?? e.metadata?.creationTimestamp;
  return t ? Date.parse(t) : 0;
}
