/**
 * ServiceAccount admission (upstream plugin/pkg/admission/serviceaccount/admission.go), on pod CREATE:
 *
 *   mirror pod ─► left alone
 *   spec.serviceAccountName empty ─► `default`
 *   the account must exist ─► 403 `error looking up service account <ns>/<name>: serviceaccount "<name>" not found`
 *     (a missing `default` is looked for again for a moment: its controller creates it just after the namespace)
 *   automount (the pod's automountServiceAccountToken, else the account's, else true) ─► the projected volume
 *     `kube-api-access-<5 random>` (a 3607 s token, kube-root-ca.crt's ca.crt, the namespace from the downward API)
 *     mounted read-only at /var/run/secrets/kubernetes.io/serviceaccount in every init and app container that has
 *     nothing mounted there
 *   no imagePullSecrets on the pod ─► the account's
 */
import type { Pod, ServiceAccount, Volume, VolumeMount } from 'kubernetes-types/core/v1.js';
import { randomInt } from 'node:crypto';
import type { KubeObject } from '../../api/object.js';
import { StatusError } from '../../api/status.js';
import { isCoreResource, type AdmissionAttributes, type AdmissionContext, type MutatingAdmission } from './types.js';

export const DEFAULT_SERVICE_ACCOUNT = 'default';
export const SERVICE_ACCOUNT_VOLUME_PREFIX = 'kube-api-access-';
export const TOKEN_MOUNT_PATH = '/var/run/secrets/kubernetes.io/serviceaccount';
/** The kubelet's token lifetime in the projected volume (serviceaccount.WarnOnlyBoundTokenExpirationSeconds). */
export const PROJECTED_TOKEN_EXPIRATION_SECONDS = 3607;
const MIRROR_POD_ANNOTATION = 'kubernetes.io/config.mirror';
/** utilrand.String's alphabet: no vowels, no confusable characters. */
const RAND_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

export interface ServiceAccountAdmissionOptions {
  /** Attempts to find a missing `default` account, and the pause between them (upstream: 10, 100-200 ms). */
  defaultLookupAttempts?: number;
  retryIntervalMs?: number;
}

export function serviceAccountAdmission(opts: ServiceAccountAdmissionOptions = {}): MutatingAdmission {
  const attempts = opts.defaultLookupAttempts ?? 10;
  const interval = opts.retryIntervalMs ?? 100 + randomInt(100);
  return {
    name: 'ServiceAccount',
    operations: ['CREATE'],
    handles: (attrs) => isCoreResource(attrs, 'pods') && attrs.subresource === '',
    async admit(attrs, ctx) {
      const pod = attrs.object as KubeObject & Pod;
      if (pod.metadata.annotations?.[MIRROR_POD_ANNOTATION] !== undefined) return;
      const spec = (pod.spec ??= { containers: [] }) as NonNullable<Pod['spec']> & Record<string, unknown>;
      if (!spec.serviceAccountName) spec.serviceAccountName = DEFAULT_SERVICE_ACCOUNT;
      // The deprecated alias follows the name (the pod defaulting of upstream's API does the same).
      if (!spec.serviceAccount) spec.serviceAccount = spec.serviceAccountName;
      const name = spec.serviceAccountName;
      const sa = await lookup(ctx, attrs.namespace, name, name === DEFAULT_SERVICE_ACCOUNT ? attempts : 1, interval);
      if (!sa) throw forbiddenPod(attrs, `error looking up service account ${attrs.namespace}/${name}: serviceaccount "${name}" not found`);
      if (shouldAutomount(sa, spec)) mountServiceAccountToken(spec);
      if (!spec.imagePullSecrets || spec.imagePullSecrets.length === 0) {
        const secrets = (sa.imagePullSecrets ?? []).map((s) => ({ name: s.name }));
        if (secrets.length > 0) spec.imagePullSecrets = secrets;
      }
    },
  };
}

async function lookup(ctx: AdmissionContext, namespace: string, name: string, attempts: number, intervalMs: number): Promise<ServiceAccount | undefined> {
  for (let i = 0; i < attempts; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, intervalMs));
    const sa = await ctx.get('', 'serviceaccounts', namespace, name);
    if (sa) return sa as ServiceAccount;
  }
  return undefined;
}

function shouldAutomount(sa: ServiceAccount, spec: NonNullable<Pod['spec']>): boolean {
  if (spec.automountServiceAccountToken !== undefined && spec.automountServiceAccountToken !== null) return spec.automountServiceAccountToken;
  if (sa.automountServiceAccountToken !== undefined && sa.automountServiceAccountToken !== null) return sa.automountServiceAccountToken;
  return true;
}

/** mountServiceAccountToken: one volume, a mount in every init and app container without one at the token path. */
export function mountServiceAccountToken(spec: NonNullable<Pod['spec']>): void {
  const existing = (spec.volumes ?? []).find((v) => v.name.startsWith(SERVICE_ACCOUNT_VOLUME_PREFIX));
  const volumeName = existing?.name ?? SERVICE_ACCOUNT_VOLUME_PREFIX + randomSuffix(5);
  const mount: VolumeMount = { name: volumeName, readOnly: true, mountPath: TOKEN_MOUNT_PATH };
  let needed = false;
  for (const containers of [spec.initContainers ?? [], spec.containers ?? []]) {
    for (const c of containers) {
      const mounts = (c as { volumeMounts?: VolumeMount[] }).volumeMounts ?? [];
      if (mounts.some((m) => m.mountPath === TOKEN_MOUNT_PATH)) continue;
      (c as { volumeMounts?: VolumeMount[] }).volumeMounts = [...mounts, { ...mount }];
      needed = true;
    }
  }
  if (!existing && needed) spec.volumes = [...(spec.volumes ?? []), tokenVolume(volumeName)];
}

/** TokenVolumeSource, with the defaultMode upstream sets explicitly (0644). */
export function tokenVolume(name: string): Volume {
  return {
    name,
    projected: {
      defaultMode: 0o644,
      sources: [
        { serviceAccountToken: { path: 'token', expirationSeconds: PROJECTED_TOKEN_EXPIRATION_SECONDS } },
        { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
        { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
      ],
    },
  };
}

function randomSuffix(n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += RAND_ALPHABET[randomInt(RAND_ALPHABET.length)];
  return s;
}

/** admission.NewForbidden: `pods "<name>" is forbidden: <why>`. */
function forbiddenPod(attrs: AdmissionAttributes, why: string): StatusError {
  const name = attrs.name || attrs.object?.metadata.name || attrs.object?.metadata.generateName || 'Unknown';
  return new StatusError({ message: `pods "${name}" is forbidden: ${why}`, reason: 'Forbidden', code: 403, details: { name, kind: 'pods' } });
}
