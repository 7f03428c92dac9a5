/**
 * The kubelet's hard eviction thresholds and the node pressure they imply (pkg/kubelet/eviction: signals, thresholds,
 * `evictionPressureTransitionPeriod`). Pure: a measurement in, the signals that crossed their threshold out, and the
 * pressure conditions with the kubelet's hysteresis (a pressure condition stays True for the transition period after
 * the last observation that crossed, so it does not flap around the threshold).
 */
import { parseQuantity, toNumber } from '../../api/quantity.js';

export type EvictionSignal =
  | 'memory.available'
  | 'nodefs.available'
  | 'nodefs.inodesFree'
  | 'imagefs.available'
  | 'imagefs.inodesFree'
  | 'pid.available';

/**
 * kubelet's DefaultEvictionHard on Linux (pkg/kubelet/apis/config/v1beta1/defaults_linux.go). There is no default for
 * pid.available: PIDPressure turns True only when one is configured, as upstream.
 */
export const DEFAULT_EVICTION_HARD: Readonly<Partial<Record<EvictionSignal, string>>> = Object.freeze({
  'memory.available': '100Mi',
  'nodefs.available': '10%',
  'nodefs.inodesFree': '5%',
  'imagefs.available': '15%',
  'imagefs.inodesFree': '5%',
});

/** kubelet --eviction-pressure-transition-period default. */
export const DEFAULT_PRESSURE_TRANSITION_PERIOD_MS = 5 * 60_000;

/** Which condition a signal drives (upstream signalToNodeCondition). */
export const SIGNAL_CONDITION: Readonly<Record<EvictionSignal, 'MemoryPressure' | 'DiskPressure' | 'PIDPressure'>> = Object.freeze({
  'memory.available': 'MemoryPressure',
  'nodefs.available': 'DiskPressure',
  'nodefs.inodesFree': 'DiskPressure',
  'imagefs.available': 'DiskPressure',
  'imagefs.inodesFree': 'DiskPressure',
  'pid.available': 'PIDPressure',
});

export type Threshold = { quantity: number } | { percentage: number };

export type EvictionThresholds = Partial<Record<EvictionSignal, Threshold>>;

/** Available and capacity of one resource; a missing part means "not measured" and never crosses a threshold. */
export interface Observation {
  available: number;
  capacity: number;
}

/** A filesystem as statfs reports it. */
export interface FilesystemStats {
  availableBytes: number;
  capacityBytes: number;
  inodesFree: number;
  inodes: number;
}

/** What the node measured: the inputs of the eviction signals (kubelet's summary API, the node part). */
export interface NodeSample {
  memory?: { availableBytes: number; capacityBytes: number };
  nodefs?: FilesystemStats;
  /** The runtime's image filesystem; when absent it is the nodefs (no dedicated image filesystem). */
  imagefs?: FilesystemStats;
  /** Processes (threads) running and the most the kernel allows (min of pid_max and threads-max). */
  pids?: { running: number; max: number };
}

const SIGNALS = Object.keys(SIGNAL_CONDITION) as EvictionSignal[];

/** Parses `{'memory.available': '100Mi', 'nodefs.available': '10%'}` (kubelet --eviction-hard); throws naming the bad entry. */
export function parseEvictionThresholds(spec: Readonly<Partial<Record<string, string>>>): EvictionThresholds {
  const out: EvictionThresholds = {};
  for (const [signal, value] of Object.entries(spec)) {
    if (value === undefined) continue;
    if (!SIGNALS.includes(signal as EvictionSignal)) throw new Error(`eviction threshold ${JSON.stringify(signal)}: unknown signal; known: ${SIGNALS.join(', ')}`);
    const pct = /^(\d+(?:\.\d+)?)%$/.exec(value);
    if (pct) {
      const p = Number(pct[1]);
      if (p > 100) throw new Error(`eviction threshold ${signal}=${value}: a percentage must be at most 100%`);
      out[signal as EvictionSignal] = { percentage: p / 100 };
      continue;
    }
    let q: number;
    try {
      q = toNumber(parseQuantity(value));
    } catch {
      throw new Error(`eviction threshold ${signal}=${JSON.stringify(value)}: expected a quantity like 100Mi or a percentage like 10%`);
    }
    if (q < 0) throw new Error(`eviction threshold ${signal}=${value}: must not be negative`);
    out[signal as EvictionSignal] = { quantity: q };
  }
  return out;
}

/** The observation behind each signal (upstream makeSignalObservations); a signal without data is absent. */
export function observeSignals(sample: NodeSample): Partial<Record<EvictionSignal, Observation>> {
  const out: Partial<Record<EvictionSignal, Observation>> = {};
  if (sample.memory) out['memory.available'] = { available: sample.memory.availableBytes, capacity: sample.memory.capacityBytes };
  const fs = (prefix: 'nodefs' | 'imagefs', stats: FilesystemStats | undefined) => {
    if (!stats) return;
    out[`${prefix}.available`] = { available: stats.availableBytes, capacity: stats.capacityBytes };
    // Filesystems without inodes (btrfs reports 0) have no inode signal.
    if (stats.inodes > 0) out[`${prefix}.inodesFree`] = { available: stats.inodesFree, capacity: stats.inodes };
  };
  fs('nodefs', sample.nodefs);
  fs('imagefs', sample.imagefs ?? sample.nodefs);
  if (sample.pids) out['pid.available'] = { available: Math.max(0, sample.pids.max - sample.pids.running), capacity: sample.pids.max };
  return out;
}

/** The signals whose available amount is below their threshold (upstream thresholdsMet). */
export function signalsCrossed(sample: NodeSample, thresholds: EvictionThresholds): EvictionSignal[] {
  const observed = observeSignals(sample);
  const crossed: EvictionSignal[] = [];
  for (const signal of SIGNALS) {
    const t = thresholds[signal];
    const o = observed[signal];
    if (!t || !o) continue;
    const min = 'quantity' in t ? t.quantity : t.percentage * o.capacity;
    if (o.available < min) crossed.push(signal);
  }
  return crossed;
}

export interface NodePressure {
  MemoryPressure: boolean;
  DiskPressure: boolean;
  PIDPressure: boolean;
}

/** When each condition's signals were last seen crossed (ms since epoch); the state kept between samples. */
export type PressureHistory = Partial<Record<keyof NodePressure, number>>;

/**
 * Pressure now, given the signals crossed in this sample and when each condition was last under pressure: a
 * condition is True while its signals cross and for `transitionPeriodMs` after (upstream
 * thresholdsUpdatedStats + nodeConditionsObservedSince). Returns the new history too.
 */
export function computeNodePressure(
  crossed: readonly EvictionSignal[],
  history: PressureHistory,
  nowMs: number,
  transitionPeriodMs = DEFAULT_PRESSURE_TRANSITION_PERIOD_MS,
): { pressure: NodePressure; history: PressureHistory } {
  const next: PressureHistory = { ...history };
  const now = new Set(crossed.map((s) => SIGNAL_CONDITION[s]));
  for (const c of now) next[c] = nowMs;
  const under = (c: keyof NodePressure) => now.has(c) || (next[c] !== undefined && nowMs - next[c]! < transitionPeriodMs);
  for (const c of ['MemoryPressure', 'DiskPressure', 'PIDPressure'] as const) if (!under(c)) delete next[c];
  return { pressure: { MemoryPressure: under('MemoryPressure'), DiskPressure: under('DiskPressure'), PIDPressure: under('PIDPressure') }, history: next };
}
