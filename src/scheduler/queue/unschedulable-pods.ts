/**
 * The pods waiting for a cluster event, indexed by the plugins that rejected (or gate) them, so an event only
 * visits the pods whose plugins registered for it instead of every waiting pod.
 */
import type { QueuedPodInfo } from '../framework/interface.js';

interface Entry {
  qpi: QueuedPodInfo;
  keys: string[];
}

/** The bucket for pods without a rejecting plugin (visited by every event). */
const anyPlugin = '';

export class UnschedulablePods {
  private readonly byUid = new Map<string, Entry>();
  private readonly byPlugin = new Map<string, Set<string>>();

  get size(): number {
    return this.byUid.size;
  }

  has(uid: string): boolean {
    return this.byUid.has(uid);
  }

  get(uid: string): QueuedPodInfo | undefined {
    return this.byUid.get(uid)?.qpi;
  }

  /** Adds or replaces the pod, indexed under its gating plugin, else its rejecting plugins. */
  set(qpi: QueuedPodInfo): void {
    const uid = qpi.podInfo.uid;
    this.delete(uid);
    const keys = qpi.gatingPlugin !== undefined ? [qpi.gatingPlugin] : qpi.unschedulablePlugins.size > 0 ? [...qpi.unschedulablePlugins] : [anyPlugin];
    this.byUid.set(uid, { qpi, keys });
    for (const k of keys) {
      let s = this.byPlugin.get(k);
      if (!s) this.byPlugin.set(k, (s = new Set()));
      s.add(uid);
    }
  }

  delete(uid: string): void {
    const e = this.byUid.get(uid);
    if (!e) return;
    this.byUid.delete(uid);
    for (const k of e.keys) {
      const s = this.byPlugin.get(k);
      s?.delete(uid);
      if (s?.size === 0) this.byPlugin.delete(k);
    }
  }

  values(): QueuedPodInfo[] {
    return [...this.byUid.values()].map((e) => e.qpi);
  }

  /** Pods rejected by one of `plugins` (or by none), each once; every pod when `plugins` is undefined. */
  candidates(plugins: ReadonlySet<string> | undefined): QueuedPodInfo[] {
    if (!plugins) return this.values();
    const uids = new Set<string>(this.byPlugin.get(anyPlugin));
    for (const p of plugins) for (const uid of this.byPlugin.get(p) ?? []) uids.add(uid);
    const out: QueuedPodInfo[] = [];
    for (const uid of uids) out.push(this.byUid.get(uid)!.qpi);
    return out;
  }
}
