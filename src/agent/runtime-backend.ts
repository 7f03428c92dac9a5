/**
 * RuntimeBackend: the agent API's view of this node (agent/server/types.ts AgentServerBackend), answered from the pods
 * the node runs (its pod informer) and from the ContainerRuntime: exec, attach and port-forward find the pod's running
 * container or ready sandbox by the labels the pod workers put on them; logs read the CRI-format files; stats come from
 * the runtime's sandbox stats. Errors are StatusErrors in kubelet's words, since kubectl prints them as they come.
 */
import type { ContainerSample } from '../observability/cadvisor-metrics.js';
import type { Pod } from './kubelet/objects.js';
import { readFile } from 'node:fs/promises';
import { badRequest } from '../api/status.js';
import type { Informer } from '../client/types.js';
import { readContainerLogs } from './logs/container-log-reader.js';
import type { ContainerLogOptions, AgentServerBackend } from './server/types.js';
import {
  CONTAINER_NAME_LABEL,
  POD_UID_LABEL,
  type ContainerRuntime,
  type ContainerStatus,
  type CpuUsage,
  type MemoryUsage,
  type StreamOptions,
} from './runtime/types.js';

export interface RuntimeBackendOptions {
  nodeName: string;
  runtime: ContainerRuntime;
  /** The node's pods (fieldSelector spec.nodeName=<node>), shared with the pod workers. */
  pods: Informer<Pod>;
  /** Where /proc is (tests). */
  procRoot?: string;
}

interface CpuSample {
  usageCoreNanoSeconds: number;
  timestamp: number;
}

export class RuntimeBackend implements AgentServerBackend {
  /** Previous CPU readings by id, so stats can report a rate (usageNanoCores) as kubelet's summary does. */
  private readonly cpuSamples = new Map<string, CpuSample>();
  private readonly startTime = new Date().toISOString();

  constructor(private readonly o: RuntimeBackendOptions) {}

  async listPods(): Promise<Pod[]> {
    return this.o.pods.lister.list();
  }

  async getPod(namespace: string, name: string): Promise<Pod | undefined> {
    return this.o.pods.lister.list().find((p) => p.metadata?.namespace === namespace && p.metadata?.name === name);
  }

  async exec(pod: Pod, container: string, command: string[], options: StreamOptions) {
    return this.o.runtime.exec((await this.runningContainer(pod, container)).id, command, options);
  }

  async attach(pod: Pod, container: string, options: StreamOptions) {
    return this.o.runtime.attach((await this.runningContainer(pod, container)).id, options);
  }

  async portForward(pod: Pod, port: number) {
    const uid = pod.metadata?.uid ?? '';
    const sandboxes = await this.o.runtime.listPodSandboxes({ state: 'ready', labels: { [POD_UID_LABEL]: uid } });
    if (sandboxes.length === 0) throw badRequest(`pod ${pod.metadata?.name} is not running on node ${this.o.nodeName}`);
    return this.o.runtime.portForward(sandboxes[0]!.id, port);
  }

  async logs(pod: Pod, container: string, options: ContainerLogOptions) {
    const instances = await this.instances(pod, container);
    const name = pod.metadata?.name ?? '';
    if (options.previous) {
      const previous = instances[1];
      if (!previous) throw badRequest(`previous terminated container "${container}" in pod "${name}" not found`);
      return readContainerLogs(previous.logPath, this.readOptions(options, previous.id, false));
    }
    const current = instances[0];
    if (!current) {
      const waiting = pod.status?.containerStatuses?.find((s) => s.name === container)?.state?.waiting?.reason ?? 'ContainerCreating';
      throw badRequest(`container "${container}" in pod "${name}" is waiting to start: ${waiting}`);
    }
    return readContainerLogs(current.logPath, this.readOptions(options, current.id, options.follow));
  }

  async statsSummary(): Promise<unknown> {
    const runtime = this.o.runtime;
    const now = new Date().toISOString();
    const pods = [];
    for (const sandbox of await runtime.listPodSandboxes({ state: 'ready' })) {
      const stats = await runtime.podSandboxStats(sandbox.id).catch(() => undefined);
      const containers = await runtime.listContainers({ podSandboxId: sandbox.id, state: 'running' });
      pods.push({
        podRef: { name: sandbox.metadata.name, namespace: sandbox.metadata.namespace, uid: sandbox.metadata.uid },
        startTime: new Date(sandbox.createdAt).toISOString(),
        containers: containers.map((c) => {
          const s = stats?.containers.find((x) => x.id === c.id);
          return { name: c.metadata.name, startTime: new Date(c.startedAt || c.createdAt).toISOString(), cpu: this.cpu(c.id, s?.cpu), memory: memory(s?.memory) };
        }),
        cpu: this.cpu(sandbox.id, stats?.cpu),
        memory: memory(stats?.memory),
      });
    }
    return { node: { nodeName: this.o.nodeName, startTime: this.startTime, cpu: this.cpu('node', await this.nodeCpu()), memory: await this.nodeMemory(now) }, pods };
  }

  /** Readings of every running pod (its cgroup, container '') and container, for /metrics/cadvisor. */
  async containerSamples(): Promise<ContainerSample[]> {
    const runtime = this.o.runtime;
    const out: ContainerSample[] = [];
    for (const sandbox of await runtime.listPodSandboxes({ state: 'ready' })) {
      const stats = await runtime.podSandboxStats(sandbox.id).catch(() => undefined);
      const { namespace, name: pod, uid } = sandbox.metadata;
      const podId = `/kubepods/pod${uid}`;
      out.push({ namespace, pod, container: '', id: podId, image: '', name: '', ...readings(stats?.cpu, stats?.memory) });
      for (const c of await runtime.listContainers({ podSandboxId: sandbox.id, state: 'running' })) {
        const s = stats?.containers.find((x) => x.id === c.id);
        out.push({ namespace, pod, container: c.metadata.name, id: `${podId}/${c.id}`, image: c.image, name: c.id, ...readings(s?.cpu, s?.memory) });
      }
    }
    return out;
  }

  /** The pod's instances of a container, newest attempt first. */
  private async instances(pod: Pod, container: string): Promise<ContainerStatus[]> {
    const uid = pod.metadata?.uid ?? '';
    const known = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? []), ...(pod.spec?.ephemeralContainers ?? [])].some((c) => c.name === container);
    if (!known) throw badRequest(`container ${container} is not valid for pod ${pod.metadata?.name}`);
    const list = await this.o.runtime.listContainers({ labels: { [POD_UID_LABEL]: uid, [CONTAINER_NAME_LABEL]: container } });
    return list.sort((a, b) => b.metadata.attempt - a.metadata.attempt || b.createdAt - a.createdAt);
  }

  private async runningContainer(pod: Pod, container: string): Promise<ContainerStatus> {
    const instances = await this.instances(pod, container);
    const running = instances.find((c) => c.state === 'running');
    if (!running) throw badRequest(`container ${container} is not running in pod ${pod.metadata?.name}`);
    return running;
  }

  private readOptions(o: ContainerLogOptions, containerId: string, follow: boolean) {
    return {
      follow,
      timestamps: o.timestamps,
      ...(o.tailLines !== undefined ? { tailLines: o.tailLines } : {}),
      ...(o.sinceSeconds !== undefined ? { sinceSeconds: o.sinceSeconds } : {}),
      ...(o.sinceTime !== undefined ? { sinceTime: o.sinceTime.getTime() } : {}),
      ...(o.limitBytes !== undefined ? { limitBytes: o.limitBytes } : {}),
      // Following ends when the container does, as `kubectl logs -f` of a finished container returns.
      isRunning: async () => (await this.o.runtime.containerStatus(containerId))?.state === 'running',
    };
  }

  private cpu(id: string, usage: CpuUsage | undefined) {
    if (!usage) return undefined;
    const previous = this.cpuSamples.get(id);
    this.cpuSamples.set(id, { usageCoreNanoSeconds: usage.usageCoreNanoSeconds, timestamp: usage.timestamp });
    const elapsedNs = previous ? (usage.timestamp - previous.timestamp) * 1e6 : 0;
    const usageNanoCores = previous && elapsedNs > 0 ? Math.max(0, Math.round(((usage.usageCoreNanoSeconds - previous.usageCoreNanoSeconds) / elapsedNs) * 1e9)) : undefined;
    return { time: new Date(usage.timestamp).toISOString(), usageCoreNanoSeconds: usage.usageCoreNanoSeconds, ...(usageNanoCores !== undefined ? { usageNanoCores } : {}) };
  }

  private async nodeCpu(): Promise<CpuUsage | undefined> {
    const text = await readFile(`${this.o.procRoot ?? '/proc'}/stat`, 'utf8').catch(() => undefined);
    const fields = text?.split('\n', 1)[0]?.trim().split(/\s+/).slice(1).map(Number);
    if (!fields || fields.length < 4) return undefined;
    // user nice system idle iowait irq softirq steal, in USER_HZ (100 per second on Linux).
    const busy = fields.reduce((a, b, i) => (i === 3 || i === 4 ? a : a + b), 0);
    return { usageCoreNanoSeconds: busy * 1e7, timestamp: Date.now() };
  }

  private async nodeMemory(time: string) {
    const text = await readFile(`${this.o.procRoot ?? '/proc'}/meminfo`, 'utf8').catch(() => '');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0) * 1024;
    const total = kb('MemTotal');
    const available = kb('MemAvailable');
    return { time, availableBytes: available, usageBytes: total - kb('MemFree'), workingSetBytes: total - available };
  }
}

/** A sample's CPU seconds and working set, each with the time it was read. */
function readings(cpu: CpuUsage | undefined, mem: MemoryUsage | undefined): Partial<ContainerSample> {
  return {
    ...(cpu ? { cpuSeconds: cpu.usageCoreNanoSeconds / 1e9, cpuTimestampMs: cpu.timestamp } : {}),
    ...(mem ? { workingSetBytes: mem.workingSetBytes, memoryTimestampMs: mem.timestamp } : {}),
  };
}

function memory(m: MemoryUsage | undefined) {
  if (!m) return undefined;
  return { time: new Date(m.timestamp).toISOString(), workingSetBytes: m.workingSetBytes, usageBytes: m.usageBytes, rssBytes: m.rssBytes };
}

