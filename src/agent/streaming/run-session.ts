/**
 * Connects a runtime StreamSession (exec or attach) to a client's streams, whatever carries them (WebSocket channels
 * or SPDY streams), and computes the Status the error stream reports, as kubelet's ServeExec / ServeAttach do
 * (pkg/kubelet/cri/streaming/remotecommand): stdin is copied in until the client half-closes it, stdout and stderr
 * are copied out until the process closes them, and the Status follows once all output is written.
 */
import type { Status } from 'kubernetes-types/meta/v1.js';
import type { Readable, Writable } from 'node:stream';
import type { StreamSession } from '../runtime/types.js';
import { createLogger } from '../../log/logger.js';
import { exitCodeStatus, failureStatus, successStatus } from './exec-status.js';

const log = createLogger('streaming');

/** How long output may keep flowing after the process ended (its pipes can close a little later). */
const OUTPUT_GRACE_MS = 2_000;

export interface ClientStreams {
  /** Bytes from the client for the process' stdin; ends when the client half-closes stdin. */
  stdin?: Readable;
  stdout?: Writable;
  stderr?: Writable;
}

export interface RunSessionOptions {
  /** Opens the session (runtime exec / attach); a rejection becomes a Failure status with its message. */
  start: () => Promise<StreamSession>;
  io: ClientStreams;
  /** Settles when the client went away: the session is closed (an exec'd process killed). */
  clientGone: Promise<void>;
  /** exec: a non-zero exit is NonZeroExitCode. attach: kubelet reports Success when the attachment ends. */
  reportExitCode: boolean;
  /** The command, for the failure message. */
  command?: string[];
  /** Called with the session once it is open (resize is wired by the caller). */
  onSession?: (session: StreamSession) => void;
}

function finished(w: Writable): Promise<void> {
  return new Promise((resolve) => {
    if (w.writableFinished || w.destroyed) return resolve();
    w.once('finish', () => resolve());
    w.once('close', () => resolve());
    w.once('error', () => resolve());
  });
}

function copyOut(from: Readable | undefined, to: Writable | undefined): Promise<void> {
  if (!to) {
    from?.resume();
    return Promise.resolve();
  }
  if (!from) {
    to.end();
    return finished(to);
  }
  from.on('error', (err) => log.debug('session output error', { err }));
  from.pipe(to);
  return finished(to);
}

export async function runSession(opts: RunSessionOptions): Promise<Status> {
  let session: StreamSession;
  try {
    session = await opts.start();
  } catch (err) {
    return failureStatus((err as Error).message);
  }
  opts.onSession?.(session);
  let gone = false;
  void opts.clientGone.then(() => {
    gone = true;
    session.close();
  });

  const { io } = opts;
  if (io.stdin) {
    if (session.stdin) {
      const sink = session.stdin;
      // A process that exits without reading its input makes writes fail with EPIPE: not an error of the session.
      sink.on('error', (err) => log.debug('session stdin error', { err }));
      io.stdin.pipe(sink);
    } else {
      io.stdin.resume();
    }
  }
  const outputs = Promise.all([copyOut(session.stdout, io.stdout), copyOut(session.stderr, io.stderr)]);

  let exitCode: number;
  try {
    ({ exitCode } = await session.done);
  } catch (err) {
    return failureStatus((err as Error).message);
  }
  let timer: NodeJS.Timeout | undefined;
  const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, OUTPUT_GRACE_MS)));
  await Promise.race([outputs, grace]);
  clearTimeout(timer);
  for (const [from, to] of [
    [session.stdout, io.stdout],
    [session.stderr, io.stderr],
  ] as const) {
    if (from && to && !to.writableEnded) {
      from.unpipe(to);
      to.end();
    }
  }
  if (io.stdin && session.stdin) io.stdin.unpipe(session.stdin);
  if (gone) return failureStatus('the client went away');
  if (!opts.reportExitCode || exitCode === 0) return successStatus();
  return exitCodeStatus(exitCode, opts.command);
}
