/**
 * TCP probe (pkg/probe/tcp/tcp.go DoTCPProbe): success when a connection opens within the timeout; it is closed at
 * once. Failures carry Go's dial error: `dial tcp 10.42.0.7:5432: connect: connection refused`,
 * `dial tcp 10.42.0.7:5432: i/o timeout`.
 */
import { isIP, Socket } from 'node:net';
import { goDialError } from './go-net-error.js';
import { type ProbeOutcome, failure, success } from './probe-outcome.js';

export function tcpProbe(host: string, port: number, timeoutMs: number): Promise<ProbeOutcome> {
  const hostPort = isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
  return new Promise((resolve) => {
    const socket = new Socket();
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(failure(`dial tcp ${hostPort}: i/o timeout`));
    }, Math.max(0, timeoutMs));
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.end();
      socket.destroy();
      resolve(success());
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(failure(goDialError(err, hostPort, host)));
    });
    socket.connect({ host, port });
  });
}
