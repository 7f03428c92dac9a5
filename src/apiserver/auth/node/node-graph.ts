/**
 * The Node authorizer's graph (k8s plugin/pkg/auth/authorizer/node/graph.go): which objects each node may reach,
 * kept from the watch cache's events. Edges, as upstream:
 *
 *   pod ──▶ node                         (spec.nodeName; unbound pods add nothing)
 *   secret, configmap, pvc, serviceaccount, resourceclaim ──▶ pod      (what the pod references)
 *   pv ──▶ pvc                           (spec.claimRef)
 *   secret ──▶ pv                        (the PV's CSI/driver secret references)
 *   volumeattachment ──▶ node            (spec.nodeName)
 *
 * and, for skiff's own node components (README.md):
 *
 *   secret ──▶ ingress ──▶ every node    (spec.tls[].secretName of an Ingress that skiff's ingress serves: every
 *                                          agent runs the ingress controller, so every node reads those certificates)
 *   local-path pv ──▶ node               (the node holding the data reclaims it: local-path-reclaimer)
 *
 * Rather than a general graph with traversal, the paths are short and fixed, so the graph keeps per-object reference
 * counts by node (pod-level edges) plus the two indirections (pv → pvc, secret → pv) and answers `reaches` in O(1)
 * for pod-level objects. All methods are synchronous and pure bookkeeping; feeding is graph-feeder.ts's job.
 */
import type { KubeObject } from '../../../api/object.js';

export type VertexType = 'pod' | 'secret' | 'configmap' | 'pvc' | 'pv' | 'serviceaccount' | 'resourceclaim' | 'volumeattachment';

type Obj = KubeObject & { spec?: any; status?: any };

/** `kind/namespace/name` (namespace empty for cluster-scoped kinds). */
function key(type: VertexType, namespace: string, name: string): string {
  return `${type}/${namespace}/${name}`;
}

export class NodeGraph {
  /** Pod key `ns/name` → its node and the vertices it adds for that node. */
  private readonly pods = new Map<string, { node: string; refs: string[] }>();
  /** Vertex → node → how many of the node's pods reference it. */
  private readonly byNode = new Map<string, Map<string, number>>();
  /** Nodes that have (or had, while a pod is bound) a vertex: upstream's "unknown node". */
  private readonly nodePods = new Map<string, number>();
  /** PV name → the PVC key it is bound to, the secret keys it references, and the node of a local-path PV. */
  private readonly pvs = new Map<string, { claim?: string; secrets: string[]; node?: string }>();
  /** Secret key → PVs referencing it. */
  private readonly secretPvs = new Map<string, Set<string>>();
  /** Ingress key → the TLS secret keys of an Ingress skiff serves (empty when skiff does not serve it). */
  private readonly ingresses = new Map<string, { secrets: string[]; raw: Obj }>();
  /** Secret key → how many served Ingresses reference it. */
  private readonly ingressSecrets = new Map<string, number>();
  /** VolumeAttachment name → its node. */
  private readonly attachments = new Map<string, string>();
  /** IngressClass name → whether it is skiff's and the default. */
  private readonly classes = new Map<string, { skiff: boolean; isDefault: boolean }>();

  /** Forgets everything (before a rebuild). */
  clear(): void {
    for (const m of [this.pods, this.byNode, this.nodePods, this.pvs, this.secretPvs, this.ingresses, this.ingressSecrets, this.classes, this.attachments]) m.clear();
  }

  /** True when `node` may reach the object: the Node authorizer's hasPathFrom. */
  reaches(node: string, type: VertexType, namespace: string, name: string): boolean {
    const k = key(type, namespace, name);
    if (this.byNode.get(k)?.has(node)) return true;
    if (type === 'pv') return this.pvReaches(node, name);
    if (type === 'volumeattachment') return this.attachments.get(name) === node;
    if (type === 'secret') {
      if ((this.ingressSecrets.get(k) ?? 0) > 0) return true;
      for (const pv of this.secretPvs.get(k) ?? []) if (this.pvReaches(node, pv)) return true;
    }
    return false;
  }

  /** Whether any pod is bound to the node (upstream's graph has no vertex for a node before that). */
  knowsNode(node: string): boolean {
    return (this.nodePods.get(node) ?? 0) > 0;
  }

  /** The node a local-path PV's data lives on (it may update and delete that PV), if any. */
  localVolumeNode(pvName: string): string | undefined {
    return this.pvs.get(pvName)?.node;
  }

  private pvReaches(node: string, pvName: string): boolean {
    const pv = this.pvs.get(pvName);
    if (!pv) return false;
    if (pv.node === node) return true;
    return pv.claim !== undefined && (this.byNode.get(pv.claim)?.has(node) ?? false);
  }

  setPod(pod: Obj): void {
    const ns = pod.metadata.namespace ?? '';
    const name = pod.metadata.name ?? '';
    const podKey = `${ns}/${name}`;
    this.deletePod(ns, name);
    const node: string | undefined = pod.spec?.nodeName;
    if (!node) return;
    const refs = [key('pod', ns, name), ...podReferences(pod)];
    this.pods.set(podKey, { node, refs });
    this.nodePods.set(node, (this.nodePods.get(node) ?? 0) + 1);
    for (const r of refs) {
      let m = this.byNode.get(r);
      if (!m) this.byNode.set(r, (m = new Map()));
      m.set(node, (m.get(node) ?? 0) + 1);
    }
  }

  deletePod(namespace: string, name: string): void {
    const podKey = `${namespace}/${name}`;
    const prev = this.pods.get(podKey);
    if (!prev) return;
    this.pods.delete(podKey);
    decrement(this.nodePods, prev.node);
    for (const r of prev.refs) {
      const m = this.byNode.get(r);
      if (!m) continue;
      decrement(m, prev.node);
      if (m.size === 0) this.byNode.delete(r);
    }
  }

  setPersistentVolume(pv: Obj): void {
    const name = pv.metadata.name ?? '';
    this.deletePersistentVolume(name);
    const ref = pv.spec?.claimRef;
    const claim = ref?.name ? key('pvc', ref.namespace ?? '', ref.name) : undefined;
    const secrets = pvSecretReferences(pv);
    const node = localPathNode(pv);
    this.pvs.set(name, { ...(claim ? { claim } : {}), secrets, ...(node ? { node } : {}) });
    for (const s of secrets) {
      let set = this.secretPvs.get(s);
      if (!set) this.secretPvs.set(s, (set = new Set()));
      set.add(name);
    }
  }

  deletePersistentVolume(name: string): void {
    const prev = this.pvs.get(name);
    if (!prev) return;
    this.pvs.delete(name);
    for (const s of prev.secrets) {
      const set = this.secretPvs.get(s);
      set?.delete(name);
      if (set?.size === 0) this.secretPvs.delete(s);
    }
  }

  setVolumeAttachment(va: Obj): void {
    const node: unknown = va.spec?.nodeName;
    if (typeof node === 'string' && node !== '') this.attachments.set(va.metadata.name ?? '', node);
    else this.attachments.delete(va.metadata.name ?? '');
  }

  deleteVolumeAttachment(name: string): void {
    this.attachments.delete(name);
  }

  setIngressClass(ic: Obj): void {
    this.classes.set(ic.metadata.name ?? '', {
      skiff: ic.spec?.controller === SKIFF_INGRESS_CONTROLLER && !ic.metadata.deletionTimestamp,
      isDefault: ic.metadata.annotations?.[DEFAULT_CLASS_ANNOTATION] === 'true',
    });
    this.reindexIngresses();
  }

  deleteIngressClass(name: string): void {
    this.classes.delete(name);
    this.reindexIngresses();
  }

  setIngress(ing: Obj): void {
    const k = `${ing.metadata.namespace ?? ''}/${ing.metadata.name}`;
    this.unindexIngress(k);
    this.indexIngress(k, ing);
  }

  deleteIngress(namespace: string, name: string): void {
    this.unindexIngress(`${namespace}/${name}`);
  }

  private indexIngress(k: string, ing: Obj): void {
    const secrets = this.servesIngress(ing) ? ingressSecretReferences(ing) : [];
    this.ingresses.set(k, { secrets, raw: ing });
    for (const s of secrets) this.ingressSecrets.set(s, (this.ingressSecrets.get(s) ?? 0) + 1);
  }

  private unindexIngress(k: string): void {
    const prev = this.ingresses.get(k);
    if (!prev) return;
    this.ingresses.delete(k);
    for (const s of prev.secrets) decrement(this.ingressSecrets, s);
  }

  private reindexIngresses(): void {
    for (const [k, { raw }] of [...this.ingresses]) {
      this.unindexIngress(k);
      this.indexIngress(k, raw);
    }
  }

  /** The same choice as the ingress controller's isSkiffIngress (src/ingress/compute-routes.ts). */
  private servesIngress(ing: Obj): boolean {
    const named: string | undefined = ing.spec?.ingressClassName ?? ing.metadata.annotations?.[LEGACY_CLASS_ANNOTATION];
    if (named === undefined || named === '') return [...this.classes.values()].some((c) => c.skiff && c.isDefault);
    return this.classes.get(named)?.skiff ?? false;
  }
}

/** spec.controller of skiff's IngressClass and the class annotations (src/ingress/compute-routes.ts). */
const SKIFF_INGRESS_CONTROLLER = 'skiff.dev/ingress';
const DEFAULT_CLASS_ANNOTATION = 'ingressclass.kubernetes.io/is-default-class';
const LEGACY_CLASS_ANNOTATION = 'kubernetes.io/ingress.class';
/** The local-path provisioner's annotations (src/controllers/localpath). */
const PROVISIONED_BY = 'pv.kubernetes.io/provisioned-by';
const LOCAL_PATH_PROVISIONER = 'skiff.dev/local-path';
const SELECTED_NODE = 'local.path.provisioner/selected-node';

function decrement(m: Map<string, number>, k: string): void {
  const n = (m.get(k) ?? 0) - 1;
  if (n > 0) m.set(k, n);
  else m.delete(k);
}

/**
 * The vertices a pod adds for its node: podutil.VisitPodSecretNames / VisitPodConfigmapNames, its PVCs (ephemeral
 * volumes' claims are named <pod>-<volume>), its service account and its resource claims.
 */
export function podReferences(pod: Obj): string[] {
  const ns = pod.metadata.namespace ?? '';
  const out = new Set<string>();
  const secret = (name: unknown) => typeof name === 'string' && name !== '' && out.add(key('secret', ns, name));
  const configMap = (name: unknown) => typeof name === 'string' && name !== '' && out.add(key('configmap', ns, name));
  const spec = pod.spec ?? {};
  for (const s of spec.imagePullSecrets ?? []) secret(s?.name);
  for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? []), ...(spec.ephemeralContainers ?? [])]) {
    for (const e of c?.envFrom ?? []) {
      secret(e?.secretRef?.name);
      configMap(e?.configMapRef?.name);
    }
    for (const e of c?.env ?? []) {
      secret(e?.valueFrom?.secretKeyRef?.name);
      configMap(e?.valueFrom?.configMapKeyRef?.name);
    }
  }
  for (const v of spec.volumes ?? []) {
    if (!v) continue;
    secret(v.secret?.secretName);
    configMap(v.configMap?.name);
    for (const src of v.projected?.sources ?? []) {
      secret(src?.secret?.name);
      configMap(src?.configMap?.name);
    }
    secret(v.azureFile?.secretName);
    for (const driver of ['cephfs', 'cinder', 'flexVolume', 'iscsi', 'rbd', 'scaleIO', 'storageos']) secret(v[driver]?.secretRef?.name);
    secret(v.csi?.nodePublishSecretRef?.name);
    if (v.persistentVolumeClaim?.claimName) out.add(key('pvc', ns, v.persistentVolumeClaim.claimName));
    if (v.ephemeral) out.add(key('pvc', ns, `${pod.metadata.name}-${v.name}`));
  }
  if (spec.serviceAccountName) out.add(key('serviceaccount', ns, spec.serviceAccountName));
  for (const rc of spec.resourceClaims ?? []) if (rc?.resourceClaimName) out.add(key('resourceclaim', ns, rc.resourceClaimName));
  for (const st of pod.status?.resourceClaimStatuses ?? []) if (st?.resourceClaimName) out.add(key('resourceclaim', ns, st.resourceClaimName));
  return [...out];
}

/** Secrets a PV names (CSI's four refs, and the drivers' secretRef with its namespace), as VisitPVSecretNames. */
export function pvSecretReferences(pv: Obj): string[] {
  const out = new Set<string>();
  const add = (ref: any, defaultNs = '') => {
    if (ref?.name) out.add(key('secret', ref.namespace ?? defaultNs, ref.name));
  };
  const s = pv.spec ?? {};
  for (const f of ['nodePublishSecretRef', 'controllerPublishSecretRef', 'nodeStageSecretRef', 'nodeExpandSecretRef', 'controllerExpandSecretRef']) add(s.csi?.[f]);
  for (const driver of ['cephfs', 'cinder', 'flexVolume', 'iscsi', 'rbd', 'scaleIO', 'storageos']) add(s[driver]?.secretRef, s.claimRef?.namespace ?? '');
  if (s.azureFile?.secretName) out.add(key('secret', s.azureFile.secretNamespace ?? s.claimRef?.namespace ?? 'default', s.azureFile.secretName));
  return [...out];
}

/** TLS secrets of an Ingress (same namespace). */
export function ingressSecretReferences(ing: Obj): string[] {
  const ns = ing.metadata.namespace ?? '';
  return [...new Set<string>((ing.spec?.tls ?? []).map((t: any) => t?.secretName).filter((n: unknown) => typeof n === 'string' && n !== '').map((n: string) => key('secret', ns, n)))];
}

/** The node of a local-path PV (its selected-node annotation or its hostname affinity), as local-path-reclaimer decides. */
export function localPathNode(pv: Obj): string | undefined {
  if (pv.metadata.annotations?.[PROVISIONED_BY] !== LOCAL_PATH_PROVISIONER) return undefined;
  const selected = pv.metadata.annotations?.[SELECTED_NODE];
  if (selected) return selected;
  for (const t of pv.spec?.nodeAffinity?.required?.nodeSelectorTerms ?? []) {
    for (const e of t?.matchExpressions ?? []) {
      if (e?.key === 'kubernetes.io/hostname' && e.operator === 'In' && e.values?.length === 1) return e.values[0];
    }
  }
  return undefined;
}
