/**
 * The few lines a command prints on purpose at start (where the kubeconfig went, the ready line). With the text
 * log format they are plain lines on stdout, as README.md shows them and as scripts wait for them; with the JSON
 * format they are info entries like every other line, so a log shipper gets one stream of JSON.
 */
import type { LogFields, LogFormat, Logger } from '../log/logger.js';

export function announcer(format: LogFormat, log: Logger): (line: string, fields?: LogFields) => void {
  if (format === 'json') return (line, fields) => log.info(line, fields);
  return (line) => {
    process.stdout.write(`${line}\n`);
  };
}
