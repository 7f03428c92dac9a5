/**
 * Where the volume manager reads the objects volumes are made of. The agent may back it by informer caches; the
 * client-backed one here reads through the API on every call (what kubelet's `Get` strategy for configMaps and
 * secrets does).
 */
import type { ConfigMap, PersistentVolume, PersistentVolumeClaim, Secret } from 'kubernetes-types/core/v1.js';
import type { KubeObject } from '../../api/object.js';
import { isNotFound } from '../../api/status.js';
import { ConfigMaps, Nodes, PersistentVolumeClaims, PersistentVolumes, Secrets, ServiceAccounts } from '../../client/resources.js';
import type { Client, ResourceType } from '../../client/types.js';
import type { NodeAllocatable } from './compute-payload.js';
import type { IssuedServiceAccountToken, ServiceAccountTokenRequest } from './token-cache.js';

export interface VolumeSources {
  /** undefined when the object does not exist; other failures reject. */
  getConfigMap(namespace: string, name: string): Promise<ConfigMap | undefined>;
  getSecret(namespace: string, name: string): Promise<Secret | undefined>;
  getPersistentVolumeClaim(namespace: string, name: string): Promise<PersistentVolumeClaim | undefined>;
  getPersistentVolume(name: string): Promise<PersistentVolume | undefined>;
  /** The node's status.allocatable, for resourceFieldRef limits a container does not set; undefined when unknown. */
  getNodeAllocatable(): Promise<NodeAllocatable | undefined>;
  /** A TokenRequest (serviceaccounts/<name>/token) bound to the pod; rejects with the API's error. */
  requestServiceAccountToken?(req: ServiceAccountTokenRequest): Promise<IssuedServiceAccountToken>;
}

async function getOrUndefined<T>(client: Client, rt: ResourceType, namespace: string, name: string): Promise<T | undefined> {
  try {
    return (await client.get<KubeObject>(rt, namespace, name)) as unknown as T;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** Reads each object through the client when asked. */
export function clientVolumeSources(client: Client, nodeName: string): VolumeSources {
  return {
    getConfigMap: (ns, name) => getOrUndefined<ConfigMap>(client, ConfigMaps, ns, name),
    getSecret: (ns, name) => getOrUndefined<Secret>(client, Secrets, ns, name),
    getPersistentVolumeClaim: (ns, name) => getOrUndefined<PersistentVolumeClaim>(client, PersistentVolumeClaims, ns, name),
    getPersistentVolume: (name) => getOrUndefined<PersistentVolume>(client, PersistentVolumes, '', name),
    async getNodeAllocatable() {
      const node = await getOrUndefined<KubeObject & { status?: { allocatable?: Record<string, string> } }>(client, Nodes, '', nodeName);
      return node?.status?.allocatable;
    },
    async requestServiceAccountToken(req) {
      // What kubelet sends for a projected serviceAccountToken source (pkg/volume/projected).
      const body = {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: {
          ...(req.audience ? { audiences: [req.audience] } : {}),
          expirationSeconds: req.expirationSeconds,
          boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: req.podName, uid: req.podUid },
        },
      };
      const answer = (await client.createSubresource(ServiceAccounts, req.namespace, req.serviceAccountName, 'token', body)) as { status?: { token?: string; expirationTimestamp?: string } };
      const token = answer.status?.token;
      const exp = Date.parse(answer.status?.expirationTimestamp ?? '');
      if (!token || Number.isNaN(exp)) throw new Error(`the TokenRequest for serviceaccount ${req.namespace}/${req.serviceAccountName} returned no token`);
      return { token, expirationTimestamp: new Date(exp) };
    },
  };
}
