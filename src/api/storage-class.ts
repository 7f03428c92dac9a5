/**
 * Which StorageClass is the cluster's default (k8s.io/component-helpers/storage/volume GetDefaultClass): a class
 * annotated storageclass.kubernetes.io/is-default-class (or its beta form) "true"; of several, the newest, ties by
 * name (upstream picks the newest since 1.26, so adding a new default does not break claims). Shared by the
 * DefaultStorageClass admission plugin and the PV binder.
 */
import type { KubeObject } from './object.js';

export const ANN_DEFAULT_CLASS = 'storageclass.kubernetes.io/is-default-class';
export const ANN_BETA_DEFAULT_CLASS = 'storageclass.beta.kubernetes.io/is-default-class';
/** The claim's (and volume's) class by annotation, from before spec.storageClassName existed. */
export const ANN_BETA_STORAGE_CLASS = 'volume.beta.kubernetes.io/storage-class';

export function isDefaultStorageClass(sc: KubeObject): boolean {
  const a = sc.metadata.annotations ?? {};
  return a[ANN_DEFAULT_CLASS] === 'true' || a[ANN_BETA_DEFAULT_CLASS] === 'true';
}

/** The default class among `classes`, or undefined when none is marked. */
export function defaultStorageClass<T extends KubeObject>(classes: Iterable<T>): T | undefined {
  const defaults = [...classes].filter(isDefaultStorageClass);
  defaults.sort((a, b) => (b.metadata.creationTimestamp ?? '').localeCompare(a.metadata.creationTimestamp ?? '') || (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
  return defaults[0];
}
