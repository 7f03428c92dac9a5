/**
 * What the agent's HTTPS API (agent-server.ts) needs from the node agent. The agent's pod workers implement it over
 * their ContainerRuntime; `HostProcessBackend` (host-process-backend.ts) implements it with plain host processes for
 * tests. Expected failures are thrown as StatusError (src/api/status.ts), which the server answers as kubelet would.
 */
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { Duplex, Readable } from 'node:stream';
import type { ContainerSample } from '../../observability/cadvisor-metrics.js';
import type { StreamOptions, StreamSession } from '../runtime/types.js';

/** kubelet's containerLogs query (the fields of v1.PodLogOptions it acts on). */
export interface ContainerLogOptions {
  follow: boolean;
  previous: boolean;
  timestamps: boolean;
  /** Lines from the end; undefined = all. */
  tailLines?: number;
  /** Only lines newer than this many seconds (relative to now). */
  sinceSeconds?: number;
  /** Only lines at or after this time (RFC 3339). sinceSeconds and sinceTime are exclusive. */
  sinceTime?: Date;
  /** Stop after this many bytes. */
  limitBytes?: number;
}

export interface AgentServerBackend {
  /** Every pod this agent runs, as the API objects it works from (GET /pods). */
  listPods(): Promise<Pod[]>;
  /** A pod this agent runs, by namespace and name; undefined when it runs none such. */
  getPod(namespace: string, name: string): Promise<Pod | undefined>;
  /**
   * Runs `command` in a running container of the pod. Throws StatusError: NotFound for an unknown container,
   * BadRequest when the container is not running ("container not found" / not running, in kubelet's words).
   */
  exec(pod: Pod, container: string, command: string[], options: StreamOptions): Promise<StreamSession>;
  /** Attaches to the main process of a running container. */
  attach(pod: Pod, container: string, options: StreamOptions): Promise<StreamSession>;
  /** A byte stream to `port` inside the pod's network namespace. */
  portForward(pod: Pod, port: number): Promise<Duplex>;
  /**
   * The container's log as text lines (with an RFC 3339 nano timestamp and a space first when `timestamps`), honouring
   * the options; with `follow` the stream stays open until the container ends or the reader goes away (destroy()).
   * Throws StatusError BadRequest for a container that has no log yet (`container "c" in pod "p" is waiting to start:
   * ContainerCreating`) or no previous instance.
   */
  logs(pod: Pod, container: string, options: ContainerLogOptions): Promise<Readable>;
  /** kubelet's /stats/summary document (stats/v1alpha1 Summary). */
  statsSummary(): Promise<unknown>;
  /** Per pod and container CPU and memory readings, for /metrics/cadvisor (404 without). */
  containerSamples?(): Promise<ContainerSample[]>;
}
