/**
 * Adoption and release of owned objects (upstream controller_ref_manager.go): a controller claims the objects its
 * selector matches. It keeps those it already controls, adopts matching orphans (adds its controller reference),
 * and releases those it controls that no longer match (removes its reference). Objects controlled by someone else
 * are never touched.
 *
 * Both writes are JSON patches guarded by `test` operations on the object's uid (and, for release, on the reference
 * being removed), so a patch never lands on a recreated object of the same name or on a list that changed since the
 * cache saw it; upstream sends strategic merge patches with the uid as precondition, to the same effect.
 */
import type { OwnerReference } from 'kubernetes-types/meta/v1.js';
import { matches, type LabelSelector } from '../../api/labels.js';
import type { KubeObject } from '../../api/object.js';
import { isNotFound, isStatusError } from '../../api/status.js';
import type { Client, ResourceType } from '../../client/types.js';
import { controllerRefOf, newControllerRef } from './owner-references.js';

export interface ControllerRefManagerOptions {
  client: Client;
  /** The type of the owned objects, e.g. Pods or ReplicaSets. */
  owned: ResourceType;
  owner: KubeObject;
  ownerApiVersion: string;
  ownerKind: string;
  selector: LabelSelector;
  /**
   * Rejects when the owner must not adopt: upstream RecheckDeletionTimestamp reads the owner fresh (not from the
   * cache) and refuses when it is gone, was recreated with another uid, or is being deleted. Called at most once,
   * before the first adoption, so a sync that adopts nothing costs no extra read.
   */
  canAdopt: () => Promise<void>;
}

export class ControllerRefManager<T extends KubeObject> {
  private adoptCheck: Promise<void> | undefined;

  constructor(private readonly opts: ControllerRefManagerOptions) {}

  /**
   * The objects the owner controls after claiming. Every object is tried; errors are collected and thrown together
   * at the end (after the successful claims were made), so one failing adoption does not stop the others.
   */
  async claim(objs: readonly T[]): Promise<T[]> {
    const claimed: T[] = [];
    const errors: unknown[] = [];
    for (const obj of objs) {
      // Decided synchronously: a sync over thousands of pods that changes nothing must not cost an await per pod.
      const decision = this.decide(obj);
      if (decision === 'keep') {
        claimed.push(obj);
        continue;
      }
      if (decision === 'ignore') continue;
      try {
        if (decision === 'release') {
          await this.release(obj);
        } else {
          await this.adopt(obj);
          claimed.push(obj);
        }
      } catch (err) {
        // Deleted in the meantime: nothing to adopt. Anything else (someone else adopted it first, a transient
        // failure) fails the sync so that it is retried.
        if (!isNotFound(err)) errors.push(err);
      }
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new Error(`[${errors.map((e) => (e as Error).message).join(', ')}]`);
    return claimed;
  }

  private decide(obj: T): 'keep' | 'ignore' | 'adopt' | 'release' {
    const { owner, selector } = this.opts;
    const match = matches(selector, obj.metadata.labels);
    const ref = controllerRefOf(obj);
    if (ref) {
      if (ref.uid !== owner.metadata.uid) return 'ignore';
      if (match) return 'keep';
      // Ours but no longer selected: let it go, unless the owner is being deleted (the garbage collector will
      // handle the object, and releasing it now would orphan it instead).
      return owner.metadata.deletionTimestamp ? 'ignore' : 'release';
    }
    if (owner.metadata.deletionTimestamp || !match) return 'ignore';
    if (obj.metadata.deletionTimestamp) return 'ignore';
    if (owner.metadata.namespace && owner.metadata.namespace !== obj.metadata.namespace) return 'ignore';
    return 'adopt';
  }

  private async adopt(obj: T): Promise<void> {
    const { client, owned, owner, ownerApiVersion, ownerKind } = this.opts;
    this.adoptCheck ??= this.opts.canAdopt();
    try {
      await this.adoptCheck;
    } catch (err) {
      throw new Error(`can't adopt ${owned.kind} ${obj.metadata.namespace}/${obj.metadata.name} (${obj.metadata.uid}): ${(err as Error).message}`);
    }
    const ref = newControllerRef(owner, ownerApiVersion, ownerKind);
    const existing = obj.metadata.ownerReferences;
    const patch = [
      { op: 'test', path: '/metadata/uid', value: obj.metadata.uid },
      existing && existing.length > 0
        ? { op: 'add', path: '/metadata/ownerReferences/-', value: ref }
        : { op: 'add', path: '/metadata/ownerReferences', value: [ref] },
    ];
    await client.patch(owned, obj.metadata.namespace ?? '', obj.metadata.name ?? '', 'json', patch);
  }

  private async release(obj: T): Promise<void> {
    const { client, owned, owner } = this.opts;
    const refs: OwnerReference[] = obj.metadata.ownerReferences ?? [];
    const i = refs.findIndex((r) => r.uid === owner.metadata.uid);
    if (i < 0) return;
    const patch = [
      { op: 'test', path: '/metadata/uid', value: obj.metadata.uid },
      { op: 'test', path: `/metadata/ownerReferences/${i}/uid`, value: owner.metadata.uid },
      { op: 'remove', path: `/metadata/ownerReferences/${i}` },
    ];
    try {
      await client.patch(owned, obj.metadata.namespace ?? '', obj.metadata.name ?? '', 'json', patch);
    } catch (err) {
      // Gone, or the reference is no longer there (the test operations failed: someone else released it or the
      // object was recreated): either way it is not ours any more, which is what releasing wanted.
      if (isNotFound(err) || (isStatusError(err) && err.reason === 'Invalid')) return;
      throw err;
    }
  }
}

/**
 * upstream RecheckDeletionTimestamp: a fresh GET of the owner; fails when it was recreated (another uid) or is
 * being deleted, so a dying owner never adopts.
 */
export async function recheckOwner(client: Client, rt: ResourceType, owner: KubeObject): Promise<void> {
  const { namespace = '', name = '', uid } = owner.metadata;
  const fresh = await client.get(rt, namespace, name);
  if (fresh.metadata.uid !== uid) {
    throw new Error(`original ${rt.kind} ${namespace}/${name} is gone: got uid ${fresh.metadata.uid}, wanted ${uid}`);
  }
  if (fresh.metadata.deletionTimestamp) {
    throw new Error(`${namespace}/${name} has just been deleted at ${fresh.metadata.deletionTimestamp}`);
  }
}
