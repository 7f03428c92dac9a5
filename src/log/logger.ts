/**
 * Component loggers on pino. Every component takes one at module load (`const log = createLogger('scheduler')`),
 * before `skiff server` has read its flags, so a Logger is bound late: it writes through whichever pino instance
 * the last `configureLogging` call made. Entries go to stderr, as klog and k3s write theirs, so stdout stays for
 * what a command prints on purpose (help, the ready line).
 */
import { pino, type Logger as PinoLogger } from 'pino';
import { formatTextEntry } from './text-format.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'text' | 'json';
/** Key=value context of an entry. Put the object key under `key` and a caught error under `err`. */
export type LogFields = Record<string, unknown>;

export interface Logger {
  /** The component named in every entry, e.g. `scheduler`, `deployment-controller`. */
  readonly component: string;
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  /** For failures someone should look at; log each one once, with the key of the object it concerns. */
  error(message: string, fields?: LogFields): void;
  /** False when debug entries are dropped, so callers can skip computing costly fields. */
  isDebugEnabled(): boolean;
}

export interface LoggingOptions {
  /** Entries below this level are dropped; `silent` drops all (default info). */
  level?: LogLevel | 'silent';
  /** `text`: one readable line per entry (default); `json`: pino's JSON lines, for log shippers. */
  format?: LogFormat;
  /** Where lines are written (default process.stderr). Each call gets exactly one line. */
  destination?: { write(line: string): unknown };
}

export const LOG_FORMATS: readonly LogFormat[] = ['text', 'json'];

let root: PinoLogger = makeRoot({});

/** Replaces the logging setup for every Logger, including those created before. */
export function configureLogging(options: LoggingOptions): void {
  root = makeRoot(options);
}

export function createLogger(component: string): Logger {
  const write = (level: LogLevel, message: string, fields: LogFields | undefined) => {
    if (!root.isLevelEnabled(level)) return;
    // The component stays first in JSON lines, and a field cannot overwrite it.
    root[level](fields === undefined ? { component } : { component, ...fields, ...(fields.component !== undefined ? { component } : {}) }, message);
  };
  return {
    component,
    debug: (message, fields) => write('debug', message, fields),
    info: (message, fields) => write('info', message, fields),
    warn: (message, fields) => write('warn', message, fields),
    error: (message, fields) => write('error', message, fields),
    isDebugEnabled: () => root.isLevelEnabled('debug'),
  };
}

function makeRoot(options: LoggingOptions): PinoLogger {
  const level = options.level ?? 'info';
  const out = options.destination ?? process.stderr;
  // Text is rendered from pino's own JSON line so both formats share one pipeline (levels, error serializer).
  // Logs are few (no per-request access log), so parsing each line back costs nothing that shows.
  const destination =
    options.format === 'json'
      ? { write: (line: string) => out.write(line) }
      : { write: (line: string) => out.write(formatTextEntry(line, { stacks: level === 'debug' })) };
  return pino(
    {
      level,
      timestamp: pino.stdTimeFunctions.isoTime,
      // Level names ("info"), not pino's numbers: shippers and people filter on the name.
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
