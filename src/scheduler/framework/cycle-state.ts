/**
 * Per-cycle scratch space shared by the plugins of one scheduling cycle (framework.CycleState): PreFilter and
 * PreScore write what they computed for the pod, Filter and Score read it for every node. Preemption clones the
 * state to simulate removing pods without disturbing the real cycle.
 */
import type { FilterPlugin } from './interface.js';

/** A value stored in CycleState. `clone` may return `this` when the value is never changed after it is written. */
export interface StateData {
  clone(): StateData;
}

export class CycleState {
  private readonly data = new Map<string, StateData>();
  /** Plugins whose PreFilter returned Skip: their Filter is not called in this cycle. */
  skipFilterPlugins: ReadonlySet<string> = new Set();
  /** Plugins whose PreScore returned Skip: their Score is not called in this cycle. */
  skipScorePlugins: ReadonlySet<string> = new Set();
  /** The Filter plugins that run in this cycle (all minus the skipped ones), set by the runtime after PreFilter. */
  activeFilterPlugins: readonly FilterPlugin[] | undefined;

  read<T extends StateData>(key: string): T | undefined {
    return this.data.get(key) as T | undefined;
  }

  write(key: string, value: StateData): void {
    this.data.set(key, value);
  }

  delete(key: string): void {
    this.data.delete(key);
  }

  clone(): CycleState {
    const c = new CycleState();
    for (const [k, v] of this.data) c.data.set(k, v.clone());
    c.skipFilterPlugins = this.skipFilterPlugins;
    c.skipScorePlugins = this.skipScorePlugins;
    c.activeFilterPlugins = this.activeFilterPlugins;
    return c;
  }
}

/** Reads state a plugin's PreFilter/PreScore must have written; its absence is a bug, so it throws. */
export function mustRead<T extends StateData>(state: CycleState, key: string): T {
  const v = state.read<T>(key);
  if (v === undefined) throw new Error(`reading ${JSON.stringify(key)} from cycleState: not found`);
  return v;
}
