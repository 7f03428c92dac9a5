/**
 * gRPC probe (pkg/probe/grpc/grpc.go): grpc.health.v1.Health/Check over plaintext on podIP:port with the probe's
 * service name, one deadline (timeoutSeconds) for connecting and the call. SERVING is success; anything else and
 * every error is a failure with upstream's words:
 *   `service unhealthy (responded with "NOT_SERVING")`
 *   `timeout: failed to connect service "10.42.0.7:9000" within 1s: context deadline exceeded` (also for a refused
 *     connection: upstream dials with WithBlock and retries until the deadline)
 *   `timeout: health rpc did not complete within 1s`
 *   `error: this server does not implement the grpc health protocol (grpc.health.v1.Health): <details>`
 *   `error: health rpc probe failed: rpc error: code = NotFound desc = unknown service`
 */
import * as grpc from '@grpc/grpc-js';
import { isIP } from 'node:net';
import { goDuration, goQuote } from './go-format.js';
import {
  HEALTH_CHECK_METHOD,
  SERVING,
  type HealthCheckRequest,
  type HealthCheckResponse,
  decodeHealthCheckResponse,
  encodeHealthCheckRequest,
  servingStatusName,
} from './health-messages.js';
import { userAgent } from './http-get-request.js';
import { type ProbeOutcome, failure } from './probe-outcome.js';

/** Go's codes.Code String(), by number. */
const CODE_NAMES = [
  'OK', 'Canceled', 'Unknown', 'InvalidArgument', 'DeadlineExceeded', 'NotFound', 'AlreadyExists', 'PermissionDenied',
  'ResourceExhausted', 'FailedPrecondition', 'Aborted', 'OutOfRange', 'Unimplemented', 'Internal', 'Unavailable',
  'DataLoss', 'Unauthenticated',
];

export async function grpcProbe(host: string, service: string, port: number, timeoutMs: number): Promise<ProbeOutcome> {
  const addr = isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
  const deadline = Date.now() + timeoutMs;
  const within = goDuration(timeoutMs);
  const client = new grpc.Client(addr, grpc.credentials.createInsecure(), {
    'grpc.primary_user_agent': userAgent('probe'),
    'grpc.enable_retries': 0,
    'grpc.service_config_disable_resolution': 1,
    // A fresh connection per run, as upstream dials anew each time: no subchannel (and its backoff) shared between runs.
    'grpc.use_local_subchannel_pool': 1,
  });
  try {
    const connectError = await new Promise<Error | undefined>((resolve) => client.waitForReady(deadline, resolve));
    if (connectError) return failure(`timeout: failed to connect service ${goQuote(addr)} within ${within}: context deadline exceeded`);
    const answer = await new Promise<{ err: grpc.ServiceError | null; res?: HealthCheckResponse }>((resolve) => {
      client.makeUnaryRequest<HealthCheckRequest, HealthCheckResponse>(
        HEALTH_CHECK_METHOD,
        encodeHealthCheckRequest,
        decodeHealthCheckResponse,
        { service },
        new grpc.Metadata(),
        { deadline },
        (err, res) => resolve({ err, res }),
      );
    });
    if (answer.err) {
      const { code, details } = answer.err;
      if (code === grpc.status.UNIMPLEMENTED) return failure(`error: this server does not implement the grpc health protocol (grpc.health.v1.Health): ${details}`);
      if (code === grpc.status.DEADLINE_EXCEEDED) return failure(`timeout: health rpc did not complete within ${within}`);
      return failure(`error: health rpc probe failed: rpc error: code = ${CODE_NAMES[code] ?? `Code(${code})`} desc = ${details}`);
    }
    const status = answer.res?.status ?? 0;
    if (status !== SERVING) return failure(`service unhealthy (responded with ${goQuote(servingStatusName(status))})`);
    return { result: 'success', output: 'service healthy' };
  } finally {
    client.close();
  }
}
