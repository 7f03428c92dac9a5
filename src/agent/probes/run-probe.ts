/**
 * One run of a container's probe, dispatched on its handler (pkg/kubelet/prober/prober.go runProbe and
 * runProbeWithRetries): exec (command $(VAR)-expanded with the container's static env), httpGet, tcpSocket, grpc,
 * each bounded by timeoutSeconds. A probe that could not run (`unknown` with an error: bad port name, runtime
 * error) is retried at once, up to 3 runs, as kubelet does.
 */
import type { Container, Probe } from 'kubernetes-types/core/v1.js';
import { execProbe } from './exec-probe.js';
import { expandCommandStatic } from './expand-command.js';
import { newRequestForHttpGetAction } from './http-get-request.js';
import { httpProbe } from './http-probe.js';
import { type ExecSync, type ProbeOutcome, errorMessage, unknown } from './probe-outcome.js';
import { resolveContainerPort } from './container-port.js';
import { tcpProbe } from './tcp-probe.js';

export const MAX_PROBE_RETRIES = 3;

/** The API's defaults (SetDefaults_Probe), applied again here so a probe that skipped defaulting still works. */
export interface ProbeTiming {
  initialDelaySeconds: number;
  timeoutSeconds: number;
  periodSeconds: number;
  successThreshold: number;
  failureThreshold: number;
}

export function probeTiming(probe: Probe, type: 'liveness' | 'readiness' | 'startup'): ProbeTiming {
  const positive = (v: number | undefined, d: number) => (v !== undefined && Number.isFinite(v) && v >= 1 ? Math.floor(v) : d);
  return {
    initialDelaySeconds: probe.initialDelaySeconds !== undefined && probe.initialDelaySeconds > 0 ? Math.floor(probe.initialDelaySeconds) : 0,
    timeoutSeconds: positive(probe.timeoutSeconds, 1),
    periodSeconds: positive(probe.periodSeconds, 10),
    // Validation allows successThreshold > 1 only for readiness.
    successThreshold: type === 'readiness' ? positive(probe.successThreshold, 1) : 1,
    failureThreshold: positive(probe.failureThreshold, 3),
  };
}

export interface ProbeTarget {
  container: Container;
  containerId: string;
  /** status.podIP: the default host of httpGet and tcpSocket, the host of grpc. Empty = 127.0.0.1. */
  podIp: string;
  /** For the error of a probe without a handler: `name_namespace(uid)`. */
  podName?: string;
}

export async function runProbe(probe: Probe, target: ProbeTarget, execSync: ExecSync, retries = MAX_PROBE_RETRIES): Promise<ProbeOutcome> {
  let outcome: ProbeOutcome = unknown('probe did not run');
  for (let i = 0; i < retries; i++) {
    outcome = await runProbeOnce(probe, target, execSync);
    if (outcome.error === undefined) return outcome;
  }
  return outcome;
}

export async function runProbeOnce(probe: Probe, target: ProbeTarget, execSync: ExecSync): Promise<ProbeOutcome> {
  const timeoutMs = (probe.timeoutSeconds !== undefined && probe.timeoutSeconds >= 1 ? probe.timeoutSeconds : 1) * 1000;
  const podIp = target.podIp || '127.0.0.1';
  const { container } = target;
  try {
    if (probe.exec) {
      const command = expandCommandStatic(probe.exec.command ?? [], container.env);
      return await execProbe(execSync, target.containerId, command, timeoutMs);
    }
    if (probe.httpGet) {
      let request;
      try {
        request = newRequestForHttpGetAction(probe.httpGet, container, podIp, 'probe');
      } catch (err) {
        return unknown(errorMessage(err));
      }
      return await httpProbe(request, timeoutMs);
    }
    if (probe.tcpSocket) {
      let port;
      try {
        port = resolveContainerPort(probe.tcpSocket.port, container);
      } catch (err) {
        return unknown(errorMessage(err));
      }
      return await tcpProbe(probe.tcpSocket.host || podIp, port, timeoutMs);
    }
    if (probe.grpc) {
      // Loaded on the first gRPC probe: @grpc/grpc-js is a large graph that most nodes never need (agent memory).
      const { grpcProbe } = await import('./grpc-probe.js');
      return await grpcProbe(podIp, probe.grpc.service ?? '', probe.grpc.port, timeoutMs);
    }
    return unknown(`missing probe handler for ${target.podName ?? ''}:${container.name}`);
  } catch (err) {
    // The handlers turn expected failures into outcomes; anything thrown here is a bug, reported as "errored".
    return unknown(errorMessage(err));
  }
}
