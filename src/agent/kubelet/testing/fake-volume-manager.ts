/** A VolumeManager that makes no directories: every volume is `/fake/volumes/<uid>/<name>`; failures are injected per volume. */
import type { Pod } from 'kubernetes-types/core/v1.js';
import { VolumeError, type PodVolume, type VolumeManager } from '../../volumes/types.js';

export class FakeVolumeManager implements VolumeManager {
  readonly calls: string[] = [];
  /** Pod uids with volume state (set up and not torn down). */
  readonly pods = new Set<string>();
  /** volume name → why: setUpPod throws a VolumeError for it, worded as HostVolumeManager's. */
  readonly failing = new Map<string, string>();
  /** While set, setUpPod waits for it (volumes that take a while). */
  gate: Promise<void> | undefined;

  async setUpPod(pod: Pod): Promise<Map<string, PodVolume>> {
    const uid = pod.metadata?.uid ?? '';
    this.calls.push(`setUpPod ${pod.metadata?.name}`);
    if (this.gate) await this.gate;
    const out = new Map<string, PodVolume>();
    for (const v of pod.spec?.volumes ?? []) {
      const failure = this.failing.get(v.name);
      if (failure !== undefined) throw new VolumeError(v.name, `MountVolume.SetUp failed for volume ${JSON.stringify(v.name)} : ${failure}`);
      out.set(v.name, { hostPath: `/fake/volumes/${uid}/${v.name}`, readOnly: false });
    }
    this.pods.add(uid);
    return out;
  }

  async tearDownPod(podUid: string): Promise<void> {
    this.calls.push(`tearDownPod ${podUid}`);
    this.pods.delete(podUid);
  }

  async listPods(): Promise<string[]> {
    return [...this.pods];
  }
}
