/**
 * ControllerRevisions, the history of a StatefulSet's or DaemonSet's pod template (pkg/controller/history): each
 * revision stores the template as the patch `{"spec":{"template":{...,"$patch":"replace"}}}`, is named
 * `<owner>-<hash of that patch>`, carries the hash in the `controller-revision-hash` label, and has a revision
 * number that grows with each change (a rollback to an old template re-numbers the old revision instead of
 * creating a new one). `kubectl rollout history/undo` for these kinds read and write exactly this.
 */
import type { ControllerRevision } from 'kubernetes-types/apps/v1.js';
import type { PodTemplateSpec } from 'kubernetes-types/core/v1.js';
import type { KubeObject, Mutable } from '../../api/object.js';
import { isAlreadyExists } from '../../api/status.js';
import { ControllerRevisions } from '../../client/resources.js';
import type { Client, Lister } from '../../client/types.js';
import { isControlledBy, newControllerRef } from './owner-references.js';

export const controllerRevisionHashLabel = 'controller-revision-hash';

export type RevisionObject = Mutable<ControllerRevision> & KubeObject;

/** The revision data for a template: the strategic-merge patch that restores it (getPatch). */
export function templatePatch(template: PodTemplateSpec | undefined): { spec: { template: Record<string, unknown> } } {
  return { spec: { template: { ...(structuredClone(template ?? {}) as Record<string, unknown>), $patch: 'replace' } } };
}

/** The template stored in a revision (what ApplyRevision puts back into the owner's spec). */
export function templateOfRevision(rev: ControllerRevision): PodTemplateSpec {
  const data = rev.data as { spec?: { template?: Record<string, unknown> } } | undefined;
  const { $patch: _, ...template } = structuredClone(data?.spec?.template ?? {});
  return template as PodTemplateSpec;
}

/** JSON with object keys sorted at every level, as Go's encoding/json writes maps: equal data, equal text. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(v as object)
    .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
}

const safeAlphabet = 'bcdfghjklmnpqrstvwxz2456789';

/**
 * HashControllerRevision: 32-bit FNV-1 over the data's JSON (and the collision count, when there is one), written
 * in decimal and mapped through the alphabet of k8s.io/apimachinery rand.SafeEncodeString (no vowels, no 0/1/3).
 */
export function hashRevision(data: unknown, collisionCount?: number): string {
  let h = 0x811c9dc5;
  const feed = (bytes: Uint8Array) => {
    for (const b of bytes) {
      h = Math.imul(h, 0x01000193) >>> 0;
      h = (h ^ b) >>> 0;
    }
  };
  feed(new TextEncoder().encode(canonicalJson(data)));
  if (collisionCount) feed(new TextEncoder().encode(String(collisionCount)));
  return [...String(h)].map((ch) => safeAlphabet[ch.charCodeAt(0) % safeAlphabet.length]).join('');
}

/** ControllerRevisionName: the owner's name (cut to 223 characters) and the hash. */
export function revisionName(prefix: string, hash: string): string {
  return `${prefix.length > 223 ? prefix.slice(0, 223) : prefix}-${hash}`;
}

export function equalRevisionData(a: ControllerRevision, b: ControllerRevision): boolean {
  return canonicalJson(a.data) === canonicalJson(b.data);
}

/** Ascending by revision number, then creation time, then name (SortControllerRevisions). */
export function sortRevisions<T extends ControllerRevision>(revs: T[]): T[] {
  return [...revs].sort((a, b) => {
    if (a.revision !== b.revision) return a.revision - b.revision;
    const ta = a.metadata?.creationTimestamp ?? '';
    const tb = b.metadata?.creationTimestamp ?? '';
    if (ta !== tb) return ta < tb ? -1 : 1;
    const na = a.metadata?.name ?? '';
    const nb = b.metadata?.name ?? '';
    return na < nb ? -1 : na > nb ? 1 : 0;
  });
}

/** One more than the highest revision number (1 for an empty history). */
export function nextRevisionNumber(revs: readonly ControllerRevision[]): number {
  return revs.reduce((max, r) => Math.max(max, r.revision), 0) + 1;
}

/** Revisions in the owner's namespace whose controller reference is the owner. Adoption of orphans is not done. */
export function ownedRevisions(lister: Lister<RevisionObject>, owner: KubeObject): RevisionObject[] {
  return lister.list(owner.metadata.namespace ?? '').filter((r) => isControlledBy(r, owner));
}

/**
 * NewControllerRevision: a revision of the owner's template, labelled with the template's labels plus the hash.
 * The owner's annotations are copied, as the StatefulSet and DaemonSet controllers do.
 */
export function newControllerRevision(
  owner: KubeObject,
  ownerApiVersion: string,
  ownerKind: string,
  template: PodTemplateSpec | undefined,
  revision: number,
  collisionCount: number,
): RevisionObject {
  const data = templatePatch(template);
  const hash = hashRevision(data, collisionCount);
  return {
    apiVersion: 'apps/v1',
    kind: 'ControllerRevision',
    metadata: {
      name: revisionName(owner.metadata.name ?? '', hash),
      namespace: owner.metadata.namespace,
      labels: { ...(template?.metadata?.labels ?? {}), [controllerRevisionHashLabel]: hash },
      ...(owner.metadata.annotations ? { annotations: { ...owner.metadata.annotations } } : {}),
      ownerReferences: [newControllerRef(owner, ownerApiVersion, ownerKind)],
    },
    data,
    revision,
  };
}

/**
 * Creates the revision (CreateControllerRevision). If the name is taken by a revision with the same data, that one
 * is returned (our own earlier create, unseen by a stale cache); if by different data (a hash collision), the
 * collision count is raised and a new name tried. `collision.count` reports the count finally used.
 */
export async function createControllerRevision(
  client: Client,
  owner: KubeObject,
  ownerApiVersion: string,
  ownerKind: string,
  template: PodTemplateSpec | undefined,
  revision: number,
  collision: { count: number },
): Promise<RevisionObject> {
  for (;;) {
    const rev = newControllerRevision(owner, ownerApiVersion, ownerKind, template, revision, collision.count);
    try {
      return await client.create<RevisionObject>(ControllerRevisions, owner.metadata.namespace ?? '', rev);
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      const existing = await client.get<RevisionObject>(ControllerRevisions, owner.metadata.namespace ?? '', rev.metadata.name ?? '');
      if (equalRevisionData(existing, rev)) return existing;
      collision.count++;
    }
  }
}

/** Gives an existing revision a new number (a rollback to its template); returns the updated revision. */
export async function renumberRevision(client: Client, rev: RevisionObject, revision: number): Promise<RevisionObject> {
  if (rev.revision === revision) return rev;
  const copy = structuredClone(rev) as RevisionObject;
  copy.revision = revision;
  return client.update<RevisionObject>(ControllerRevisions, copy.metadata.namespace ?? '', copy);
}
