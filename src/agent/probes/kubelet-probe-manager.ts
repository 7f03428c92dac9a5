/**
 * KubeletProbeManager: kubelet's prober manager and workers (pkg/kubelet/prober/prober_manager.go, worker.go,
 * prober.go) over an injected Clock, so every delay is testable without sleeping.
 *
 * One worker per container and probe type. A worker starts probing when its container starts (containerStarted):
 * readiness first at startedAt + initialDelaySeconds, liveness and startup on the first tick of the worker's own
 * ticker after that (worker.go: a container that just started is not probed in the same instant); a worker created
 * while the agent itself started less than a period ago has its ticker shifted by a random part of the period, so a
 * restarted agent does not probe every container at once. Then every periodSeconds
 * measured from the start of the previous run (a run longer than the period is followed at once by the next).
 * The startup probe gates the others: liveness and readiness do not run until it has succeeded, and it stops
 * once it has. Results need successThreshold (readiness only; 1 for the others) or failureThreshold runs in a row
 * to change. A liveness or startup result turning to failure calls onFailure once and puts the worker on hold
 * until the container starts again with a new id. A run that could not happen (kubelet: "probe errored") is
 * reported and then ignored: it counts neither way. Once the pod is being deleted, liveness and startup stop and
 * read success (kubelet's quiet shutdown); readiness keeps running.
 */
import type { Container, Pod, Probe } from 'kubernetes-types/core/v1.js';
import { type Clock, realClock } from '../../client/types.js';
import { createLogger } from '../../log/logger.js';
import { formatPod } from './go-format.js';
import type { ExecSync, ProbeOutcome } from './probe-outcome.js';
import { type ProbeTiming, probeTiming, runProbe } from './run-probe.js';
import type { ProbeFailure, ProbeManager, ProbeManagerEvents, ProbeType } from './types.js';

const log = createLogger('probe-manager');

export interface KubeletProbeManagerEvents extends ProbeManagerEvents {
  /**
   * ProbeWarning event (Warning) on the pod, e.g. `Readiness probe warning: Probe terminated redirects, Response
   * body: ...` for an HTTP redirect to another host; the run counted as a success.
   */
  onWarning?(warning: ProbeFailure): void;
}

/** Runs one probe; runProbe by default, replaceable in tests. */
export type ProbeRunner = (probe: Probe, target: { container: Container; containerId: string; podIp: string; podName: string }, execSync: ExecSync) => Promise<ProbeOutcome>;

type Result = 'success' | 'failure' | 'unknown';

const PROBE_TYPES: readonly ProbeType[] = ['startup', 'readiness', 'liveness'];
const LABEL: Record<ProbeType, string> = { liveness: 'Liveness', readiness: 'Readiness', startup: 'Startup' };
/** Results of a fresh container: not ready until a readiness probe succeeds, not started until the startup probe does. */
const INITIAL: Record<ProbeType, Result> = { liveness: 'success', readiness: 'failure', startup: 'unknown' };

interface Worker {
  readonly type: ProbeType;
  readonly probe: Probe;
  readonly timing: ProbeTiming;
  timer?: { cancel(): void };
  inFlight: boolean;
  /** Bumped whenever the container instance changes or stops: a run that started under an older one is dropped. */
  generation: number;
  lastResult?: 'success' | 'failure';
  resultRun: number;
  /** After a liveness/startup failure: no probing until a new container instance. */
  onHold: boolean;
  /** Ended for good (pod deleting, for liveness and startup). */
  done: boolean;
  /** When the worker's ticker started (worker.go: a time.Ticker per worker, from its creation, jittered while the agent is young). */
  origin: number;
}

interface ContainerEntry {
  readonly name: string;
  spec?: Container;
  containerId: string;
  running: boolean;
  startedAt: number;
  podIp: string;
  results: Record<ProbeType, Result>;
  workers: Map<ProbeType, Worker>;
}

interface PodEntry {
  readonly uid: string;
  pod?: Pod;
  podName: string;
  containers: Map<string, ContainerEntry>;
}

export class KubeletProbeManager implements ProbeManager {
  private readonly pods = new Map<string, PodEntry>();
  private readonly startedAt: number;
  private stopped = false;

  constructor(
    private readonly events: KubeletProbeManagerEvents,
    private readonly execSync: ExecSync,
    private readonly clock: Clock = realClock,
    private readonly random: () => number = Math.random,
    private readonly runner: ProbeRunner = runProbe,
  ) {
    this.startedAt = clock.now().getTime();
  }

  addPod(pod: Pod): void {
    const uid = pod.metadata?.uid;
    if (!uid || this.stopped) return;
    const entry = this.podEntry(uid);
    entry.pod = pod;
    entry.podName = formatPod(pod);
    // Sidecars (restartable init containers) are probed like app containers (getRestartableInitContainers).
    const containers = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? []).filter((c) => c.restartPolicy === 'Always')];
    for (const spec of containers) {
      const container = this.containerEntry(entry, spec.name);
      container.spec = spec;
      for (const type of PROBE_TYPES) {
        const probe = probeOf(spec, type);
        if (!probe || container.workers.has(type)) continue;
        const timing = probeTiming(probe, type);
        const worker: Worker = { type, probe, timing, inFlight: false, generation: 0, resultRun: 0, onHold: false, done: false, origin: this.tickerOrigin(timing) };
        container.workers.set(type, worker);
        if (container.running) this.scheduleFirst(entry, container, worker);
      }
    }
    if (pod.metadata?.deletionTimestamp) this.quietShutdown(entry);
  }

  removePod(podUid: string): void {
    const entry = this.pods.get(podUid);
    if (!entry) return;
    for (const container of entry.containers.values()) for (const worker of container.workers.values()) this.halt(worker);
    this.pods.delete(podUid);
  }

  containerStarted(podUid: string, containerName: string, containerId: string, startedAt: number, podIp?: string): void {
    if (this.stopped) return;
    const entry = this.podEntry(podUid);
    const container = this.containerEntry(entry, containerName);
    if (podIp !== undefined) container.podIp = podIp;
    if (container.running && container.containerId === containerId) return;
    container.containerId = containerId;
    container.running = true;
    container.startedAt = startedAt;
    container.results = { ...INITIAL };
    for (const worker of container.workers.values()) {
      this.halt(worker);
      worker.lastResult = undefined;
      worker.resultRun = 0;
      worker.onHold = false;
      if (worker.done) container.results[worker.type] = 'success'; // the pod is being deleted: stays quiet
      else this.scheduleFirst(entry, container, worker);
    }
  }

  containerStopped(podUid: string, containerName: string): void {
    const container = this.pods.get(podUid)?.containers.get(containerName);
    if (!container) return;
    container.running = false;
    for (const worker of container.workers.values()) this.halt(worker);
  }

  isReady(podUid: string, containerName: string): boolean {
    const container = this.pods.get(podUid)?.containers.get(containerName);
    return container !== undefined && readyOf(container);
  }

  isStarted(podUid: string, containerName: string): boolean {
    const container = this.pods.get(podUid)?.containers.get(containerName);
    return container !== undefined && startedOf(container);
  }

  stop(): void {
    this.stopped = true;
    for (const uid of [...this.pods.keys()]) this.removePod(uid);
  }

  private podEntry(uid: string): PodEntry {
    let entry = this.pods.get(uid);
    if (!entry) {
      entry = { uid, podName: `_(${uid})`, containers: new Map() };
      this.pods.set(uid, entry);
    }
    return entry;
  }

  private containerEntry(entry: PodEntry, name: string): ContainerEntry {
    let container = entry.containers.get(name);
    if (!container) {
      container = { name, containerId: '', running: false, startedAt: 0, podIp: '', results: { ...INITIAL }, workers: new Map() };
      entry.containers.set(name, container);
    }
    return container;
  }

  /** Cancels the worker's timer and disowns a run in flight. */
  private halt(worker: Worker): void {
    worker.timer?.cancel();
    worker.timer = undefined;
    worker.generation++;
    worker.inFlight = false;
  }

  /** worker.go run(): an agent that started less than a period ago spreads its workers' first ticks over the period. */
  private tickerOrigin(timing: ProbeTiming): number {
    const now = this.clock.now().getTime();
    const periodMs = timing.periodSeconds * 1000;
    return now + (now - this.startedAt < periodMs ? Math.floor(this.random() * periodMs) : 0);
  }

  private scheduleFirst(entry: PodEntry, container: ContainerEntry, worker: Worker): void {
    const now = this.clock.now().getTime();
    const periodMs = worker.timing.periodSeconds * 1000;
    const earliest = Math.max(now, worker.origin, container.startedAt + worker.timing.initialDelaySeconds * 1000);
    let due = earliest;
    // Liveness and startup probes run on the worker's ticker only (worker.go), so a container that was just (re)started
    // is first probed on the next tick, not in the instant it starts: `touch /tmp/healthy; exec app` with
    // initialDelaySeconds 0 must not be killed before its first command ran. Readiness runs at once, as kubelet's
    // manual trigger of a running container's readiness worker (prober_manager.go UpdatePodStatus) does.
    if (worker.type !== 'readiness') due = worker.origin + Math.ceil((earliest - worker.origin) / periodMs) * periodMs;
    this.schedule(entry, container, worker, due - now);
  }

  private schedule(entry: PodEntry, container: ContainerEntry, worker: Worker, delayMs: number): void {
    worker.timer?.cancel();
    const generation = worker.generation;
    worker.timer = this.clock.setTimeout(() => {
      if (worker.generation !== generation) return;
      worker.timer = undefined;
      void this.tick(entry, container, worker);
    }, Math.max(0, delayMs));
  }

  private async tick(entry: PodEntry, container: ContainerEntry, worker: Worker): Promise<void> {
    if (this.stopped || worker.done || worker.onHold || !container.running || !container.spec) return;
    const periodMs = worker.timing.periodSeconds * 1000;
    const started = startedOf(container);
    // The startup probe is finished for this container instance once it succeeded.
    if (worker.type === 'startup' && started) return;
    // Liveness and readiness wait for the startup probe (readiness is also triggered when it succeeds).
    if (worker.type !== 'startup' && !started) return this.schedule(entry, container, worker, periodMs);

    const generation = worker.generation;
    const runStart = this.clock.now().getTime();
    worker.inFlight = true;
    let outcome: ProbeOutcome;
    try {
      outcome = await this.runner(worker.probe, { container: container.spec, containerId: container.containerId, podIp: container.podIp, podName: entry.podName }, this.execSync);
    } catch (err) {
      // runProbe turns every expected failure into an outcome; a throw is a bug in a handler.
      outcome = { result: 'unknown', output: '', error: err instanceof Error ? err.message : String(err) };
    }
    if (worker.generation !== generation || this.stopped) return; // another container instance, or stopped: stale
    worker.inFlight = false;
    this.record(entry, container, worker, outcome);
    if (worker.onHold || worker.done || !container.running) return;
    if (worker.type === 'startup' && startedOf(container)) return;
    this.schedule(entry, container, worker, runStart + periodMs - this.clock.now().getTime());
  }

  /** prober.go probe() (events) then worker.go doProbe() (thresholds and results). */
  private record(entry: PodEntry, container: ContainerEntry, worker: Worker, outcome: ProbeOutcome): void {
    const failure = (message: string): ProbeFailure => ({ podUid: entry.uid, containerName: container.name, containerId: container.containerId, type: worker.type, message });
    const label = LABEL[worker.type];
    let result: 'success' | 'failure';
    switch (outcome.result) {
      case 'unknown':
        // The probe did not run: reported, and the run is thrown away (it counts toward neither threshold).
        this.emit(() => this.events.onUnhealthy(failure(`${label} probe errored and resulted in unknown state: ${outcome.error ?? outcome.output}`)));
        return;
      case 'failure':
        this.emit(() => this.events.onUnhealthy(failure(`${label} probe failed: ${outcome.output}`)));
        result = 'failure';
        break;
      case 'warning':
        this.emit(() => this.events.onWarning?.(failure(`${label} probe warning: ${outcome.output}`)));
        result = 'success';
        break;
      default:
        result = 'success';
    }

    if (worker.lastResult === result) worker.resultRun++;
    else {
      worker.lastResult = result;
      worker.resultRun = 1;
    }
    const threshold = result === 'failure' ? worker.timing.failureThreshold : worker.timing.successThreshold;
    if (worker.resultRun < threshold) return;

    const readyBefore = readyOf(container);
    const startedBefore = startedOf(container);
    container.results[worker.type] = result;
    if ((worker.type === 'liveness' || worker.type === 'startup') && result === 'failure') {
      // The container will be killed: stop probing it until a new instance starts (worker.go onHold).
      worker.onHold = true;
      worker.resultRun = 0;
      this.emit(() => this.events.onFailure(failure(`${label} probe failed: ${outcome.output}`)));
    }
    const startedNow = startedOf(container);
    if (readyOf(container) !== readyBefore || startedNow !== startedBefore) this.emit(() => this.events.onChange(entry.uid));
    if (startedNow && !startedBefore) this.triggerReadiness(entry, container);
  }

  /** prober_manager.go UpdatePodStatus triggers a readiness run at once when the container has just started. */
  private triggerReadiness(entry: PodEntry, container: ContainerEntry): void {
    const readiness = container.workers.get('readiness');
    if (!readiness || readiness.inFlight || readiness.done || readiness.onHold) return;
    const initialDelayEnds = container.startedAt + readiness.timing.initialDelaySeconds * 1000;
    this.schedule(entry, container, readiness, initialDelayEnds - this.clock.now().getTime());
  }

  /** worker.go: when the pod is being deleted, liveness and startup read success and stop. */
  private quietShutdown(entry: PodEntry): void {
    for (const container of entry.containers.values()) {
      const readyBefore = readyOf(container);
      const startedBefore = startedOf(container);
      for (const type of ['liveness', 'startup'] as const) {
        const worker = container.workers.get(type);
        if (!worker || worker.done) continue;
        this.halt(worker);
        worker.done = true;
        container.results[type] = 'success';
      }
      if (container.running && (readyOf(container) !== readyBefore || startedOf(container) !== startedBefore)) {
        this.emit(() => this.events.onChange(entry.uid));
        if (startedOf(container) && !startedBefore) this.triggerReadiness(entry, container);
      }
    }
  }

  private emit(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      log.error('probe event handler threw', { err });
    }
  }
}

function probeOf(container: Container, type: ProbeType): Probe | undefined {
  return type === 'liveness' ? container.livenessProbe : type === 'readiness' ? container.readinessProbe : container.startupProbe;
}

/** containerStatuses[].started: running, and the startup probe (if any) has succeeded. */
function startedOf(container: ContainerEntry): boolean {
  return container.running && (!container.workers.has('startup') || container.results.startup === 'success');
}

/** containerStatuses[].ready: started, and the readiness probe (if any) has succeeded. */
function readyOf(container: ContainerEntry): boolean {
  return startedOf(container) && (!container.workers.has('readiness') || container.results.readiness === 'success');
}
