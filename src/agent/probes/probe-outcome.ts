/**
 * One probe run's outcome, as pkg/probe returns it: a result, the output kubelet puts into its event, and for
 * `unknown` the error that kept the probe from running (kubelet: "probe errored").
 */
import type { ContainerRuntime } from '../runtime/types.js';

/** pkg/probe Result: success, warning (counts as success, recorded as a ProbeWarning event), failure, unknown. */
export type ProbeResult = 'success' | 'warning' | 'failure' | 'unknown';

export interface ProbeOutcome {
  result: ProbeResult;
  /** For failure and warning: the words that follow `Liveness probe failed: ` / `... probe warning: `. */
  output: string;
  /** For unknown: why the probe could not run (a bad port name, a runtime error). */
  error?: string;
}

/** The runtime's ExecSync (ContainerRuntime.execSync), the only way probes and hooks reach into a container. */
export type ExecSync = ContainerRuntime['execSync'];

/** Probe and hook output is cut at 10 KiB, as upstream's maxReadLength / maxRespBodyLength. */
export const MAX_OUTPUT_BYTES = 10 * 1024;

export const success = (output = ''): ProbeOutcome => ({ result: 'success', output });
export const failure = (output: string): ProbeOutcome => ({ result: 'failure', output });
export const unknown = (error: string): ProbeOutcome => ({ result: 'unknown', output: '', error });

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
