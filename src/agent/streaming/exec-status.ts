/**
 * What the error stream carries when a remote command ends (kubelet's remotecommand writeStatus, protocol v4+): a
 * metav1.Status. Success is `{"metadata":{},"status":"Success"}`; a non-zero exit is reason NonZeroExitCode with the
 * code as an ExitCode cause, which kubectl turns into its own exit code. Protocols v1-v3 carry plain error text.
 */
import type { Status } from 'kubernetes-types/meta/v1.js';

export const NON_ZERO_EXIT_CODE_REASON = 'NonZeroExitCode';
export const EXIT_CODE_CAUSE_TYPE = 'ExitCode';

export function successStatus(): Status {
  return { metadata: {}, status: 'Success' };
}

export function exitCodeStatus(exitCode: number, command: string[] | undefined): Status {
  const what = command && command.length > 0 ? `error executing command [${command.join(' ')}], exit code ${exitCode}` : `exit code ${exitCode}`;
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: ${what}`,
    reason: NON_ZERO_EXIT_CODE_REASON,
    details: { causes: [{ reason: EXIT_CODE_CAUSE_TYPE, message: String(exitCode) }] },
  };
}

/** Any other failure (the process could not start, the container is gone): kubectl prints the message. */
export function failureStatus(message: string): Status {
  return { metadata: {}, status: 'Failure', message, reason: 'InternalError', code: 500 };
}

/** The error-stream payload for a protocol version: JSON Status for v4+, text (empty on success) before. */
export function encodeExitStatus(version: number, status: Status): Buffer {
  if (version >= 4) return Buffer.from(JSON.stringify(status));
  return Buffer.from(status.status === 'Success' ? '' : (status.message ?? 'error'));
}
