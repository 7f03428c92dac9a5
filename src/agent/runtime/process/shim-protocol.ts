/**
 * The wire between ProcessRuntime (in the agent) and the supervisor (shim-main.ts, one per state directory), over a unix
 * socket at `<stateDir>/shim.sock`:
 *
 * - requests and answers are JSON lines: `{"id":1,"op":"startContainer","args":{...}}` →
 *   `{"id":1,"ok":true,"result":...}` or `{"id":1,"ok":false,"error":{"code":"NotFound","message":"..."}}`;
 * - `attach` turns its connection into binary frames after the answer: `[kind u8][length u32 BE][payload]`, kinds below.
 *
 * The records are also the supervisor's files on disk (`sandboxes/<id>.json`, `containers/<id>.json`), which is how a
 * restarted supervisor finds what runs.
 */
import type { ContainerConfig, ContainerSecurity, ContainerState, PodSandboxConfig, RuntimeErrorCode, RuntimeObjectState, SandboxState } from '../types.js';
import type { HelperRunAnswer, HelperRunRequest } from '../../network/exec-thread.js';
import type { PidNamespaceMode } from './spawn-plan.js';

export const SHIM_PROTOCOL_VERSION = 1;

export interface SandboxRecord {
  id: string;
  config: PodSandboxConfig;
  createdAt: number;
  state: SandboxState;
  /**
   * Host pid of the process holding the pod's namespaces (pid 1 of its pid namespace), and its start time in clock ticks
   * (/proc/<pid>/stat field 22) so a recycled pid is never mistaken for it. 0 when the pod has no namespaces (not root).
   */
  initPid: number;
  initStartTicks: number;
  /** The namespaces the pod has of its own; containers enter exactly these. */
  namespaces: { pid: boolean; ipc: boolean; uts: boolean; mount: boolean; net: boolean };
  /** The pod's cgroup (config.cgroupParent, or one under the runtime's root); undefined without cgroups. */
  cgroupPath?: string;
  network: 'pod' | 'host';
  networkMessage?: string;
  ip?: string;
  additionalIps: string[];
  /** Set once PodNetwork.setUp succeeded and until tearDown did, so teardown is attempted exactly when needed. */
  networkAttached: boolean;
  /** The pod's resolv.conf (from config.dnsConfig), bind-mounted over /etc/resolv.conf in its mount namespace. */
  resolvConfPath?: string;
}

export interface ContainerRecord {
  id: string;
  sandboxId: string;
  config: ContainerConfig;
  /** Absolute path of the current CRI log file. */
  logPath: string;
  /** Its rotation (ContainerLogWriter's maxSizeBytes and maxFiles); absent: kubelet's defaults, 10 MiB and 5 files. */
  logPolicy?: { maxSizeBytes?: number; maxFiles?: number };
  imageRef: string;
  state: ContainerState;
  createdAt: number;
  startedAt: number;
  finishedAt: number;
  exitCode: number;
  reason: string;
  message: string;
  /** Host pid of the process the supervisor spawned (nsenter, or the workload itself) and its start time in ticks. */
  pid: number;
  pidStartTicks: number;
  cgroupPath?: string;
  /** Its pid namespace; absent in records of supervisors before per-container pid namespaces (then the pod's, or the host's). */
  pidNamespace?: PidNamespaceMode;
  /** With pidNamespace 'target': the container whose pid namespace it joins (ContainerConfig.pidTargetContainerId). */
  pidTarget?: string;
  /** Its capability set (capabilities.ts); absent: left as the supervisor's (privileged, or not root). */
  capabilities?: string[];
}

/** What an exec needs to run a process beside the container's: its namespaces, cgroup, environment and directory. */
export interface ExecContext {
  initPid: number;
  namespaces: SandboxRecord['namespaces'];
  cgroupProcsFiles: string[];
  env: Array<{ name: string; value: string }>;
  workingDir: string;
  running: boolean;
  /** The container's own mount namespace, to enter instead of the pod's. */
  mountNsPath?: string;
  /** The container's own pid namespace. */
  pidNsPath?: string;
  /** The container's capability set: an exec gets the container's (runc exec). */
  capabilities?: string[];
  /** The container's user and groups: an exec runs as the container's process does (runc exec), not as root. */
  security?: ContainerSecurity;
}

/** Which records a list answers with; absent fields match anything. */
export interface RecordFilter {
  id?: string;
  labels?: Record<string, string>;
}

export interface ShimRequests {
  ping: [Record<string, never>, { pid: number; version: number; rootMode: boolean; cgroupVersion: 0 | 1 | 2 }];
  runSandbox: [{ id: string; config: PodSandboxConfig; podNetwork: boolean; networkMessage?: string }, SandboxRecord];
  setSandboxNetwork: [{ id: string; ip?: string; additionalIps: string[]; network: 'pod' | 'host'; networkMessage?: string; networkAttached: boolean }, SandboxRecord];
  /** Kills the pod's containers and its namespace holder; the sandbox stays, notready. */
  stopSandbox: [{ id: string }, SandboxRecord | null];
  removeSandbox: [{ id: string }, null];
  /**
   * The sandboxes matching every given field (labels: each one, on config.labels). A pod worker asks for its own pod
   * only: answering with every record made each sync cost O(pods) of JSON on both sides. A supervisor older than the
   * filter answers with all; callers filter again.
   */
  listSandboxes: [RecordFilter, SandboxRecord[]];
  createContainer: [{ id: string; sandboxId: string; config: ContainerConfig; logPath: string; imageRef: string; logPolicy?: { maxSizeBytes?: number; maxFiles?: number } }, ContainerRecord];
  startContainer: [{ id: string }, ContainerRecord];
  /** Settles when the container has exited. */
  stopContainer: [{ id: string; timeoutSeconds: number }, ContainerRecord | null];
  removeContainer: [{ id: string }, null];
  /**
   * Every sandbox and container as id, state and labels only: the kubelet's relist asks every second, and the full
   * records (configs with env, mounts, labels) of 100 pods made that ~0.5 MB of JSON each time on both sides.
   */
  listStates: [Record<string, never>, RuntimeObjectState[]];
  /** The containers matching every given field (as listSandboxes; podSandboxId: the record's sandboxId). */
  listContainers: [RecordFilter & { podSandboxId?: string }, ContainerRecord[]];
  execContext: [{ id: string }, ExecContext];
  stats: [{ id: string }, ShimStats | null];
  sandboxStats: [{ id: string }, { sandbox: ShimStats; containers: Array<ShimStats & { id: string }> } | null];
  /**
   * Runs a short helper (a CNI plugin, mount) as a child of the supervisor, for the agent (network/exec-thread.ts: a
   * fork from the supervisor is cheap, one from the agent's big process is not). Spawn failures come back as data.
   */
  run: [HelperRunRequest, HelperRunAnswer];
  /** Stops the supervisor; with killAll, every container and sandbox first (tests, uninstall). */
  shutdown: [{ killAll: boolean }, null];
  attach: [{ id: string; stdin: boolean; stdout: boolean; stderr: boolean }, null];
}

export type ShimOp = keyof ShimRequests;

export interface ShimStats {
  cpuNs?: number;
  memory?: { usageBytes: number; workingSetBytes: number; rssBytes: number; pageFaults?: number; majorPageFaults?: number };
  processCount?: number;
  timestamp: number;
}

export interface ShimRequest {
  id: number;
  op: ShimOp;
  args: unknown;
}

export type ShimResponse = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: { code: RuntimeErrorCode | 'Internal'; message: string } };

/** Frame kinds on an attach connection. */
export const enum FrameKind {
  Stdin = 0,
  Stdout = 1,
  Stderr = 2,
  /** Client → supervisor: no more stdin. */
  StdinClose = 3,
  /** Supervisor → client: the container exited; payload is JSON { exitCode }. */
  Exit = 4,
}

export function encodeFrame(kind: FrameKind, payload: Buffer): Buffer {
  const head = Buffer.allocUnsafe(5);
  head.writeUInt8(kind, 0);
  head.writeUInt32BE(payload.length, 1);
  return Buffer.concat([head, payload]);
}

/** Feeds bytes, calls back once per complete frame. */
export class FrameDecoder {
  private buffer: Buffer = Buffer.alloc(0);
  constructor(private readonly onFrame: (kind: FrameKind, payload: Buffer) => void) {}

  push(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    while (this.buffer.length >= 5) {
      const length = this.buffer.readUInt32BE(1);
      if (this.buffer.length < 5 + length) break;
      const kind = this.buffer.readUInt8(0) as FrameKind;
      const payload = this.buffer.subarray(5, 5 + length);
      this.buffer = this.buffer.subarray(5 + length);
      this.onFrame(kind, payload);
    }
  }
}
