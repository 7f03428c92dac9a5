/**
 * The `--log-format text` rendering of one pino JSON line:
 *
 *   2026-12-07T08:30:12.949Z ERROR deployment-controller: error syncing key=default/web err="etcd timeout"
 *
 * time, level, component, message, then the fields as key=value (logfmt quoting: a value with spaces, quotes or
 * `=` is JSON-quoted). An error shows its message; its stack follows, indented, only at debug level, because a
 * stack per expected failure buries the entries that matter (the JSON format always carries it).
 */

/** Keys that the line's prefix already shows, or that only a shipper wants. */
const PREFIX_KEYS = new Set(['level', 'time', 'pid', 'hostname', 'component', 'msg']);

export function formatTextEntry(jsonLine: string, options: { stacks: boolean }): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(jsonLine) as Record<string, unknown>;
  } catch {
    return jsonLine.endsWith('\n') ? jsonLine : `${jsonLine}\n`; // not ours to reshape
  }
  const level = String(entry.level ?? 'info').toUpperCase().padEnd(5);
  const component = typeof entry.component === 'string' ? `${entry.component}: ` : '';
  // One entry, one line: a newline inside a message would pass for a second entry.
  let line = `${String(entry.time ?? '')} ${level} ${component}${String(entry.msg ?? '').replace(/\r?\n/g, '\\n')}`;
  const stacks: string[] = [];
  for (const [key, value] of Object.entries(entry)) {
    if (PREFIX_KEYS.has(key) || value === undefined) continue;
    if (isSerializedError(value)) {
      line += ` ${key}=${quote(value.message)}`;
      if (options.stacks && typeof value.stack === 'string') stacks.push(value.stack);
    } else {
      line += ` ${key}=${quote(typeof value === 'string' ? value : JSON.stringify(value))}`;
    }
  }
  for (const stack of stacks) line += `\n${stack.replace(/^/gm, '    ')}`;
  return `${line}\n`;
}

/** pino's error serializer output: { type, message, stack, ...own properties }. */
function isSerializedError(value: unknown): value is { type: string; message: string; stack?: string } {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string' && typeof (value as { message?: unknown }).message === 'string';
}

function quote(text: string): string {
  return text !== '' && /^[^\s"=\\]+$/.test(text) ? text : JSON.stringify(text);
}
