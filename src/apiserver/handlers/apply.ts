/**
 * Server-side apply (PATCH with application/apply-patch+yaml): merges the configuration into the object by the
 * schema and records its manager's fields, or answers 409 with the conflicting fields; creates the object when it
 * does not exist (the main resource only), as kube-apiserver does.
 */
import type { KubeObject } from '../../api/object.js';
import { groupVersion } from '../../api/object.js';
import { badRequest, isStatusError } from '../../api/status.js';
import { applyConflictError, fieldManagerOf, serverSideApply } from '../apply/apply.js';
import { KUBECTL_MANAGER, lastAppliedAllows, syncLastApplied } from '../apply/last-applied.js';
import { APPLY_PATCH_TYPE, decodePatchBody, fieldValidation, isDryRun, parseBool, readBody } from './decode.js';
import type { ApiRequest, RequestScope } from './scope.js';
import { auditAnnotator } from '../audit/auditor.js';

export async function applyResource(scope: RequestScope, r: ApiRequest, subresource: string): Promise<void> {
  const { def, query } = r;
  const { namespace: ns, name } = r.info;
  const manager = query.get('fieldManager') ?? '';
  if (manager === '') throw badRequest(`PATCH, ${APPLY_PATCH_TYPE}: fieldManager is required`);
  fieldManagerOf(manager, undefined);
  const force = parseBool('force', query.get('force')) ?? false;
  const body = decodePatchBody(APPLY_PATCH_TYPE, await readBody(r.req), scope.ext);
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('error decoding patch: the apply configuration must be an object');
  const applied = body as KubeObject;
  const gv = groupVersion(def.group, def.version);
  if (applied.apiVersion !== gv) throw badRequest(`the API version in the data (${applied.apiVersion ?? ''}) does not match the expected API version (${gv})`);
  if (applied.kind !== def.kind) throw badRequest(`the kind in the data (${applied.kind ?? ''}) does not match the expected kind (${def.kind})`);
  if (applied.metadata !== undefined && (typeof applied.metadata !== 'object' || applied.metadata === null || Array.isArray(applied.metadata))) {
    throw badRequest('metadata must be an object');
  }
  if (applied.metadata?.name !== undefined && applied.metadata.name !== name) {
    throw badRequest(`the name of the object (${applied.metadata.name}) does not match the name on the URL (${name})`);
  }
  scope.checkDecoded(r, applied, fieldValidation(query));
  const dryRun = isDryRun(query);
  const storage = scope.storageOf(def);
  // A status write keeps the stored metadata (resource-ops.ts), as upstream's status strategies do, but not the
  // managedFields the apply computed: those are put back on the object written (or the applier would own nothing).
  let managedFields: KubeObject['metadata']['managedFields'];
  const keepManagedFields = (_current: KubeObject | undefined, next: KubeObject): void => {
    if (managedFields === undefined) delete next.metadata.managedFields;
    else next.metadata.managedFields = managedFields;
  };
  // Managers that applied through another version of a custom resource are compared by that version's schema (not
  // across a conversion webhook, whose versions differ in shape).
  const typeOfVersion =
    def.customSchema?.applyType && !def.storedAs?.remote
      ? (apiVersion: string) => {
          const other = apiVersion.startsWith(`${def.group}/`) ? scope.lookup(def.group, apiVersion.slice(def.group.length + 1), def.plural) : undefined;
          return other?.storedAs?.remote ? undefined : other?.customSchema?.applyType?.();
        }
      : undefined;
  const run = (live: KubeObject | undefined): KubeObject => {
    const request = { live, applied, manager, force, typeName: def.schemaName, type: def.customSchema?.applyType?.(), typeOfVersion, now: new Date(), subresource, statusIsSubresource: def.hasStatus };
    let result = serverSideApply(request);
    // kubectl's client-side to server-side migration: conflicts only over fields of the last-applied annotation
    // are taken over (last-applied.ts).
    if (result.conflicts && manager === KUBECTL_MANAGER && lastAppliedAllows(live, result.conflicts, def.schemaName, request.type)) {
      result = serverSideApply({ ...request, force: true });
    }
    if (result.conflicts) throw applyConflictError(result.conflicts);
    if (manager === KUBECTL_MANAGER && subresource === '') syncLastApplied(live, applied, result.object);
    managedFields = result.object.metadata.managedFields;
    return result.object;
  };
  // The current object in the served version, the configuration applied there, the result in the stored version
  // (each a call to the CRD's conversion webhook when it has one).
  const applyTo = (cur: KubeObject): KubeObject | Promise<KubeObject> => {
    const served = scope.toServed(def, cur);
    return served instanceof Promise ? served.then((s) => scope.toStored(def, run(s.obj))) : scope.toStored(def, run(served.obj));
  };
  // Update, else create; a create that loses a race with another creator retries as an update.
  for (let attempt = 0; ; attempt++) {
    try {
      const obj = await scope.ops.update(storage, ns, name, applyTo, { dryRun, user: r.user, subresource, warn: (text) => r.warnings.push(text), annotate: auditAnnotator(r.req), recordManagedFields: keepManagedFields });
      return scope.sendObject(r, 200, obj);
    } catch (err) {
      if (!(isStatusError(err) && err.code === 404 && err.reason === 'NotFound') || subresource !== '') throw err;
    }
    const fresh = run(undefined);
    fresh.metadata.name = name;
    try {
      // create takes the object over; `fresh` shares values with the applied configuration a retry applies again.
      const obj = await scope.ops.create(storage, ns, await scope.toStoredForCreate(def, ns, structuredClone(fresh)), { dryRun, user: r.user, warn: (text) => r.warnings.push(text), annotate: auditAnnotator(r.req) });
      return scope.sendObject(r, 201, obj);
    } catch (err) {
      if (!(isStatusError(err) && err.reason === 'AlreadyExists') || attempt > 0) throw err;
    }
  }
}
