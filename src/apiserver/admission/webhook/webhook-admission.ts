/**
 * The MutatingAdmissionWebhook and ValidatingAdmissionWebhook plugins (k8s.io/apiserver/pkg/admission/plugin/webhook):
 * every write is matched against the webhooks of the current configurations (from the watch cache, so a change takes
 * effect as soon as the cache has it), and the matching ones get an AdmissionReview over HTTPS. Mutating webhooks run
 * one after another, configurations sorted by name, and their JSON patches are applied in that order (webhooks with
 * reinvocationPolicy IfNeeded are called once more when a later webhook changed the object); validating webhooks run
 * in parallel and the first refusal (in webhook order) wins. failurePolicy decides what a failed call means.
 *
 * Requests for the webhook and policy configurations themselves never go through webhooks (upstream's
 * IsExemptAdmissionConfigurationResource), so a broken webhook can always be removed.
 */
import { randomUUID } from 'node:crypto';
import type { KubeObject } from '../../../api/object.js';
import type { Status } from 'kubernetes-types/meta/v1.js';
import { badRequest, internalError, StatusError } from '../../../api/status.js';
import { createLogger } from '../../../log/logger.js';
import { compileCel, isCompileError } from '../../cel/cel-program.js';
import { toCel } from '../../cel/values.js';
import { applyJsonPatch } from '../../patch/json-patch.js';
import { MATCH_CONDITION_VARIABLES, type AnyWebhook } from '../../registry/mutatingwebhookconfigurations.js';
import type { ResourceDefinition } from '../../registry/types.js';
import type { AdmissionAttributes, AdmissionContext, MutatingAdmission, Operation, ValidatingAdmission } from '../types.js';
import { compileSelectors, namespaceSelectorMatches, objectSelectorMatches, rulesMatch, type CompiledSelectors, type MatchTarget } from './webhook-matching.js';
import { postReview, resolveTarget, WebhookCallError } from './webhook-client.js';

const log = createLogger('admission-webhook');

/** Audit annotation prefixes (k8s.io/apiserver/pkg/admission/plugin/webhook/{mutating,validating}). */
const MUTATION_ANNOTATION = 'mutation.webhook.admission.k8s.io/';
const PATCH_ANNOTATION = 'patch.webhook.admission.k8s.io/';
const FAILED_OPEN_MUTATION = 'failed-open.mutation.webhook.admission.k8s.io/';
const FAILED_OPEN_VALIDATING = 'failed-open.validating.webhook.admission.k8s.io/';
/** A qualified name, optionally with a DNS-subdomain prefix: what upstream accepts as an annotation key. */
const QUALIFIED_KEY = /^(?:[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

const GROUP = 'admissionregistration.k8s.io';
/** Never sent to webhooks (upstream's IsExemptAdmissionConfigurationResource). */
const EXEMPT = new Set(['mutatingwebhookconfigurations', 'validatingwebhookconfigurations', 'validatingadmissionpolicies', 'validatingadmissionpolicybindings', 'mutatingadmissionpolicies', 'mutatingadmissionpolicybindings']);

/** One webhook of one configuration, with what matching needs precompiled. */
export interface CompiledWebhook {
  configuration: string;
  hook: AnyWebhook;
  selectors: CompiledSelectors;
}

/**
 * The webhooks of one configuration kind as the watch cache has them, recompiled only when a configuration object
 * changes (the cache replaces an object on every write, so identity says whether anything changed).
 */
export class WebhookSource {
  private objects: KubeObject[] = [];
  private compiled: CompiledWebhook[] = [];

  constructor(private readonly plural: 'mutatingwebhookconfigurations' | 'validatingwebhookconfigurations') {}

  hooks(ctx: AdmissionContext): CompiledWebhook[] {
    const listed = ctx.list(GROUP, this.plural);
    // Every write asks; nearly always there is no configuration at all (an empty array, no copy needed).
    if (Array.isArray(listed) && listed.length === 0 && this.objects.length === 0) return this.compiled;
    const current = [...listed];
    if (current.length === this.objects.length && current.every((o, i) => o === this.objects[i])) return this.compiled;
    this.objects = current;
    const sorted = [...current].sort((a, b) => ((a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : 1));
    this.compiled = sorted.flatMap((config) =>
      (((config as { webhooks?: AnyWebhook[] }).webhooks ?? []) as AnyWebhook[]).map((hook) => ({ configuration: config.metadata.name ?? '', hook, selectors: compileSelectors(hook) })),
    );
    return this.compiled;
  }
}

/** How a webhook sees one write: the version its rules matched, the object in that version. */
interface Invocation {
  webhook: CompiledWebhook;
  /** The definition whose version the webhook gets (a view such as autoscaling/v1 when only that matched). */
  view: ResourceDefinition;
}

/**
 * The version a webhook's rules match for this write: the stored version, or with matchPolicy Equivalent another
 * served version of the same resource (skiff's views: autoscaling/v1 over v2, events.k8s.io over core Events).
 */
function matchingView(w: CompiledWebhook, attrs: AdmissionAttributes, resources: readonly ResourceDefinition[]): ResourceDefinition | undefined {
  const target = (def: ResourceDefinition): MatchTarget => ({ operation: attrs.operation, group: def.group, version: def.version, resource: def.plural, subresource: attrs.subresource, namespace: attrs.namespace });
  if (rulesMatch(w.hook, target(attrs.resource))) return attrs.resource;
  if (w.hook.matchPolicy === 'Exact') return undefined;
  for (const def of resources) {
    const s = def.storedAs;
    if (def === attrs.resource || !s || s.group !== attrs.resource.group || s.plural !== attrs.resource.plural || s.version !== attrs.resource.version) continue;
    if (rulesMatch(w.hook, target(def))) return def;
  }
  return undefined;
}

/** The labels a namespaceSelector is matched against, or undefined when it always matches (cluster-scoped objects). */
function namespaceLabels(attrs: AdmissionAttributes, ctx: AdmissionContext): Record<string, string> | undefined | 'cluster' {
  if (attrs.resource.group === '' && attrs.resource.plural === 'namespaces') return (attrs.object ?? attrs.oldObject)?.metadata?.labels ?? {};
  if (attrs.namespace === '') return 'cluster';
  return ctx.cached('', 'namespaces', '', attrs.namespace)?.metadata?.labels ?? {};
}

/**
 * The webhooks to call for a write, in order (ShouldCallHook). `rulesOnly` checks the rules alone (the mutating
 * plugin's cheap first pass: selectors and conditions are checked against the object as each call finds it).
 */
export function relevantWebhooks(hooks: readonly CompiledWebhook[], attrs: AdmissionAttributes, ctx: AdmissionContext, resources: readonly ResourceDefinition[], rulesOnly = false): Invocation[] {
  if (hooks.length === 0) return [];
  if (attrs.resource.group === GROUP && EXEMPT.has(attrs.resource.plural)) return [];
  const out: Invocation[] = [];
  let nsLabels: ReturnType<typeof namespaceLabels> | null = null;
  for (const w of hooks) {
    const view = matchingView(w, attrs, resources);
    if (!view) continue;
    if (rulesOnly) {
      out.push({ webhook: w, view });
      continue;
    }
    if (!w.selectors.namespaceEverything) {
      nsLabels ??= namespaceLabels(attrs, ctx);
      if (nsLabels !== 'cluster' && !namespaceSelectorMatches(w.selectors, nsLabels)) continue;
    }
    if (!objectSelectorMatches(w.selectors, attrs.object, attrs.oldObject)) continue;
    const inv = { webhook: w, view };
    if (w.hook.matchConditions?.length && !matchConditionsHold(inv, attrs)) continue;
    out.push(inv);
  }
  return out;
}

/**
 * matchConditions (matchconditions.Matcher): all must be true for the webhook to be called. One false skips it; an
 * evaluation error with none false skips it under failurePolicy Ignore and refuses the request under Fail.
 */
function matchConditionsHold(inv: Invocation, attrs: AdmissionAttributes): boolean {
  const hook = inv.webhook.hook;
  const review = admissionReview(inv, attrs, '', 'v1').request as Record<string, unknown>;
  const { object, oldObject, ...request } = review;
  const activation = { object: toCel(object), oldObject: toCel(oldObject), request: toCel(request) };
  const errors: string[] = [];
  for (const condition of hook.matchConditions ?? []) {
    const program = compileCel(condition.expression ?? '', MATCH_CONDITION_VARIABLES, 'bool');
    try {
      if (isCompileError(program)) throw new Error(program.message);
      const result = program.evaluate(activation);
      if (result === false) return false;
      if (result !== true) throw new Error(`cel expression must evaluate to a bool, got ${typeof result}`);
    } catch (err) {
      errors.push(`matchCondition '${condition.name}' error: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (errors.length === 0) return true;
  if (hook.failurePolicy === 'Ignore') return false;
  throw internalError(new Error(`failed calling webhook "${hook.name}": ${errors.join(', ')}`));
}

const OPTIONS_KIND: Record<Operation, string | undefined> = { CREATE: 'CreateOptions', UPDATE: 'UpdateOptions', DELETE: 'DeleteOptions', CONNECT: undefined };

function inView(obj: KubeObject | undefined, inv: Invocation, attrs: AdmissionAttributes): KubeObject | undefined {
  if (!obj) return undefined;
  if (inv.view === attrs.resource || !inv.view.storedAs) return obj;
  return inv.view.storedAs.fromStorage(structuredClone(obj));
}

/** The AdmissionReview for one call (webhookrequest.CreateAdmissionObjects). */
export function admissionReview(inv: Invocation, attrs: AdmissionAttributes, uid: string, reviewVersion: string): Record<string, unknown> {
  const view = inv.view;
  const stored = attrs.resource;
  const gvr = (d: ResourceDefinition) => ({ group: d.group, version: d.version, resource: d.plural });
  const gvk = (d: ResourceDefinition) => ({ group: d.group, version: d.version, kind: d.kind });
  const optionsKind = OPTIONS_KIND[attrs.operation];
  const request: Record<string, unknown> = {
    uid,
    kind: gvk(view),
    resource: gvr(view),
    ...(attrs.subresource ? { subResource: attrs.subresource } : {}),
    requestKind: gvk(stored),
    requestResource: gvr(stored),
    ...(attrs.subresource ? { requestSubResource: attrs.subresource } : {}),
    name: attrs.name,
    ...(attrs.namespace ? { namespace: attrs.namespace } : {}),
    operation: attrs.operation,
    userInfo: { username: attrs.user.username, ...(attrs.user.uid ? { uid: attrs.user.uid } : {}), groups: attrs.user.groups, ...(attrs.user.extra ? { extra: attrs.user.extra } : {}) },
    object: attrs.operation === 'DELETE' ? null : (inView(attrs.object, inv, attrs) ?? null),
    oldObject: inView(attrs.oldObject, inv, attrs) ?? null,
    dryRun: attrs.dryRun,
    options: optionsKind ? { kind: optionsKind, apiVersion: 'meta.k8s.io/v1', ...(attrs.dryRun ? { dryRun: ['All'] } : {}) } : null,
  };
  return { apiVersion: `admission.k8s.io/${reviewVersion}`, kind: 'AdmissionReview', request };
}

export interface VerifiedResponse {
  allowed: boolean;
  status?: Status;
  patch?: unknown[];
  warnings: string[];
  auditAnnotations: Record<string, string>;
}

/** webhookrequest.VerifyAdmissionResponse: the answer is an AdmissionReview of the version sent, for this uid. */
export function verifyResponse(answer: unknown, uid: string, reviewVersion: string, mutating: boolean): VerifiedResponse {
  const review = (answer ?? {}) as { apiVersion?: string; kind?: string; response?: Record<string, unknown> };
  if (typeof review !== 'object' || Array.isArray(review)) throw new WebhookCallError('webhook response was not an AdmissionReview object');
  if (reviewVersion === 'v1' && (review.apiVersion !== 'admission.k8s.io/v1' || review.kind !== 'AdmissionReview')) {
    const [group, version] = (review.apiVersion ?? '').includes('/') ? (review.apiVersion as string).split('/') : ['', review.apiVersion ?? ''];
    throw new WebhookCallError(`expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got ${group}/${version}, Kind=${review.kind ?? ''}`);
  }
  const r = review.response;
  if (!r || typeof r !== 'object') throw new WebhookCallError('webhook response was absent');
  if (r.uid !== uid) throw new WebhookCallError(`expected response.uid="${uid}", got "${String(r.uid ?? '')}"`);
  const out: VerifiedResponse = {
    allowed: r.allowed === true,
    status: r.status && typeof r.status === 'object' ? (r.status as Status) : undefined,
    warnings: Array.isArray(r.warnings) ? r.warnings.filter((w): w is string => typeof w === 'string') : [],
    auditAnnotations: r.auditAnnotations && typeof r.auditAnnotations === 'object' ? (r.auditAnnotations as Record<string, string>) : {},
  };
  if (r.patch !== undefined && r.patch !== null && r.patch !== '') {
    if (!mutating) throw new WebhookCallError('validating webhook may not return response.patch');
    if (r.patchType === undefined || r.patchType === null) throw new WebhookCallError('webhook returned response.patch but not response.patchType');
    if (r.patchType !== 'JSONPatch') throw new WebhookCallError(`webhook returned invalid response.patchType of "${String(r.patchType)}"`);
    let ops: unknown;
    try {
      ops = JSON.parse(Buffer.from(String(r.patch), 'base64').toString('utf8'));
    } catch (err) {
      throw internalError(new Error(`admission webhook patch is not valid JSON: ${(err as Error).message}`));
    }
    if (!Array.isArray(ops)) throw internalError(new Error('admission webhook patch is not a JSON array of operations'));
    out.patch = ops;
  }
  return out;
}

/** webhookerrors.ToStatusErr: the refusal the client sees, in upstream's words and with the webhook's code. */
export function deniedError(webhook: string, result: Status | undefined): StatusError {
  const deniedBy = `admission webhook "${webhook}" denied the request`;
  const status: Status = { ...(result ?? {}) };
  if (!status.code || status.code < 400) status.code = 400;
  status.status = 'Failure';
  if (status.message) status.message = `${deniedBy}: ${status.message}`;
  else if (status.reason) status.message = `${deniedBy}: ${status.reason}`;
  else status.message = `${deniedBy} without explanation`;
  return new StatusError(status);
}

/** How long one webhook may take, and the timeout the review version picks. */
function timeoutSecondsOf(hook: AnyWebhook): number {
  return hook.timeoutSeconds ?? 10;
}

/**
 * Calls one webhook: dry-run refusal for side effects, the HTTPS call, the answer checked. Returns the verified
 * response, or throws: a WebhookCallError (the call failed: failurePolicy applies) or a StatusError (final).
 */
async function callWebhook(inv: Invocation, attrs: AdmissionAttributes, ctx: AdmissionContext, mutating: boolean): Promise<VerifiedResponse> {
  const hook = inv.webhook.hook;
  const name = hook.name ?? '';
  if (attrs.dryRun && hook.sideEffects !== 'None' && hook.sideEffects !== 'NoneOnDryRun') {
    throw badRequest(`admission webhook "${name}" does not support dry run`);
  }
  const reviewVersion = (hook.admissionReviewVersions ?? ['v1']).includes('v1') ? 'v1' : 'v1beta1';
  const uid = randomUUID();
  const timeout = timeoutSecondsOf(hook);
  const target = resolveTarget(hook.clientConfig ?? {}, timeout, ctx);
  const body = JSON.stringify(admissionReview(inv, attrs, uid, reviewVersion));
  const answer = await postReview(target, hook.clientConfig?.caBundle, body, timeout * 1000);
  const verified = verifyResponse(answer, uid, reviewVersion, mutating);
  for (const w of verified.warnings) attrs.warn(w);
  // The webhook's auditAnnotations, keyed `<webhook name>/<key>` (whether it allowed the request or not).
  if (attrs.annotate) {
    for (const [k, v] of Object.entries(verified.auditAnnotations)) {
      const key = `${name}/${k}`;
      if (typeof v === 'string' && key.length <= 316 && QUALIFIED_KEY.test(key)) attrs.annotate(key, v);
      else log.warn('webhook audit annotation not recorded (invalid key or value)', { webhook: name, key });
    }
  }
  return verified;
}

/**
 * A call that failed: ignored under failurePolicy Ignore (recorded in the audit event under `failedOpenKey`), else
 * InternalError `failed calling webhook "x": …`.
 */
function callFailure(hook: AnyWebhook, err: WebhookCallError, attrs: AdmissionAttributes, failedOpenKey: string): StatusError | undefined {
  const name = hook.name ?? '';
  if (hook.failurePolicy === 'Ignore') {
    log.warn('failed calling webhook, failing open', { webhook: name, err: err.message });
    attrs.annotate?.(failedOpenKey, name);
    return undefined;
  }
  log.warn('failed calling webhook, failing closed', { webhook: name, err: err.message });
  return internalError(new Error(`failed calling webhook "${name}": failed to call webhook: ${err.message}`));
}

function isCallError(err: unknown): err is WebhookCallError {
  return err instanceof WebhookCallError;
}

/** Mutating webhooks: called in order, patches applied in place to attrs.object. */
export class MutatingWebhookAdmission implements MutatingAdmission {
  readonly name = 'MutatingAdmissionWebhook';
  readonly operations: readonly Operation[] = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'];
  readonly subresourceActions = true;
  private readonly source = new WebhookSource('mutatingwebhookconfigurations');

  constructor(private readonly resources: readonly ResourceDefinition[]) {}

  admit(attrs: AdmissionAttributes, ctx: AdmissionContext): void | Promise<void> {
    const hooks = this.source.hooks(ctx);
    const candidates = relevantWebhooks(hooks, attrs, ctx, this.resources, true);
    if (candidates.length === 0) return undefined;
    return this.run(candidates.map((c) => c.webhook), hooks, attrs, ctx);
  }

  /**
   * Each webhook in turn, its selectors and match conditions checked against the object as the webhooks before it
   * left it (upstream decides per call). Reinvocation (IfNeeded): a webhook that already ran is called again, once, if
   * a webhook after it changed the object.
   */
  private async run(candidates: CompiledWebhook[], hooks: readonly CompiledWebhook[], attrs: AdmissionAttributes, ctx: AdmissionContext): Promise<void> {
    const ranBeforeChange = new Set<CompiledWebhook>();
    let reinvoke = false;
    for (const w of candidates) {
      const [inv] = relevantWebhooks([w], attrs, ctx, this.resources);
      if (!inv) continue;
      const changed = await this.callOne(inv, attrs, ctx, `round_0_index_${hooks.indexOf(w)}`);
      if (changed && ranBeforeChange.size > 0) reinvoke = true;
      if (w.hook.reinvocationPolicy === 'IfNeeded') ranBeforeChange.add(w);
    }
    if (!reinvoke) return;
    for (const w of candidates) {
      if (!ranBeforeChange.has(w)) continue;
      const [inv] = relevantWebhooks([w], attrs, ctx, this.resources);
      if (inv) await this.callOne(inv, attrs, ctx, `round_1_index_${hooks.indexOf(w)}`);
    }
  }

  /**
   * One webhook; true when its patch changed the object. `at` (`round_R_index_I`: the pass, and the webhook's place
   * among all mutating webhooks) names its audit annotations, as upstream's webhookAnnotator: whether it mutated the
   * object (always, at Metadata), the patch it returned (at Request), a failure it was forgiven.
   */
  private async callOne(inv: Invocation, attrs: AdmissionAttributes, ctx: AdmissionContext, at: string): Promise<boolean> {
    if (!attrs.annotate) return this.mutate(inv, attrs, ctx, at);
    const hook = inv.webhook.hook;
    let changed = false;
    try {
      changed = await this.mutate(inv, attrs, ctx, at);
      return changed;
    } finally {
      attrs.annotate(`${MUTATION_ANNOTATION}${at}`, JSON.stringify({ configuration: inv.webhook.configuration, webhook: hook.name ?? '', mutated: changed }));
    }
  }

  private async mutate(inv: Invocation, attrs: AdmissionAttributes, ctx: AdmissionContext, at: string): Promise<boolean> {
    const hook = inv.webhook.hook;
    let verified: VerifiedResponse;
    try {
      verified = await callWebhook(inv, attrs, ctx, true);
    } catch (err) {
      if (!isCallError(err)) throw err;
      const refusal = callFailure(hook, err, attrs, `${FAILED_OPEN_MUTATION}${at}`);
      if (refusal) throw refusal;
      return false;
    }
    if (!verified.allowed) throw deniedError(hook.name ?? '', verified.status);
    if (!verified.patch || verified.patch.length === 0) return false;
    if (!attrs.object || attrs.operation === 'DELETE') {
      throw internalError(new Error(`admission webhook "${hook.name}" attempted to modify the object, which is not supported for this operation`));
    }
    const before = JSON.stringify(attrs.object);
    let patched = applyPatchTo(attrs.object, inv, attrs, verified.patch);
    if (inv.view !== attrs.resource && inv.view.storedAs) patched = inv.view.storedAs.toStorage(patched);
    attrs.annotate?.(`${PATCH_ANNOTATION}${at}`, JSON.stringify({ configuration: inv.webhook.configuration, webhook: hook.name ?? '', patch: verified.patch, patchType: 'JSONPatch' }), 'Request');
    if (JSON.stringify(patched) === before) return false;
    reprepare(patched, attrs);
    // Plugins change attrs.object in place: the caller holds that reference.
    const target = attrs.object as unknown as Record<string, unknown>;
    for (const key of Object.keys(target)) delete target[key];
    Object.assign(target, patched);
    return true;
  }
}

function applyPatchTo(object: KubeObject, inv: Invocation, attrs: AdmissionAttributes, ops: unknown[]): KubeObject {
  const source = inView(object, inv, attrs)!;
  let result: unknown;
  try {
    result = applyJsonPatch(source, ops);
  } catch (err) {
    throw internalError(new Error(`admission webhook "${inv.webhook.hook.name}" returned a patch that cannot be applied: ${err instanceof Error ? err.message : String(err)}`));
  }
  const obj = result as KubeObject;
  if (!obj || typeof obj !== 'object' || Array.isArray(obj) || typeof obj.metadata !== 'object' || obj.metadata === null) {
    throw internalError(new Error(`admission webhook "${inv.webhook.hook.name}" returned a patch whose result is not an object`));
  }
  if (obj.apiVersion !== source.apiVersion || obj.kind !== source.kind) {
    throw internalError(new Error(`admission webhook "${inv.webhook.hook.name}" changed the kind of the object from ${source.apiVersion}, Kind=${source.kind}`));
  }
  return obj;
}

/**
 * Upstream decodes a patched object again, which defaults it, and its PrepareForCreate/Update (status reset, derived
 * fields) runs after mutating admission; skiff prepares before admission, so a patched object is prepared again.
 */
function reprepare(obj: KubeObject, attrs: AdmissionAttributes): void {
  if (attrs.subresource !== '') return;
  const def = attrs.resource;
  if (attrs.operation === 'CREATE') {
    if (def.hasStatus && !def.keepsStatusOnCreate) delete obj.status;
    def.strategy.prepareForCreate?.(obj, { user: attrs.user });
  } else if (attrs.operation === 'UPDATE' && attrs.oldObject) {
    def.strategy.prepareForUpdate?.(obj, attrs.oldObject);
  }
}

/** Validating webhooks: all matching ones called at once; the first refusal in webhook order is the answer. */
export class ValidatingWebhookAdmission implements ValidatingAdmission {
  readonly name = 'ValidatingAdmissionWebhook';
  readonly operations: readonly Operation[] = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'];
  readonly subresourceActions = true;
  private readonly source = new WebhookSource('validatingwebhookconfigurations');

  constructor(private readonly resources: readonly ResourceDefinition[]) {}

  validate(attrs: AdmissionAttributes, ctx: AdmissionContext): void | Promise<void> {
    const relevant = relevantWebhooks(this.source.hooks(ctx), attrs, ctx, this.resources);
    if (relevant.length === 0) return undefined;
    return this.run(relevant, attrs, ctx);
  }

  /** Every relevant webhook at once; `i`, a webhook's place among them, names its failed-open annotation (upstream). */
  private async run(relevant: Invocation[], attrs: AdmissionAttributes, ctx: AdmissionContext): Promise<void> {
    const outcomes = await Promise.all(
      relevant.map(async (inv, i): Promise<StatusError | undefined> => {
        const hook = inv.webhook.hook;
        try {
          const verified = await callWebhook(inv, attrs, ctx, false);
          return verified.allowed ? undefined : deniedError(hook.name ?? '', verified.status);
        } catch (err) {
          if (isCallError(err)) return callFailure(hook, err, attrs, `${FAILED_OPEN_VALIDATING}round_0_index_${i}`);
          if (err instanceof StatusError) return err;
          return internalError(err);
        }
      }),
    );
    const refusal = outcomes.find((o) => o !== undefined);
    if (refusal) throw refusal;
  }
}
