/**
 * Exec probe (pkg/probe/exec): the command runs in the container through the runtime's ExecSync. Exit code 0 is
 * success, any other a failure whose message is the combined output (stdout then stderr, as kubelet's
 * RunInContainer appends them, cut at 10 KiB). A timeout is a failure `command "<cmd>" timed out`, the words the
 * CRI client (cri-client remote_runtime.go) gives kubelet since exec probe timeouts were enforced (1.20).
 * An ExecSync that throws (container gone, runtime down) is `unknown`: kubelet records "probe errored".
 */
import { goQuote } from './go-format.js';
import { type ExecSync, type ProbeOutcome, MAX_OUTPUT_BYTES, errorMessage, failure, unknown } from './probe-outcome.js';

/** How long past its own timeout a runtime may take to answer an ExecSync before the probe gives up on it. */
export const EXEC_GRACE_MS = 10_000;

export async function execProbe(execSync: ExecSync, containerId: string, command: readonly string[], timeoutMs: number): Promise<ProbeOutcome> {
  const timedOut = () => failure(`command ${goQuote(command.join(' '))} timed out`);
  let guard: NodeJS.Timeout | undefined;
  try {
    const result = await Promise.race([
      execSync(containerId, [...command], timeoutMs),
      // A runtime that never answers must not stop the probe worker for good.
      new Promise<'guard'>((resolve) => {
        guard = setTimeout(() => resolve('guard'), timeoutMs + EXEC_GRACE_MS);
        guard.unref();
      }),
    ]);
    if (result === 'guard' || result.timedOut) return timedOut();
    const output = combinedOutput(result.stdout, result.stderr);
    return result.exitCode === 0 ? { result: 'success', output } : failure(output);
  } catch (err) {
    return unknown(errorMessage(err));
  } finally {
    clearTimeout(guard);
  }
}

export function combinedOutput(stdout: Buffer, stderr: Buffer): string {
  const all = Buffer.concat([stdout, stderr]);
  return all.subarray(0, MAX_OUTPUT_BYTES).toString('utf8');
}
