/**
 * The log backend (kube-apiserver's --audit-log-path, --audit-log-maxsize, --audit-log-maxbackup): JSON lines appended
 * to a file that is rotated when it reaches maxsize megabytes, the rotated files named as kube-apiserver's lumberjack
 * names them (`audit-2026-12-07T16-58-03.123.log`) and the oldest removed beyond maxbackup (the list of rotated files is
 * kept in `.audit.log.history` beside them); `-` writes to stdout.
 */
import { mkdirSync } from 'node:fs';
import { basename, dirname, extname } from 'node:path';
import { createStream, type RotatingFileStream } from 'rotating-file-stream';
import { createLogger } from '../../log/logger.js';
import type { AuditSink } from './auditor.js';

const log = createLogger('audit');

export interface AuditLogOptions {
  /** File path, or `-` for stdout. */
  path: string;
  /** Rotate at this many megabytes (0: never). */
  maxSizeMB: number;
  /** Rotated files kept (0: all). */
  maxBackups: number;
}

export interface AuditLogFile extends AuditSink {
  close(): Promise<void>;
}

export function openAuditLog(o: AuditLogOptions): AuditLogFile {
  if (o.path === '-') return { write: (line) => void process.stdout.write(line), close: async () => {} };
  const dir = dirname(o.path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ext = extname(o.path);
  const stem = basename(o.path, ext);
  const name = (time: number | Date, index?: number): string => {
    if (!time) return basename(o.path);
    const stamp = new Date(time).toISOString().replace(/:/g, '-').replace(/Z$/, '');
    return `${stem}-${stamp}${index && index > 1 ? `-${index}` : ''}${ext}`;
  };
  const stream: RotatingFileStream = createStream(name, {
    path: dir,
    mode: 0o600,
    // The package's list of rotated files (it removes the oldest beyond maxFiles from it), hidden beside the log.
    history: `.${basename(o.path)}.history`,
    ...(o.maxSizeMB > 0 ? { size: `${o.maxSizeMB}M` } : {}),
    ...(o.maxBackups > 0 ? { maxFiles: o.maxBackups } : {}),
  });
  let failed = false;
  stream.on('error', (err) => {
    if (!failed) log.error('cannot write the audit log; events are dropped until it works again', { path: o.path, err });
    failed = true;
  });
  stream.on('warning', (err) => log.warn('audit log rotation', { path: o.path, err }));
  stream.on('rotated', () => (failed = false));
  return {
    write: (line) => {
      stream.write(line);
    },
    close: () => new Promise<void>((resolve) => stream.end(() => resolve())),
  };
}
