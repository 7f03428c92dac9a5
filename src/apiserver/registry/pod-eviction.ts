/**
 * The `pods/eviction` decision (upstream pkg/registry/core/pod/storage/eviction.go): a pod delete that respects the
 * PodDisruptionBudget selecting the pod. `kubectl drain` evicts every pod of a node this way and retries while the
 * answer is 429.
 *
 *   validate the Eviction ─► pod terminal, Pending or already terminating? ─► delete it, budgets do not matter
 *                        └─► budgets of the namespace selecting the pod: none ─► delete
 *                                                                     more than one ─► 500
 *                                                                     one, pod not Ready and the policy lets it go ─► delete (pinned to the pod's resourceVersion)
 *                                                                     one ─► check and decrement disruptionsAllowed, record disruptedPods
 *                                                                            (compare-and-swap on the PDB, retried on conflict) ─► delete
 *
 * Independent of HTTP and of storage: the caller supplies an EvictionStore. Errors are StatusErrors.
 */
import type { Condition, Status, StatusCause } from 'kubernetes-types/meta/v1.js';
import { labelSelectorFromObject, matches } from '../../api/labels.js';
import type { KubeObject } from '../../api/object.js';
import { badRequest, conflict, fieldNotSupported, invalid, isConflict, notFound, StatusError, type FieldError } from '../../api/status.js';
import { rfc3339 } from '../../api/time.js';
import type { SubresourceApi, SubresourceDefinition } from './types.js';

export interface EvictionStore {
  /** Throws a NotFound StatusError when the pod does not exist. */
  getPod(namespace: string, name: string): Promise<KubeObject>;
  /** The current PodDisruptionBudgets of the namespace. */
  listPdbs(namespace: string): Promise<KubeObject[]>;
  /**
   * Writes pdb.status with compare-and-swap on pdb.metadata.resourceVersion; throws a 409 Conflict StatusError when
   * stale. evictPod never calls it in a dry run (upstream decides and records nothing then), so dryRun is false.
   */
  updatePdbStatus(pdb: KubeObject, status: Record<string, unknown>, dryRun: boolean): Promise<void>;
  /** Deletes the pod with these options (preconditions checked by the store). */
  deletePod(namespace: string, name: string, opts: EvictionDeleteOptions): Promise<void>;
  /**
   * Optional: writes pod.status with compare-and-swap on pod.metadata.resourceVersion (409 Conflict when stale) and
   * returns the stored pod. With it, an evicted pod gets the DisruptionTarget condition before it is deleted, as
   * upstream does (the condition tells the Job controller's podFailurePolicy, and users, why the pod went).
   */
  updatePodStatus?(pod: KubeObject): Promise<KubeObject>;
}

export interface EvictionDeleteOptions {
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun: boolean;
}

/**
 * How often a write that lost a race is retried (upstream EvictionsRetry has 20 steps, 500 ms apart; the retries here
 * re-read at once, the await on the store being the pause).
 */
export const EVICTION_RETRIES = 20;

/** Beyond this many unconfirmed evictions in status.disruptedPods the budget refuses more (upstream MaxDisruptedPodSize). */
export const MAX_DISRUPTED_POD_SIZE = 2000;

const TOO_MANY_REQUESTS_MESSAGE = "Cannot evict pod as it would violate the pod's disruption budget.";
const MULTIPLE_PDBS_MESSAGE = 'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.';

/**
 * Evicts pod `namespace/name` as the Eviction body `eviction` asks. `opts.dryRun` is the request's dryRun query
 * parameter; `opts.now` stamps the disruptedPods entry. Resolves when the pod was deleted (or would be, in a dry run).
 */
export async function evictPod(store: EvictionStore, namespace: string, name: string, eviction: unknown, opts: { dryRun: boolean; now: Date }): Promise<void> {
  const requested = parseEviction(eviction, namespace, name, opts.dryRun);
  // A caller that pinned the resourceVersion wants exactly that pod or nothing: its conflicts are not retried.
  const callerPinnedVersion = requested.preconditions?.resourceVersion !== undefined;

  let pod: KubeObject;
  for (let attempt = 1; ; attempt++) {
    pod = await store.getPod(namespace, name);
    if (!canIgnoreBudget(pod)) break;
    // A terminal or terminating pod disrupts nothing more. A Pending one is pinned to the version we looked at, so
    // a pod that started running meanwhile goes through the budget on the retry.
    const options = shouldPinVersion(pod) && !callerPinnedVersion ? pinnedTo(requested, pod) : requested;
    try {
      await deleteEvicted(store, namespace, name, options, opts.now);
      return;
    } catch (err) {
      if (isConflict(err) && !callerPinnedVersion && attempt < EVICTION_RETRIES) continue;
      throw err;
    }
  }

  const pdbs = (await store.listPdbs(namespace)).filter((pdb) => selects(pdb, pod));
  if (pdbs.length > 1) throw new StatusError({ message: MULTIPLE_PDBS_MESSAGE, code: 500 });

  let pinToPod = false;
  const pdb = pdbs[0];
  if (pdb) {
    const spec = (pdb.spec ?? {}) as { unhealthyPodEvictionPolicy?: string };
    const status = (pdb.status ?? {}) as { currentHealthy?: number; desiredHealthy?: number };
    if (!isPodReady(pod) && (spec.unhealthyPodEvictionPolicy === 'AlwaysAllow' || ((status.currentHealthy ?? 0) >= (status.desiredHealthy ?? 0) && (status.desiredHealthy ?? 0) > 0))) {
      // An unready pod does not count as healthy, so deleting it spends no disruption; pinned to the version we
      // judged, so a pod that turned Ready meanwhile is not deleted behind the budget's back.
      pinToPod = true;
    } else {
      await checkAndDecrementWithRetry(store, pdb, name, requested.dryRun, opts.now);
    }
  }

  try {
    await deleteEvicted(store, namespace, name, pinToPod ? pinnedTo(requested, pod) : requested, opts.now);
  } catch (err) {
    // Our pin failed, not the caller's: the pod changed, so ask the client to come back (kubectl drain retries 429s).
    if (isConflict(err) && pinToPod && !callerPinnedVersion) throw stillProcessing(pdb!.metadata.name ?? '');
    throw err;
  }
}

/**
 * The EvictionStore of a subresource action: pods and PodDisruptionBudgets read and written through the request's
 * own storage and admission path (the status write is a compare-and-swap through `/status`).
 */
export function evictionStoreFrom(api: SubresourceApi): EvictionStore {
  const pods = () => api.resource('', 'pods');
  const pdbs = () => api.resource('policy', 'poddisruptionbudgets');
  return {
    getPod: (namespace, name) => api.get(pods(), namespace, name),
    listPdbs: (namespace) => api.list(pdbs(), namespace),
    updatePdbStatus: async (pdb, status, dryRun) => {
      await api.update(pdbs(), { ...pdb, status }, { subresource: 'status', dryRun });
    },
    deletePod: (namespace, name, opts) => api.delete(pods(), namespace, name, opts),
    updatePodStatus: (pod) => api.update(pods(), pod, { subresource: 'status', dryRun: false }),
  };
}

/**
 * `pods/eviction` as a registry subresource: POST a policy/v1 (or v1beta1) Eviction, answered with a 201 Status
 * when the pod was deleted. Discovery lists it with kind Eviction in policy/v1, which is what `kubectl drain` looks for.
 */
export const podEvictionSubresource: SubresourceDefinition = {
  name: 'eviction',
  kind: 'Eviction',
  group: 'policy',
  version: 'v1',
  verbs: ['create'],
  action: (api, namespace, name, body, opts) => evictPod(evictionStoreFrom(api), namespace, name, body, opts),
};

/**
 * Marks the pod with DisruptionTarget=True (reason EvictionByEvictionAPI) on its latest version, then deletes it
 * (upstream addConditionAndDeletePod). The delete's preconditions are checked against the pod the condition is
 * written on, and a pinned resourceVersion follows our own write. Dry runs, and stores that cannot write pod
 * status, only delete.
 */
async function deleteEvicted(store: EvictionStore, namespace: string, name: string, options: EvictionDeleteOptions, now: Date): Promise<void> {
  if (options.dryRun || !store.updatePodStatus) return store.deletePod(namespace, name, options);
  let updated: KubeObject | undefined;
  for (let attempt = 1; !updated; attempt++) {
    const latest = await store.getPod(namespace, name);
    checkPreconditions(latest, options.preconditions);
    try {
      updated = await store.updatePodStatus(withDisruptionTarget(latest, now));
    } catch (err) {
      // Someone else wrote the pod between our read and write: read again (upstream's update loop does the same).
      if (!isConflict(err) || attempt >= EVICTION_RETRIES) throw err;
    }
  }
  const pinned = options.preconditions?.resourceVersion !== undefined;
  await store.deletePod(namespace, name, pinned ? { ...options, preconditions: { ...options.preconditions, resourceVersion: updated.metadata.resourceVersion ?? '' } } : options);
}

/** A 409 worded as upstream's when the pod is not the one the preconditions name. */
function checkPreconditions(pod: KubeObject, preconditions: EvictionDeleteOptions['preconditions']): void {
  const ref = { resource: 'Pod', name: pod.metadata.name ?? '' };
  const uid = preconditions?.uid;
  if (uid && uid !== pod.metadata.uid) {
    throw conflict(ref, `the UID in the precondition (${uid}) does not match the UID in record (${pod.metadata.uid ?? ''}). The object might have been deleted and then recreated`);
  }
  const rv = preconditions?.resourceVersion;
  if (rv && rv !== pod.metadata.resourceVersion) {
    throw conflict(ref, `the ResourceVersion in the precondition (${rv}) does not match the ResourceVersion in record (${pod.metadata.resourceVersion ?? ''}). The object might have been modified`);
  }
}

/** The pod with DisruptionTarget=True; the transition time moves only when the condition's status changes. */
function withDisruptionTarget(pod: KubeObject, now: Date): KubeObject {
  const status = structuredClone((pod.status ?? {}) as { conditions?: Record<string, unknown>[] });
  const conditions = status.conditions ?? [];
  const next = { type: 'DisruptionTarget', status: 'True', reason: 'EvictionByEvictionAPI', message: 'Eviction API: evicting' };
  const i = conditions.findIndex((c) => c.type === 'DisruptionTarget');
  const lastTransitionTime = i >= 0 && conditions[i]!.status === 'True' ? conditions[i]!.lastTransitionTime : rfc3339(now);
  if (i >= 0) conditions[i] = { ...conditions[i], ...next, lastTransitionTime };
  else conditions.push({ ...next, lastTransitionTime });
  status.conditions = conditions;
  return { ...pod, status };
}

/** Validates the Eviction body against the URL; returns the delete options to use. */
function parseEviction(body: unknown, namespace: string, name: string, dryRunQuery: boolean): EvictionDeleteOptions {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('the body of an eviction must be an Eviction object');
  const ev = body as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown; namespace?: unknown }; deleteOptions?: unknown };
  // Both policy/v1 and policy/v1beta1 Evictions are accepted (upstream AcceptsGroupVersion); nothing else is one.
  if ((ev.apiVersion !== undefined && ev.apiVersion !== 'policy/v1' && ev.apiVersion !== 'policy/v1beta1') || (ev.kind !== undefined && ev.kind !== 'Eviction')) {
    throw badRequest(`not a Eviction object: ${String(ev.apiVersion ?? '')}, Kind=${String(ev.kind ?? '')}`);
  }
  if ((ev.metadata?.name ?? '') !== name) throw badRequest('name in URL does not match name in Eviction object');
  if (ev.metadata?.namespace !== undefined && ev.metadata.namespace !== '' && ev.metadata.namespace !== namespace) {
    throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
  }
  const raw = ev.deleteOptions;
  if (raw === undefined || raw === null) return { dryRun: dryRunQuery };
  if (typeof raw !== 'object' || Array.isArray(raw)) throw badRequest('deleteOptions must be an object');
  const d = raw as { gracePeriodSeconds?: unknown; preconditions?: { uid?: unknown; resourceVersion?: unknown } | null; dryRun?: unknown; propagationPolicy?: unknown };
  const errs: FieldError[] = [];
  const out: EvictionDeleteOptions = { dryRun: dryRunQuery };
  if (d.gracePeriodSeconds !== undefined && d.gracePeriodSeconds !== null) {
    if (!Number.isInteger(d.gracePeriodSeconds)) throw badRequest(`deleteOptions.gracePeriodSeconds must be an integer, got ${JSON.stringify(d.gracePeriodSeconds)}`);
    out.gracePeriodSeconds = d.gracePeriodSeconds as number;
  }
  if (d.preconditions !== undefined && d.preconditions !== null) {
    const p = d.preconditions;
    const preconditions: { uid?: string; resourceVersion?: string } = {};
    for (const field of ['uid', 'resourceVersion'] as const) {
      const v = p[field];
      if (v === undefined || v === null) continue;
      if (typeof v !== 'string') throw badRequest(`deleteOptions.preconditions.${field} must be a string, got ${JSON.stringify(v)}`);
      preconditions[field] = v;
    }
    if (Object.keys(preconditions).length > 0) out.preconditions = preconditions;
  }
  if (d.dryRun !== undefined && d.dryRun !== null) {
    if (!Array.isArray(d.dryRun)) throw badRequest(`deleteOptions.dryRun must be a list, got ${JSON.stringify(d.dryRun)}`);
    d.dryRun.forEach((v, i) => {
      if (v !== 'All') errs.push(fieldNotSupported(`dryRun[${i}]`, v, ['All']));
    });
    // Upstream keeps the body's dryRun when the query has none; the two can only differ in values refused above.
    if (d.dryRun.length > 0) out.dryRun = true;
  }
  if (d.propagationPolicy !== undefined && d.propagationPolicy !== null && !['Orphan', 'Background', 'Foreground'].includes(d.propagationPolicy as string)) {
    errs.push(fieldNotSupported('propagationPolicy', d.propagationPolicy, ['Foreground', 'Background', 'Orphan', 'nil']));
  }
  if (errs.length > 0) throw invalid('DeleteOptions', 'meta.k8s.io', '', errs);
  return out;
}

/**
 * Verifies the budget allows a disruption and spends one, recording the pod in disruptedPods, with compare-and-swap;
 * a lost race re-reads the budget and decides again.
 */
async function checkAndDecrementWithRetry(store: EvictionStore, pdb: KubeObject, podName: string, dryRun: boolean, now: Date): Promise<void> {
  let current = pdb;
  for (let attempt = 1; ; attempt++) {
    try {
      await checkAndDecrement(store, current, podName, dryRun, now);
      return;
    } catch (err) {
      if (!isConflict(err) || attempt >= EVICTION_RETRIES) throw err;
    }
    const pdbName = current.metadata.name ?? '';
    const fresh = (await store.listPdbs(current.metadata.namespace ?? '')).find((p) => p.metadata.name === pdbName);
    if (!fresh) throw notFound({ group: 'policy', resource: 'poddisruptionbudgets', name: pdbName });
    current = fresh;
  }
}

interface PdbStatus {
  observedGeneration?: number;
  disruptionsAllowed?: number;
  currentHealthy?: number;
  desiredHealthy?: number;
  expectedPods?: number;
  disruptedPods?: Record<string, string>;
  conditions?: Condition[];
}

async function checkAndDecrement(store: EvictionStore, pdb: KubeObject, podName: string, dryRun: boolean, now: Date): Promise<void> {
  const name = pdb.metadata.name ?? '';
  const status = structuredClone((pdb.status ?? {}) as PdbStatus);
  // The controller has not caught up with the latest spec: its numbers may allow what the new spec forbids.
  if ((status.observedGeneration ?? 0) < (pdb.metadata.generation ?? 0)) throw stillProcessing(name);
  const allowed = status.disruptionsAllowed ?? 0;
  if (allowed < 0) throw pdbForbidden(name, 'pdb disruptions allowed is negative');
  if (Object.keys(status.disruptedPods ?? {}).length > MAX_DISRUPTED_POD_SIZE) {
    throw pdbForbidden(name, 'DisruptedPods map too big - too many evictions not confirmed by PDB controller');
  }
  if (allowed === 0) {
    throw tooManyRequests({
      reason: 'DisruptionBudget',
      message: `The disruption budget ${name} needs ${status.desiredHealthy ?? 0} healthy pods and has ${status.currentHealthy ?? 0} currently`,
    });
  }
  status.disruptionsAllowed = allowed - 1;
  if (status.disruptionsAllowed === 0) setInsufficientPods(status, now);
  // A dry run has decided; it records nothing.
  if (dryRun) return;
  // Tells the controller this pod is about to go, so it stops counting it healthy before the delete is observed.
  status.disruptedPods = { ...(status.disruptedPods ?? {}), [podName]: rfc3339(now) };
  await store.updatePdbStatus(pdb, status as Record<string, unknown>, false);
}

/**
 * The DisruptionAllowed condition once no disruption is left (upstream UpdateDisruptionAllowedCondition with
 * meta.SetStatusCondition): False / InsufficientPods; the transition time moves only when the status flips.
 */
function setInsufficientPods(status: PdbStatus, now: Date): void {
  const conditions = (status.conditions ?? []).map((c) => ({ ...c }));
  const next = { type: 'DisruptionAllowed', status: 'False', reason: 'InsufficientPods', message: '', ...(status.observedGeneration ? { observedGeneration: status.observedGeneration } : {}) };
  const i = conditions.findIndex((c) => c.type === 'DisruptionAllowed');
  if (i < 0) conditions.push({ ...next, lastTransitionTime: rfc3339(now) });
  else {
    const old = conditions[i]!;
    conditions[i] = { ...next, lastTransitionTime: old.status === next.status ? old.lastTransitionTime : rfc3339(now) };
  }
  status.conditions = conditions;
}

/** Succeeded, Failed or Pending pods, and pods already being deleted, are deleted without asking any budget. */
function canIgnoreBudget(pod: KubeObject): boolean {
  const phase = podPhase(pod);
  return phase === 'Succeeded' || phase === 'Failed' || phase === 'Pending' || !!pod.metadata.deletionTimestamp;
}

/** Every pod but a terminal or terminating one could become Ready between our look and the delete. */
function shouldPinVersion(pod: KubeObject): boolean {
  const phase = podPhase(pod);
  return !(phase === 'Succeeded' || phase === 'Failed' || pod.metadata.deletionTimestamp);
}

function pinnedTo(options: EvictionDeleteOptions, pod: KubeObject): EvictionDeleteOptions {
  return { ...options, preconditions: { ...options.preconditions, resourceVersion: pod.metadata.resourceVersion ?? '' } };
}

function podPhase(pod: KubeObject): string | undefined {
  return (pod.status as { phase?: string } | undefined)?.phase;
}

/** The pod's Ready condition is True (upstream IsPodReady, which is what "healthy" means for a budget). */
function isPodReady(pod: KubeObject): boolean {
  const conditions = (pod.status as { conditions?: { type?: string; status?: string }[] } | undefined)?.conditions;
  return conditions?.find((c) => c.type === 'Ready')?.status === 'True';
}

/** policy/v1: a missing selector matches nothing, an empty one every pod; an unparsable one matches nothing. */
function selects(pdb: KubeObject, pod: KubeObject): boolean {
  try {
    return matches(labelSelectorFromObject((pdb.spec as { selector?: never } | undefined)?.selector), pod.metadata.labels);
  } catch {
    return false;
  }
}

/** 429 TooManyRequests with upstream's message and a DisruptionBudget cause; retryAfterSeconds when given. */
function tooManyRequests(cause: StatusCause, retryAfterSeconds = 0): StatusError {
  const details: NonNullable<Status['details']> = { causes: [cause] };
  if (retryAfterSeconds > 0) details.retryAfterSeconds = retryAfterSeconds;
  return new StatusError({ message: TOO_MANY_REQUESTS_MESSAGE, reason: 'TooManyRequests', code: 429, details });
}

/** The budget's status is not current yet (upstream createTooManyRequestsError): come back in 10 s. */
function stillProcessing(pdbName: string): StatusError {
  return tooManyRequests({ reason: 'DisruptionBudget', message: `The disruption budget ${pdbName} is still being processed by the server.` }, 10);
}

/** upstream errors.NewForbidden(policy.Resource("poddisruptionbudget"), name, err). */
function pdbForbidden(name: string, why: string): StatusError {
  return new StatusError({
    message: `poddisruptionbudget.policy ${JSON.stringify(name)} is forbidden: ${why}`,
    reason: 'Forbidden',
    code: 403,
    details: { name, group: 'policy', kind: 'poddisruptionbudget' },
  });
}
