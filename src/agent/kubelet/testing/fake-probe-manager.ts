/**
 * A ProbeManager whose results the test sets: containers are ready and started unless listed in `notReady` /
 * `notStarted`; `fail()` reports a liveness or startup failure through the kubelet's ProbeManagerEvents, as a probe
 * worker crossing its failureThreshold would.
 */
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { ProbeFailure, ProbeManager, ProbeManagerEvents, ProbeType } from '../../probes/types.js';

export class FakeProbeManager implements ProbeManager {
  readonly calls: string[] = [];
  readonly notReady = new Set<string>();
  readonly notStarted = new Set<string>();
  /** containerStarted ids by `uid/name`. */
  readonly started = new Map<string, string>();
  stopped = false;

  constructor(readonly events: ProbeManagerEvents) {}

  addPod(pod: Pod): void {
    this.calls.push(`addPod ${pod.metadata?.name}`);
  }

  removePod(podUid: string): void {
    this.calls.push(`removePod ${podUid}`);
  }

  containerStarted(podUid: string, containerName: string, containerId: string): void {
    this.calls.push(`containerStarted ${containerName} ${containerId}`);
    this.started.set(`${podUid}/${containerName}`, containerId);
  }

  containerStopped(podUid: string, containerName: string): void {
    this.calls.push(`containerStopped ${containerName}`);
    this.started.delete(`${podUid}/${containerName}`);
  }

  isReady(podUid: string, containerName: string): boolean {
    return this.started.has(`${podUid}/${containerName}`) && !this.notReady.has(containerName) && this.isStarted(podUid, containerName);
  }

  isStarted(podUid: string, containerName: string): boolean {
    return this.started.has(`${podUid}/${containerName}`) && !this.notStarted.has(containerName);
  }

  /** A probe crossed its failure threshold: Unhealthy event, then the failure. */
  fail(podUid: string, containerName: string, type: ProbeType, message = `${type[0]!.toUpperCase()}${type.slice(1)} probe failed: HTTP probe failed with statuscode: 500`): void {
    const containerId = this.started.get(`${podUid}/${containerName}`) ?? '';
    const failure: ProbeFailure = { podUid, containerName, containerId, type, message };
    this.events.onUnhealthy(failure);
    this.events.onFailure(failure);
  }

  /** Readiness changed: the worker recomputes status. */
  setReady(podUid: string, containerName: string, ready: boolean): void {
    if (ready) this.notReady.delete(containerName);
    else this.notReady.add(containerName);
    this.events.onChange(podUid);
  }

  stop(): void {
    this.stopped = true;
  }
}
