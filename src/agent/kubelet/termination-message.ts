/**
 * terminationMessagePath and terminationMessagePolicy, as kubelet does them (pkg/kubelet/kuberuntime/
 * kuberuntime_container.go makeMounts, getTerminationMessage, readLastStringFromContainerLogs):
 *
 * - before a container instance is created, an empty file (mode 0666) is made for it under the pod's directory,
 *   `<podsDir>/<uid>/containers/<name>/<random id>`, and bind-mounted at terminationMessagePath
 *   (default /dev/termination-log); the host path is recorded on the container (an annotation), so the file is found
 *   again after an agent restart (kubelet finds it in the CRI status's mounts);
 * - once the container has exited, at most the last 4096 bytes of that file are its
 *   `state.terminated.message` (and `lastState.terminated.message` after a restart);
 * - FallbackToLogsOnError: when the file is empty and the container failed (exit code not 0, and it did start), the
 *   last 80 lines of its log, at most their last 2048 bytes.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, rm, writeFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import type { Container } from 'kubernetes-types/core/v1.js';
import { readContainerLogs } from '../logs/container-log-reader.js';
import type { ContainerStatus, Mount } from '../runtime/types.js';
import { CONTAINER_TERMINATION_MESSAGE_PATH_ANNOTATION, CONTAINER_TERMINATION_MESSAGE_POLICY_ANNOTATION } from './runtime-pod-status.js';

/** kubecontainer.MaxContainerTerminationMessageLength. */
export const MAX_TERMINATION_MESSAGE_BYTES = 4096;
/** kubecontainer.MaxContainerTerminationMessageLogLines and ...LogLength. */
export const MAX_TERMINATION_MESSAGE_LOG_LINES = 80;
export const MAX_TERMINATION_MESSAGE_LOG_BYTES = 2048;

/** skiff's own: the host path of the file bind-mounted at terminationMessagePath. */
export const TERMINATION_MESSAGE_HOST_PATH_ANNOTATION = 'io.skiff.container.terminationMessageHostPath';

/** The directory of one container's termination message files (kubelet's PodContainerDir). */
export function podContainerDir(podsDir: string, podUid: string, containerName: string): string {
  return join(podsDir, podUid, 'containers', containerName);
}

/**
 * Makes the empty, world-writable file for one container instance and returns the mount for it and the annotation
 * that records it; nothing when the container has no terminationMessagePath (the API defaults it, so only a
 * container written around the API lacks one).
 */
export async function prepareTerminationMessageFile(podsDir: string, podUid: string, container: Pick<Container, 'name' | 'terminationMessagePath'>): Promise<{ mount: Mount; annotations: Record<string, string> } | undefined> {
  const target = container.terminationMessagePath ?? '/dev/termination-log';
  if (!target || !isAbsolute(target)) return undefined;
  const dir = podContainerDir(podsDir, podUid, container.name);
  await mkdir(dir, { recursive: true });
  const file = join(dir, randomBytes(4).toString('hex'));
  await writeFile(file, '');
  // The container may run as any user; chmod because the umask applies to writeFile's mode.
  await chmod(file, 0o666);
  return { mount: { containerPath: target, hostPath: file, readonly: false }, annotations: { [TERMINATION_MESSAGE_HOST_PATH_ANNOTATION]: file } };
}

/** Removes the termination message file of a container instance that is being removed. */
export async function removeTerminationMessageFile(c: ContainerStatus): Promise<void> {
  const file = c.annotations[TERMINATION_MESSAGE_HOST_PATH_ANNOTATION];
  if (file) await rm(file, { force: true });
}

/** Whether an exited container's message may come from its log (the fallbackToLogs condition of kubelet). */
export function fallsBackToLogs(policy: string | undefined, exitCode: number, reason: string): boolean {
  // A container that could not even start has no log to fall back to.
  return policy === 'FallbackToLogsOnError' && exitCode !== 0 && reason !== 'ContainerCannotRun' && reason !== 'StartError';
}

/** The last `max` bytes of `data` as text (tail.ReadAtMost; a cut UTF-8 sequence becomes U+FFFD, as Go's string conversion keeps bytes). */
export function lastBytes(data: Buffer, max: number): string {
  return (data.length > max ? data.subarray(data.length - max) : data).toString('utf8');
}

/** Reads at most the last `max` bytes of a file; undefined when it does not exist. */
export async function readAtMost(path: string, max: number): Promise<Buffer | undefined> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const size = (await fh.stat()).size;
    const start = Math.max(0, size - max);
    const buf = Buffer.alloc(Math.min(size, max));
    const { bytesRead } = await fh.read(buf, 0, buf.length, start);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** readLastStringFromContainerLogs: the last 80 lines of the log (both streams), at most their last 2048 bytes. */
export async function lastLogText(logPath: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of readContainerLogs(logPath, { tailLines: MAX_TERMINATION_MESSAGE_LOG_LINES })) {
      const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
      chunks.push(b);
      size += b.length;
      // circbuf keeps the end: drop what can no longer be in the last 2048 bytes.
      while (chunks.length > 1 && size - chunks[0]!.length >= MAX_TERMINATION_MESSAGE_LOG_BYTES) size -= chunks.shift()!.length;
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    return `Error on reading termination message from logs: ${(err as Error).message}`;
  }
  return lastBytes(Buffer.concat(chunks), MAX_TERMINATION_MESSAGE_LOG_BYTES);
}

/**
 * The termination message of an exited container (getTerminationMessage, then the log fallback), '' when there is
 * none. Errors reading the file become the message, as kubelet words them.
 */
export async function readTerminationMessage(c: ContainerStatus): Promise<string> {
  const policy = c.annotations[CONTAINER_TERMINATION_MESSAGE_POLICY_ANNOTATION];
  const fallback = fallsBackToLogs(policy, c.exitCode, c.reason);
  const file = c.annotations[TERMINATION_MESSAGE_HOST_PATH_ANNOTATION];
  const path = c.annotations[CONTAINER_TERMINATION_MESSAGE_PATH_ANNOTATION];
  let message = '';
  if (file && path) {
    try {
      const data = await readAtMost(file, MAX_TERMINATION_MESSAGE_BYTES);
      message = data ? lastBytes(data, MAX_TERMINATION_MESSAGE_BYTES) : '';
    } catch (err) {
      return `Error on reading termination log ${file}: ${(err as Error).message}`;
    }
  }
  if (message === '' && fallback && c.logPath) message = await lastLogText(c.logPath);
  return message;
}

/** kubelet adds the message to the runtime's own (`<runtime message>: <termination message>`). */
export function withTerminationMessage(runtimeMessage: string, terminationMessage: string): string {
  if (!terminationMessage) return runtimeMessage;
  return runtimeMessage ? `${runtimeMessage}: ${terminationMessage}` : terminationMessage;
}
