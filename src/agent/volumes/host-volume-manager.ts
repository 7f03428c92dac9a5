/**
 * HostVolumeManager: the node's volumes as directories on the host (kubelet's volume plugins for emptyDir, hostPath,
 * configMap, secret, downwardAPI, projected and persistentVolumeClaim, reduced to one call per pod).
 *
 *   <rootDir>/<pod uid>/volumes/kubernetes.io~empty-dir/<name>      emptyDir (tmpfs when medium Memory and root)
 *   <rootDir>/<pod uid>/volumes/kubernetes.io~configmap/<name>      AtomicWriter target (..data swap)
 *   <rootDir>/<pod uid>/volumes/kubernetes.io~secret/<name>         AtomicWriter target, on tmpfs when root
 *   <rootDir>/<pod uid>/volumes/kubernetes.io~downward-api/<name>   AtomicWriter target
 *   <rootDir>/<pod uid>/volumes/kubernetes.io~projected/<name>      AtomicWriter target, on tmpfs when root
 *
 * hostPath and persistentVolumeClaim volumes are not copied anywhere: the PodVolume points at the host path (the
 * bound PV's hostPath or local path). setUpPod runs on every pod sync: writes happen only when a payload changed,
 * so configMap/secret/downwardAPI updates reach running containers within a sync period.
 */
import type { Pod, PersistentVolume, Volume } from 'kubernetes-types/core/v1.js';
import { mkdir, readdir, rm, chmod, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseQuantity, toUnits } from '../../api/quantity.js';
import { realClock, type Clock } from '../../client/types.js';
import { createLogger } from '../../log/logger.js';
import { VolumeError, type PodVolume, type VolumeManager } from './types.js';
import { AtomicWriter, type Payload } from './atomic-writer.js';
import { configMapPayload, DEFAULT_FILE_MODE, downwardAPIPayload, PayloadError, secretPayload, type NodeAllocatable } from './compute-payload.js';
import { checkHostPathType } from './host-path.js';
import { HostMounter, NoMounter, type Mounter } from './mounts.js';
import type { VolumeSources } from './volume-sources.js';
import { ServiceAccountTokenCache } from './token-cache.js';

const log = createLogger('volume-manager');

/** The provisioner name of skiff's local-path StorageClass (same string as src/controllers/localpath). */
export const LOCAL_PATH_PROVISIONER = 'skiff.dev/local-path';
const PROVISIONED_BY = 'pv.kubernetes.io/provisioned-by';

export interface HostVolumeManagerOptions {
  /** Directory holding one subdirectory per pod, e.g. `<data-dir>/agent/pods`. */
  rootDir: string;
  sources: VolumeSources;
  nodeName: string;
  clock?: Clock;
  /** Default: HostMounter when running as root, NoMounter otherwise (memory-backed volumes become plain directories). */
  mounter?: Mounter;
}

const KIND_DIR = {
  emptyDir: 'kubernetes.io~empty-dir',
  configMap: 'kubernetes.io~configmap',
  secret: 'kubernetes.io~secret',
  downwardAPI: 'kubernetes.io~downward-api',
  projected: 'kubernetes.io~projected',
} as const;

/** The volume source fields skiff sets up; any other one is refused with a permanent VolumeError. */
const SUPPORTED = new Set(['emptyDir', 'hostPath', 'configMap', 'secret', 'downwardAPI', 'projected', 'persistentVolumeClaim']);

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

function setUpFailed(volume: string, why: string, permanent = false): VolumeError {
  // kubelet's FailedMount wording (operation_generator.go).
  return new VolumeError(volume, `MountVolume.SetUp failed for volume ${JSON.stringify(volume)} : ${why}`, permanent);
}

export class HostVolumeManager implements VolumeManager {
  private readonly rootDir: string;
  private readonly sources: VolumeSources;
  private readonly nodeName: string;
  private readonly clock: Clock;
  private readonly mounter: Mounter;
  private readonly canMount: boolean;
  /** Per-pod chains, so a teardown never runs beside a setup of the same pod. */
  private readonly busy = new Map<string, Promise<unknown>>();
  /** Service account tokens of projected volumes, renewed at 80 % of their lifetime. */
  private readonly tokens?: ServiceAccountTokenCache;
  /** Pods already told about a degraded volume (logged once, not on every sync). */
  private readonly noted = new Set<string>();

  constructor(opts: HostVolumeManagerOptions) {
    this.rootDir = opts.rootDir;
    this.sources = opts.sources;
    this.nodeName = opts.nodeName;
    this.clock = opts.clock ?? realClock;
    this.canMount = opts.mounter ? !(opts.mounter instanceof NoMounter) : isRoot();
    this.mounter = opts.mounter ?? (this.canMount ? new HostMounter() : new NoMounter());
    const request = opts.sources.requestServiceAccountToken?.bind(opts.sources);
    if (request) this.tokens = new ServiceAccountTokenCache(request, this.clock);
  }

  podDir(podUid: string): string {
    return join(this.rootDir, podUid);
  }

  setUpPod(pod: Pod): Promise<Map<string, PodVolume>> {
    const uid = pod.metadata?.uid;
    if (!uid) return Promise.reject(new VolumeError('', 'pod has no metadata.uid', true));
    return this.serialize(uid, () => this.doSetUp(pod, uid));
  }

  tearDownPod(podUid: string): Promise<void> {
    return this.serialize(podUid, () => this.doTearDown(podUid));
  }

  async listPods(): Promise<string[]> {
    try {
      const entries = await readdir(this.rootDir, { withFileTypes: true });
      return entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  private serialize<T>(uid: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.busy.get(uid) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => {});
    this.busy.set(uid, tail);
    void tail.then(() => {
      if (this.busy.get(uid) === tail) this.busy.delete(uid);
    });
    return next;
  }

  private async doSetUp(pod: Pod, uid: string): Promise<Map<string, PodVolume>> {
    const out = new Map<string, PodVolume>();
    const ctx: SetUpContext = { pod, uid, mountPoints: undefined, allocatable: undefined };
    let first: VolumeError | undefined;
    // Every volume is tried, so one missing ConfigMap does not hold back the others' updates.
    for (const vol of pod.spec?.volumes ?? []) {
      try {
        out.set(vol.name, await this.setUpVolume(ctx, vol));
      } catch (err) {
        const ve = err instanceof VolumeError ? err : setUpFailed(vol.name, (err as Error).message);
        first ??= ve;
      }
    }
    if (first) throw first;
    return out;
  }

  private volumeDir(uid: string, kind: keyof typeof KIND_DIR, name: string): string {
    return join(this.podDir(uid), 'volumes', KIND_DIR[kind], name);
  }

  private async setUpVolume(ctx: SetUpContext, vol: Volume): Promise<PodVolume> {
    const { pod, uid } = ctx;
    const ns = pod.metadata?.namespace ?? 'default';
    const kinds = Object.keys(vol).filter((k) => k !== 'name');
    const unsupported = kinds.filter((k) => !SUPPORTED.has(k));
    if (unsupported.length > 0 || kinds.length === 0) {
      throw setUpFailed(vol.name, `volume type ${unsupported.join(', ') || '(none)'} is not supported by skiff (emptyDir, hostPath, configMap, secret, downwardAPI, projected and persistentVolumeClaim are)`, true);
    }

    if (vol.emptyDir) {
      const dir = this.volumeDir(uid, 'emptyDir', vol.name);
      await mkdir(dir, { recursive: true });
      if (vol.emptyDir.medium === 'Memory') {
        if (this.canMount) {
          if (!(await this.isMountPoint(ctx, dir))) await this.mounter.mountTmpfs(dir, memoryVolumeSize(pod, vol.emptyDir.sizeLimit));
        } else {
          this.noteOnce(`${uid}/${vol.name}`, 'emptyDir medium Memory is a plain directory: mounting tmpfs needs root', pod, vol.name);
        }
      } else if (vol.emptyDir.medium && vol.emptyDir.medium !== '') {
        throw setUpFailed(vol.name, `emptyDir medium ${JSON.stringify(vol.emptyDir.medium)} is not supported by skiff`, true);
      }
      // kubelet makes emptyDir world-writable so containers running as any user can use it.
      await chmod(dir, 0o777);
      return { hostPath: dir, readOnly: false };
    }

    if (vol.hostPath) {
      const why = await checkHostPathType(vol.hostPath.path, vol.hostPath.type);
      if (why) throw setUpFailed(vol.name, why);
      return { hostPath: vol.hostPath.path, readOnly: false };
    }

    if (vol.configMap) {
      const src = vol.configMap;
      const name = src.name ?? '';
      const cm = await this.sources.getConfigMap(ns, name);
      let payload: Payload = new Map();
      if (cm) payload = this.payload(vol.name, () => configMapPayload(cm, src.items, src.defaultMode, !!src.optional));
      else if (!src.optional) throw setUpFailed(vol.name, `configmap ${JSON.stringify(name)} not found`);
      return this.writeAtomically(ctx, vol.name, this.volumeDir(uid, 'configMap', vol.name), payload, false);
    }

    if (vol.secret) {
      const src = vol.secret;
      const name = src.secretName ?? '';
      const secret = await this.sources.getSecret(ns, name);
      let payload: Payload = new Map();
      if (secret) payload = this.payload(vol.name, () => secretPayload(secret, src.items, src.defaultMode, !!src.optional));
      else if (!src.optional) throw setUpFailed(vol.name, `secret ${JSON.stringify(name)} not found`);
      return this.writeAtomically(ctx, vol.name, this.volumeDir(uid, 'secret', vol.name), payload, true);
    }

    if (vol.downwardAPI) {
      const src = vol.downwardAPI;
      const allocatable = await this.allocatable(ctx, src.items);
      const payload = this.payload(vol.name, () => downwardAPIPayload(pod, src.items, src.defaultMode, allocatable));
      return this.writeAtomically(ctx, vol.name, this.volumeDir(uid, 'downwardAPI', vol.name), payload, false);
    }

    if (vol.projected) {
      const payload = await this.projectedPayload(ctx, vol);
      return this.writeAtomically(ctx, vol.name, this.volumeDir(uid, 'projected', vol.name), payload, true);
    }

    // persistentVolumeClaim
    return this.claimVolume(ctx, vol);
  }

  /** Runs a payload builder, turning its errors into the volume's VolumeError. */
  private payload(volume: string, build: () => Payload): Payload {
    try {
      return build();
    } catch (err) {
      if (err instanceof PayloadError) throw setUpFailed(volume, err.message, err.permanent);
      throw err;
    }
  }

  private async allocatable(ctx: SetUpContext, items: readonly { resourceFieldRef?: unknown }[] | undefined): Promise<NodeAllocatable | undefined> {
    if (!(items ?? []).some((i) => i.resourceFieldRef)) return undefined;
    ctx.allocatable ??= (await this.sources.getNodeAllocatable()) ?? {};
    return ctx.allocatable;
  }

  /** projected.collectData: the sources in order, later paths overwriting earlier ones (validation forbids clashes). */
  private async projectedPayload(ctx: SetUpContext, vol: Volume): Promise<Payload> {
    const { pod, uid } = ctx;
    const ns = pod.metadata?.namespace ?? 'default';
    const src = vol.projected!;
    const out: Payload = new Map();
    const merge = (p: Payload) => {
      for (const [k, v] of p) out.set(k, v);
    };
    for (const s of src.sources ?? []) {
      if (s.configMap) {
        const name = s.configMap.name ?? '';
        const cm = await this.sources.getConfigMap(ns, name);
        if (cm) merge(this.payload(vol.name, () => configMapPayload(cm, s.configMap!.items, src.defaultMode, !!s.configMap!.optional)));
        else if (!s.configMap.optional) throw setUpFailed(vol.name, `configmap ${JSON.stringify(name)} not found`);
      } else if (s.secret) {
        const name = s.secret.name ?? '';
        const secret = await this.sources.getSecret(ns, name);
        if (secret) merge(this.payload(vol.name, () => secretPayload(secret, s.secret!.items, src.defaultMode, !!s.secret!.optional)));
        else if (!s.secret.optional) throw setUpFailed(vol.name, `secret ${JSON.stringify(name)} not found`);
      } else if (s.downwardAPI) {
        const allocatable = await this.allocatable(ctx, s.downwardAPI.items);
        merge(this.payload(vol.name, () => downwardAPIPayload(pod, s.downwardAPI!.items, src.defaultMode, allocatable)));
      } else if (s.serviceAccountToken) {
        // A token bound to this pod from the API (TokenRequest), kept and renewed at 80 % of its lifetime by the
        // token cache; the projected defaultMode as upstream uses when the pod sets no fsUser/fsGroup.
        const token = await this.serviceAccountToken(pod, vol.name, s.serviceAccountToken);
        out.set(s.serviceAccountToken.path, { data: Buffer.from(token), mode: (src.defaultMode ?? DEFAULT_FILE_MODE) & 0o777 });
      } else if (s.clusterTrustBundle || (s as Record<string, unknown>).podCertificate) {
        throw setUpFailed(vol.name, 'projected source clusterTrustBundle/podCertificate is not supported by skiff', true);
      }
    }
    return out;
  }

  private async serviceAccountToken(pod: Pod, volume: string, src: { audience?: string; expirationSeconds?: number; path: string }): Promise<string> {
    if (!this.tokens) throw setUpFailed(volume, 'this node cannot request service account tokens (no TokenRequest source)', true);
    const saName = pod.spec?.serviceAccountName || 'default';
    try {
      return await this.tokens.get({
        namespace: pod.metadata?.namespace ?? 'default',
        serviceAccountName: saName,
        audience: src.audience || undefined,
        // The API's default for the projection (3600 s); the ServiceAccount admission asks for 3607.
        expirationSeconds: src.expirationSeconds ?? 3600,
        podName: pod.metadata?.name ?? '',
        podUid: pod.metadata?.uid ?? '',
      });
    } catch (err) {
      // kubelet's wording (projected.go collectData): failed to fetch token: <the API's error>.
      throw setUpFailed(volume, `failed to fetch token: ${(err as Error).message}`);
    }
  }

  private async writeAtomically(ctx: SetUpContext, volume: string, dir: string, payload: Payload, memoryBacked: boolean): Promise<PodVolume> {
    await mkdir(dir, { recursive: true, mode: 0o755 });
    // kubelet backs secret and projected volumes with tmpfs so secrets never reach the disk.
    if (memoryBacked && this.canMount && !(await this.isMountPoint(ctx, dir))) {
      await this.mounter.mountTmpfs(dir);
      await chmod(dir, 0o755);
    }
    try {
      await new AtomicWriter(dir, this.clock).write(payload);
    } catch (err) {
      throw setUpFailed(volume, (err as Error).message, /invalid path/.test((err as Error).message));
    }
    // Containers mount these read-only (kubelet forces it for configMap, secret, downwardAPI and projected).
    return { hostPath: dir, readOnly: true };
  }

  private async claimVolume(ctx: SetUpContext, vol: Volume): Promise<PodVolume> {
    const ns = ctx.pod.metadata?.namespace ?? 'default';
    const claimName = vol.persistentVolumeClaim!.claimName;
    const claim = await this.sources.getPersistentVolumeClaim(ns, claimName);
    if (!claim) throw setUpFailed(vol.name, `persistentvolumeclaim ${JSON.stringify(claimName)} not found`);
    if (claim.metadata?.deletionTimestamp) throw setUpFailed(vol.name, `persistentvolumeclaim ${JSON.stringify(claimName)} is being deleted`);
    const volumeName = claim.spec?.volumeName ?? '';
    // desired_state_of_world_populator.go getPVCExtractPV's wording.
    if (claim.status?.phase !== 'Bound' || volumeName === '') {
      throw setUpFailed(vol.name, `PVC ${ns}/${claimName} has non-bound phase (${JSON.stringify(claim.status?.phase ?? '')}) or empty pvc.Spec.VolumeName (${JSON.stringify(volumeName)})`);
    }
    const pv = await this.sources.getPersistentVolume(volumeName);
    if (!pv) throw setUpFailed(vol.name, `persistentvolume ${JSON.stringify(volumeName)} not found`);
    if (!pv.spec?.claimRef) throw setUpFailed(vol.name, `found PV object ${JSON.stringify(volumeName)} but it has a nil ClaimRef`);
    if (pv.spec.claimRef.uid !== claim.metadata?.uid) {
      throw setUpFailed(vol.name, `found PV object ${JSON.stringify(volumeName)} but its ClaimRef UID ${JSON.stringify(pv.spec.claimRef.uid ?? '')} does not point to claim UID ${JSON.stringify(claim.metadata?.uid ?? '')}`);
    }
    const elsewhere = nodeAffinityElsewhere(pv, this.nodeName);
    if (elsewhere) throw setUpFailed(vol.name, `volume ${volumeName} has node affinity to ${elsewhere}, not to this node ${this.nodeName}`, true);
    const readOnly = !!vol.persistentVolumeClaim!.readOnly;
    if (pv.spec.hostPath) {
      const localPath = pv.metadata?.annotations?.[PROVISIONED_BY] === LOCAL_PATH_PROVISIONER;
      // k3s's local-path-provisioner creates its directories 0777 so any container user can write.
      const why = await checkHostPathType(pv.spec.hostPath.path, pv.spec.hostPath.type, localPath ? 0o777 : 0o755);
      if (why) throw setUpFailed(vol.name, why);
      return { hostPath: pv.spec.hostPath.path, readOnly };
    }
    if (pv.spec.local) {
      try {
        if (!(await stat(pv.spec.local.path)).isDirectory() && pv.spec.volumeMode !== 'Block') throw new Error('not a directory');
      } catch {
        throw setUpFailed(vol.name, `local volume path ${JSON.stringify(pv.spec.local.path)} does not exist or is not a directory on this node`);
      }
      return { hostPath: pv.spec.local.path, readOnly };
    }
    throw setUpFailed(vol.name, `persistentvolume ${volumeName} has a source skiff cannot mount on a node (hostPath and local are supported)`, true);
  }

  private async isMountPoint(ctx: SetUpContext, dir: string): Promise<boolean> {
    ctx.mountPoints ??= new Set(await this.mounter.mountPointsUnder(this.podDir(ctx.uid)));
    return ctx.mountPoints.has(dir);
  }

  private noteOnce(key: string, message: string, pod: Pod, volume: string): void {
    if (this.noted.has(key)) return;
    this.noted.add(key);
    log.warn(message, { key: `${pod.metadata?.namespace}/${pod.metadata?.name}`, volume });
  }

  private async doTearDown(uid: string): Promise<void> {
    this.tokens?.forgetPod(uid);
    const dir = this.podDir(uid);
    for (const m of await this.mounter.mountPointsUnder(dir)) await this.mounter.unmount(m);
    const left = await this.mounter.mountPointsUnder(dir);
    // Never delete through a mount: that would delete what the mount shows.
    if (left.length > 0) throw new Error(`pod ${uid}: still mounted after unmount: ${left.join(', ')}`);
    await rm(dir, { recursive: true, force: true });
    for (const k of [...this.noted]) if (k.startsWith(`${uid}/`)) this.noted.delete(k);
  }
}

interface SetUpContext {
  pod: Pod;
  uid: string;
  /** Mount points under the pod's dir, read once per setUp when a memory-backed volume needs them. */
  mountPoints: Set<string> | undefined;
  allocatable: NodeAllocatable | undefined;
}

/**
 * The tmpfs size of a memory-backed emptyDir (upstream calculateEmptyDirMemorySize): the sizeLimit, capped by the
 * pod's memory limit when every container sets one; undefined = tmpfs's default (half of RAM).
 */
export function memoryVolumeSize(pod: Pod, sizeLimit: string | number | undefined): bigint | undefined {
  const limit = sizeLimit !== undefined ? toUnits(parseQuantity(String(sizeLimit))) : undefined;
  const containers = pod.spec?.containers ?? [];
  let podLimit: bigint | undefined = 0n;
  for (const c of containers) {
    const m = c.resources?.limits?.memory;
    if (m === undefined) {
      podLimit = undefined;
      break;
    }
    podLimit += toUnits(parseQuantity(String(m)));
  }
  if (containers.length === 0) podLimit = undefined;
  if (limit !== undefined && limit > 0n) return podLimit !== undefined && podLimit < limit ? podLimit : limit;
  return podLimit;
}

/**
 * The hostnames a PV's required node affinity names under kubernetes.io/hostname when they exclude this node
 * (what local and local-path volumes carry); undefined when the PV may be used here. Other keys are the
 * scheduler's business: it already placed the pod on a node that matches them.
 */
function nodeAffinityElsewhere(pv: PersistentVolume, nodeName: string): string | undefined {
  const terms = pv.spec?.nodeAffinity?.required?.nodeSelectorTerms ?? [];
  if (terms.length === 0) return undefined;
  const hosts: string[] = [];
  for (const t of terms) {
    const req = (t.matchExpressions ?? []).find((e) => e.key === 'kubernetes.io/hostname' && e.operator === 'In');
    if (!req) return undefined; // a term not about hostnames: cannot tell here
    if ((req.values ?? []).includes(nodeName)) return undefined;
    hosts.push(...(req.values ?? []));
  }
  return hosts.join(', ');
}
