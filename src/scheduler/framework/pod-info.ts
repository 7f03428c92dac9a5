/**
 * A pod with what the scheduler derives from it, computed once per pod object: requests, host ports and parsed
 * inter-pod affinity terms (framework.PodInfo). Pods from informer caches are shared and never mutated, so a
 * WeakMap keyed by the object is a safe memo.
 */
import type { PodAffinityTerm, WeightedPodAffinityTerm } from 'kubernetes-types/core/v1.js';
import { everything, labelSelectorFromObject, matches, nothing, type LabelSelector } from '../../api/labels.js';
import { computePodRequests, type Resource } from './resource.js';
import { podUid, type Pod } from './types.js';

/** Looks up a namespace's labels, for namespaceSelector terms; undefined when the namespace is unknown. */
export type NamespaceLabels = (namespace: string) => Readonly<Record<string, string>> | undefined;

/** A parsed PodAffinityTerm (framework.AffinityTerm). */
export class AffinityTerm {
  readonly namespaces: ReadonlySet<string>;
  readonly selector: LabelSelector;
  readonly namespaceSelector: LabelSelector;
  readonly topologyKey: string;

  constructor(owner: Pod, term: PodAffinityTerm) {
    // An omitted namespace list and selector mean "the owner's namespace"; `namespaceSelector: {}` means all.
    this.namespaces = new Set(
      (term.namespaces?.length ?? 0) === 0 && !term.namespaceSelector ? [owner.metadata.namespace ?? ''] : (term.namespaces ?? []),
    );
    this.selector = labelSelectorFromObject(term.labelSelector);
    this.namespaceSelector = term.namespaceSelector ? labelSelectorFromObject(term.namespaceSelector) : nothing;
    this.topologyKey = term.topologyKey;
  }

  /** Whether `pod` is selected by this term: in one of its namespaces and matching its label selector. */
  matches(pod: Pod, nsLabels: NamespaceLabels): boolean {
    const ns = pod.metadata.namespace ?? '';
    if (!this.namespaces.has(ns)) {
      if (this.namespaceSelector.matchesNothing) return false;
      if (this.namespaceSelector !== everything && !matches(this.namespaceSelector, nsLabels(ns))) return false;
    }
    return matches(this.selector, pod.metadata.labels);
  }
}

export interface WeightedAffinityTerm {
  term: AffinityTerm;
  weight: number;
}

export interface HostPort {
  ip: string;
  protocol: string;
  port: number;
}

const none: readonly never[] = Object.freeze([]);

export class PodInfo {
  readonly uid: string;
  readonly requiredAffinityTerms: readonly AffinityTerm[] = none;
  readonly requiredAntiAffinityTerms: readonly AffinityTerm[] = none;
  readonly preferredAffinityTerms: readonly WeightedAffinityTerm[] = none;
  readonly preferredAntiAffinityTerms: readonly WeightedAffinityTerm[] = none;
  /** Set when an affinity term's selector does not parse; such a pod is unschedulable. */
  readonly parseError: Error | undefined;
  private requestsMemo: Resource | undefined;
  private nonZeroMemo: Resource | undefined;
  private portsMemo: readonly HostPort[] | undefined;

  private constructor(
    readonly pod: Pod,
    from?: PodInfo,
  ) {
    this.uid = podUid(pod);
    if (from) {
      // Same spec (e.g. the assumed copy with spec.nodeName set): reuse what was derived.
      this.requiredAffinityTerms = from.requiredAffinityTerms;
      this.requiredAntiAffinityTerms = from.requiredAntiAffinityTerms;
      this.preferredAffinityTerms = from.preferredAffinityTerms;
      this.preferredAntiAffinityTerms = from.preferredAntiAffinityTerms;
      this.parseError = from.parseError;
      this.requestsMemo = from.requestsMemo;
      this.nonZeroMemo = from.nonZeroMemo;
      this.portsMemo = from.portsMemo;
      return;
    }
    const affinity = pod.spec?.affinity;
    if (affinity?.podAffinity || affinity?.podAntiAffinity) {
      try {
        const req = (terms: readonly PodAffinityTerm[] | undefined) => (terms ?? []).map((t) => new AffinityTerm(pod, t));
        const pref = (terms: readonly WeightedPodAffinityTerm[] | undefined) =>
          (terms ?? []).map((t) => ({ term: new AffinityTerm(pod, t.podAffinityTerm), weight: t.weight }));
        this.requiredAffinityTerms = req(affinity.podAffinity?.requiredDuringSchedulingIgnoredDuringExecution);
        this.requiredAntiAffinityTerms = req(affinity.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution);
        this.preferredAffinityTerms = pref(affinity.podAffinity?.preferredDuringSchedulingIgnoredDuringExecution);
        this.preferredAntiAffinityTerms = pref(affinity.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution);
      } catch (err) {
        this.parseError = err as Error;
      }
    }
  }

  private static readonly memo = new WeakMap<Pod, PodInfo>();

  /** The PodInfo of this exact pod object (memoized). */
  static of(pod: Pod): PodInfo {
    let pi = PodInfo.memo.get(pod);
    if (!pi) {
      pi = new PodInfo(pod);
      PodInfo.memo.set(pod, pi);
    }
    return pi;
  }

  /** A PodInfo for `pod`, a copy of this pod that differs only outside the spec fields derived here. */
  withPod(pod: Pod): PodInfo {
    const pi = new PodInfo(pod, this);
    PodInfo.memo.set(pod, pi);
    return pi;
  }

  get priority(): number {
    return this.pod.spec?.priority ?? 0;
  }

  /** The pod's requests (resourcehelper.PodRequests). */
  get requests(): Resource {
    return (this.requestsMemo ??= computePodRequests(this.pod));
  }

  /** Requests with the scheduler's defaults for containers without cpu/memory requests, for scoring. */
  get nonZeroRequests(): Resource {
    return (this.nonZeroMemo ??= computePodRequests(this.pod, true));
  }

  /**
   * Host ports of the containers that run alongside the app (containers and restartable "sidecar" init
   * containers; ordinary init containers have exited before the app starts). TCP and 0.0.0.0 by default.
   */
  get hostPorts(): readonly HostPort[] {
    if (this.portsMemo) return this.portsMemo;
    const ports: HostPort[] = [];
    const spec = this.pod.spec;
    for (const list of [spec?.initContainers?.filter((c) => c.restartPolicy === 'Always'), spec?.containers]) {
      for (const c of list ?? []) {
        for (const p of c.ports ?? []) {
          if (p.hostPort && p.hostPort > 0) ports.push({ ip: p.hostIP || '0.0.0.0', protocol: p.protocol || 'TCP', port: p.hostPort });
        }
      }
    }
    return (this.portsMemo = ports.length ? ports : none);
  }

  get hasAffinity(): boolean {
    return (
      this.requiredAffinityTerms.length + this.requiredAntiAffinityTerms.length + this.preferredAffinityTerms.length + this.preferredAntiAffinityTerms.length >
      0
    );
  }
}
