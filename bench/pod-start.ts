/**
 * bench/pod-start: pod start latency on one real node (`skiff server` with its embedded agent, in its own process),
 * for the `process` and the `cri` runtime, beside a baseline measured in the same run on the same machine state.
 *
 * "Bound → Running": every pod is created already bound (spec.nodeName = the node), so the scheduler is not in the
 * measurement. A pod's start is the earlier of the create call's response and the ADDED event of a watch opened
 * before the creates (both seen by this process); its end is the first watch event with status.phase Running (and,
 * separately, the first with condition Ready=True). That is the upstream pod-startup SLI's "observed via watch" end,
 * minus the scheduling that the SLI's creation-timestamp start includes.
 *
 * Two load shapes, 100 pods each (--pods): `paced` creates one pod every 1000/rate ms (the targets apply to it; process:
 * --rate, default 10 pods/s, the rate the performance anchors' T10 names; cri: --cri-rate, default 3 pods/s, because
 * containerd alone starts only ~2-4 sandboxes a second on 2 cores and a faster pace measures its queue), `burst` creates
 * them all at once (64 requests in flight) and also reports the time until the last one runs.
 *
 * Baselines, the same count and shapes:
 *   process: spawn of the pods' own command (`sh -c 'echo started; trap ...; sleep'`) directly, and through
 *            `unshare --pid --fork --mount --uts --ipc --net` as the runtime's sandbox does; the time is until the
 *            command has written its first line (it runs).
 *   cri:     RunPodSandbox + CreateContainer + StartContainer through skiff's CRI client (CriRuntime) against the
 *            same containerd the agent runs, with the same cached busybox image and the agent's CNI network.
 *
 * CPU: per pod, from the first create until every pod is Ready, of the server process (API server and agent) and of
 * the children it reaped (CNI plugins, iptables), of the supervisor or containerd, and of the whole machine (2 cores
 * shared with whatever else runs: read it as a ceiling).
 *
 * Memory: the server's RSS with the embedded agent, idle and with the pods running, beside the same server with
 * --disable-agent (idle, and holding the same number of bound pods that never run); the process runtime's supervisor,
 * containerd and its shims are reported separately (they are processes of their own). With --joined-agent the node is
 * a `skiff agent` process joined to a server without an agent, and its RSS (agent_rss_mb) is measured directly.
 * Idle is sampled twice: 3 s after the node is Ready (`idle`) and --settle-ms (17,000) later (`idle_settled`).
 *
 * Everything is cleaned up: pods deleted and gone (their containers stopped by the agent) before the server stops,
 * then the supervisor, containerd's leftover shims, the pods' cgroups, mounts under the data dir, the CNI bridge, the
 * log directories. Needs root (namespaces, cgroups, CNI); cri needs containerd, runc and a static busybox.
 *
 * Targets (issue 7): process p50 <= 50 ms and p99 <= 150 ms; cri (cached image) p99 <= 800 ms; agent RSS idle
 * <= 60 MB, with 100 pods <= 150 MB. Prints one JSON object.
 * Profile (--profile): the server runs with --debug; each pod start's phases as the agent's pod worker
 * logs them ("pod started: ms per phase": informer delivery → its worker's turn, runtime status, volumes, sandbox with
 * its network, each container's config, create and start, the status PATCH) are lined up with what the bench saw
 * (epoch ms on both sides): api_to_agent is bound → the agent's informer handed the pod over (negative when the agent
 * saw the pod before the bench had read its own create response), agent_to_watch is the PATCH's answer → the bench's
 * watch saw Running. Reported per shape as stats of each phase.
 *
 * Usage: npm run build && node dist/bench/pod-start.js [--runtimes process,cri] [--pods 100] [--rate 10] [--cri-rate 3] [--keep] [--profile] [--cluster-cidr CIDR] [--joined-agent [--agent-node-args 'ARGS']] [--settle-ms 17000]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { buildBusyboxImage, findStaticBusybox } from '../src/agent/images/busybox-rootfs.js';
import { airGapImageDir } from '../src/agent/images/image-import.js';
import { CriRuntime } from '../src/agent/runtime/cri/cri-runtime.js';
import type { ContainerConfig, PodSandboxConfig } from '../src/agent/runtime/types.js';
import { hardCleanAgent, podLeftovers } from '../test/helpers/agent-cleanup.js';
import { spawnAgent, spawnServer, waitExit, type AgentProcess, type ServerProcess } from '../test/helpers/server-process.js';
import { stats, type Stats } from './stats.js';

const arg = (name: string, dflt: string) => (process.argv.includes(`--${name}`) ? process.argv[process.argv.indexOf(`--${name}`) + 1]! : dflt);
const runtimes = arg('runtimes', 'process,cri').split(',').filter(Boolean);
const PODS = Number(arg('pods', '100'));
/** Paced creation rate (pods/s): the process runtime at T10's 10/s; containerd alone does ~2-4 sandboxes/s on 2 cores. */
const RATES: Record<string, number> = { process: Number(arg('rate', '10')), cri: Number(arg('cri-rate', '3')) };
const BURST_IN_FLIGHT = 64;
const PROFILE = process.argv.includes('--profile');
/** --joined-agent: the node is a `skiff agent` process joined to a server without its own agent (its RSS measured directly). */
const JOINED = process.argv.includes('--joined-agent');
/**
 * --agent-node-args 'ARGS': node's own arguments for the joined agent (space-separated), e.g. '--max-semi-space-size=2'
 * to measure a V8 flag an operator may set (NODE_OPTIONS does the same for `skiff agent`).
 */
const AGENT_NODE_ARGS = arg('agent-node-args', '').split(' ').filter(Boolean);
/** --cluster-cidr for the bench's server (default: the server's own, 10.42.0.0/16); another range keeps it apart from other clusters on the machine. */
const CLUSTER_CIDR = arg('cluster-cidr', '');
/** How long after the first idle sample (3 s after the node is Ready) the settled one is taken. */
const SETTLE_MS = Number(arg('settle-ms', '17000'));
const BUSYBOX_IMAGE = 'docker.io/skiff-bench/busybox:local';
const CGROUP_ROOT = 'skiff-kubepods';
/** The pods' command: exits on SIGTERM at once (deletion does not wait for a grace period), otherwise runs. */
const WORKLOAD = ['/bin/sh', '-c', 'echo started; trap "exit 0" TERM; while :; do sleep 3600 & wait $!; done'];
const UNSHARE = ['unshare', '--pid', '--fork', '--mount', '--uts', '--ipc', '--net'];

// ---------- a small HTTPS client for the server ----------

interface Conn {
  port: number;
  tls: { ca: string; cert: string; key: string };
  agent: https.Agent;
}

function request(c: Conn, method: string, path: string, body?: unknown): Promise<{ status: number; text: string; json: any }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = https.request(
      { host: '127.0.0.1', port: c.port, method, path, agent: c.agent, ...c.tls, headers: data ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (x) => chunks.push(x));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let json: any;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, text, json });
        });
      },
    );
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}

async function connect(dir: string, port: number): Promise<Conn> {
  const kc = parseYaml(await readFile(join(dir, 'kubeconfig.yaml'), 'utf8'));
  const b64 = (s: string) => Buffer.from(s, 'base64').toString();
  return {
    port,
    agent: new https.Agent({ keepAlive: true, maxSockets: BURST_IN_FLIGHT }),
    tls: { ca: b64(kc.clusters[0].cluster['certificate-authority-data']), cert: b64(kc.users[0].user['client-certificate-data']), key: b64(kc.users[0].user['client-key-data']) },
  };
}

/** Per pod (by name): when the bench first saw it bound, Running and Ready, and whether it is gone. */
interface PodTimes {
  created?: number;
  added?: number;
  running?: number;
  ready?: number;
  deleted?: number;
}

/** One watch of a namespace's pods, opened at a resourceVersion from a list so no event of the creates is missed. */
class PodWatch {
  readonly pods = new Map<string, PodTimes>();
  private req?: ReturnType<typeof https.request>;
  private waiters: Array<() => void> = [];

  static async open(c: Conn, ns: string): Promise<PodWatch> {
    const w = new PodWatch();
    const list = await request(c, 'GET', `/api/v1/namespaces/${ns}/pods`);
    const rv = list.json.metadata.resourceVersion;
    await new Promise<void>((resolve, reject) => {
      w.req = https.request(
        { host: '127.0.0.1', port: c.port, method: 'GET', path: `/api/v1/namespaces/${ns}/pods?watch=true&resourceVersion=${rv}`, agent: false, ...c.tls },
        (res) => {
          resolve();
          let buf = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            const now = performance.now();
            buf += chunk;
            let nl;
            while ((nl = buf.indexOf('\n')) >= 0) {
              const line = buf.slice(0, nl);
              buf = buf.slice(nl + 1);
              if (line.trim()) w.onEvent(JSON.parse(line), now);
            }
            for (const f of w.waiters.splice(0)) f();
          });
        },
      );
      w.req.on('error', (err) => {
        if ((err as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(err);
      });
      w.req.end();
    });
    return w;
  }

  times(name: string): PodTimes {
    return this.pods.get(name) ?? this.pods.set(name, {}).get(name)!;
  }

  private onEvent(ev: { type: string; object: any }, now: number): void {
    const name = ev.object?.metadata?.name;
    if (!name) return;
    const t = this.times(name);
    if (ev.type === 'ADDED') t.added ??= now;
    if (ev.type === 'DELETED') {
      t.deleted ??= now;
      return;
    }
    if (ev.object.status?.phase === 'Running') t.running ??= now;
    if (ev.object.status?.conditions?.some((x: any) => x.type === 'Ready' && x.status === 'True')) t.ready ??= now;
  }

  /** Resolves when `done` holds (checked after every batch of events), rejects after timeoutMs. */
  until(done: () => boolean, what: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
      const check = () => {
        if (done()) {
          clearTimeout(timer);
          resolve();
        } else this.waiters.push(check);
      };
      check();
    });
  }

  close(): void {
    this.req?.destroy();
  }
}

// ---------- small helpers ----------

const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `start(i)` for i in [0, n): paced (one every 1000/rate ms) or burst (BURST_IN_FLIGHT at a time). */
async function drive(n: number, shape: 'paced' | 'burst', rate: number, start: (i: number) => Promise<void>): Promise<void> {
  if (shape === 'burst') {
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(BURST_IN_FLIGHT, n) }, async () => {
        while (next < n) await start(next++);
      }),
    );
    return;
  }
  const t0 = performance.now();
  const all: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const wait = t0 + (i * 1000) / rate - performance.now();
    if (wait > 0) await sleep(wait);
    all.push(start(i));
  }
  await Promise.all(all);
}

// ---------- memory ----------

function rssMb(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

/** CPU time (ms) of a process itself and of its children it has reaped (CNI plugins, iptables, nsenter...). */
function cpuOf(pid: number | undefined): { self: number; children: number } {
  if (!pid) return { self: 0, children: 0 };
  try {
    // Fields after the ")" of comm: utime is the 14th field of the line, stime 15th, cutime 16th, cstime 17th.
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    const tick = 10; // USER_HZ 100
    return { self: (Number(f[11]) + Number(f[12])) * tick, children: (Number(f[13]) + Number(f[14])) * tick };
  } catch {
    return { self: 0, children: 0 };
  }
}

/** Busy CPU time of the whole machine (ms, all cores), other users' included. */
function machineBusyMs(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  return (f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + f[7]!) * 10;
}

type CpuSnapshot = Record<string, number>;

/** CPU of the server (with the agent), a joined agent, the runtime's processes and the machine, to difference over a phase. */
function cpuSnapshot(serverPid: number | undefined, dir: string, agentPid?: number): CpuSnapshot {
  const server = cpuOf(serverPid);
  const agent = agentPid === undefined ? undefined : cpuOf(agentPid);
  const supervisor = cpuOf(readPid(join(dir, 'agent', 'process', 'shim.pid')));
  const containerd = cpuOf(readPid(join(dir, 'agent', 'containerd', 'containerd.pid')));
  return {
    server: server.self,
    server_children: server.children,
    supervisor: supervisor.self,
    supervisor_children: supervisor.children,
    containerd: containerd.self + containerd.children,
    ...(agent ? { agent: agent.self, agent_children: agent.children } : {}),
    machine: machineBusyMs(),
  };
}

function cpuPerPod(before: CpuSnapshot, after: CpuSnapshot, pods: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of Object.keys(after)) if (after[k]! - before[k]! > 0 || k === 'machine') out[k] = Math.round(((after[k]! - before[k]!) / pods) * 10) / 10;
  return out;
}

/** Pids whose command line contains every one of `needles`. */
function pidsWith(...needles: string[]): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (needles.every((n) => cmd.includes(n))) out.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** The runtime's own processes for this data dir: the process runtime's supervisor, or containerd and its shims. */
function runtimeRss(dir: string): Record<string, number | undefined> {
  const supervisor = readPid(join(dir, 'agent', 'process', 'shim.pid'));
  const containerd = readPid(join(dir, 'agent', 'containerd', 'containerd.pid'));
  const out: Record<string, number | undefined> = {};
  if (supervisor) out.supervisor_rss_mb = rssMb(supervisor);
  if (containerd) {
    out.containerd_rss_mb = rssMb(containerd);
    const shims = pidsWith('containerd-shim', join(dir, 'agent'));
    out.shims = shims.length;
    out.shims_rss_mb_total = shims.reduce((sum, pid) => sum + (rssMb(pid) ?? 0), 0);
  }
  return out;
}

// ---------- the server ----------

async function startServer(dir: string, extra: string[], agent: boolean): Promise<{ server: ServerProcess; c: Conn }> {
  const server = await spawnServer(['--data-dir', dir, '--https-listen-port', '0', '--bind-address', '127.0.0.1', ...extra], 120_000, {}, { agent });
  return { server, c: await connect(dir, server.port) };
}

async function stopServer(server: ServerProcess): Promise<void> {
  server.child.kill('SIGTERM');
  const killer = setTimeout(() => server.child.kill('SIGKILL'), 30_000);
  await waitExit(server.child);
  clearTimeout(killer);
}

/** `output`: the embedded agent's server, or the joined agent. */
async function waitNodeReady(c: Conn, output: () => string, node: string): Promise<void> {
  const deadline = performance.now() + 120_000;
  for (;;) {
    const r = await request(c, 'GET', `/api/v1/nodes/${node}`);
    if (r.status === 200 && r.json.spec?.podCIDR && r.json.status?.conditions?.some((x: any) => x.type === 'Ready' && x.status === 'True') && /skiff (node|agent) ready/.test(output())) return;
    if (/embedded node agent did not start/.test(output())) throw new Error(`the agent did not start:\n${output()}`);
    if (performance.now() > deadline) throw new Error(`node ${node} not Ready in 120 s:\n${output()}`);
    await sleep(200);
  }
}

function podManifest(name: string, node: string, runtime: string) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { bench: 'pod-start' } },
    spec: {
      nodeName: node,
      terminationGracePeriodSeconds: 5,
      containers: [{ name: 'c', image: runtime === 'cri' ? BUSYBOX_IMAGE : 'busybox', imagePullPolicy: 'IfNotPresent', command: WORKLOAD }],
    },
  };
}

interface PodRun {
  running_ms: Stats;
  ready_ms: Stats;
  /** burst: from the first create until the last pod is Running. */
  all_running_ms?: number;
  /** CPU time per pod from the first create until every pod is Ready, by process (ms). */
  cpu_ms_per_pod: Record<string, number>;
  uids: string[];
  /** Per pod: bound and Running as epoch ms (for --profile). */
  epochs: Map<string, { bound: number; running: number }>;
}

/** Creates PODS pods in a fresh namespace, measures bound → Running / Ready, deletes them and waits until they are gone. */
async function runPods(c: Conn, node: string, runtime: string, ns: string, shape: 'paced' | 'burst', cpu: () => CpuSnapshot, onAllRunning: () => void): Promise<PodRun> {
  const r = await request(c, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  if (r.status !== 201) throw new Error(`namespace ${ns}: ${r.status} ${r.text}`);
  const watch = await PodWatch.open(c, ns);
  const names = Array.from({ length: PODS }, (_, i) => `p${i}`);
  const uids: string[] = [];
  const first = performance.now();
  const cpuBefore = cpu();
  try {
    await drive(PODS, shape, RATES[runtime]!, async (i) => {
      const res = await request(c, 'POST', `/api/v1/namespaces/${ns}/pods`, podManifest(names[i]!, node, runtime));
      watch.times(names[i]!).created = performance.now();
      if (res.status !== 201) throw new Error(`pod ${names[i]}: ${res.status} ${res.text}`);
      uids.push(res.json.metadata.uid);
    });
    await watch.until(() => names.every((n) => watch.times(n).running !== undefined && watch.times(n).ready !== undefined), `${PODS} pods Running and Ready in ${ns}`, 180_000);
    const cpuAfter = cpu();
    onAllRunning();
    const lastRunning = Math.max(...names.map((n) => watch.times(n).running!));
    const bound = (t: PodTimes) => Math.min(t.created ?? Infinity, t.added ?? Infinity);
    const run: PodRun = {
      running_ms: stats(names.map((n) => watch.times(n).running! - bound(watch.times(n)))),
      ready_ms: stats(names.map((n) => watch.times(n).ready! - bound(watch.times(n)))),
      uids,
      cpu_ms_per_pod: cpuPerPod(cpuBefore, cpuAfter, PODS),
      epochs: new Map(names.map((n) => [`${ns}/${n}`, { bound: epochMs(bound(watch.times(n))), running: epochMs(watch.times(n).running!) }])),
    };
    if (shape === 'burst') run.all_running_ms = Math.round(lastRunning - first);
    return run;
  } finally {
    await deletePods(c, ns, names, watch).finally(() => watch.close());
  }
}

/** Deletes the pods (graceful: the agent stops their containers, then removes the objects) and waits until all are gone. */
async function deletePods(c: Conn, ns: string, names: string[], watch: PodWatch): Promise<void> {
  const existing = names.filter((n) => watch.times(n).added !== undefined || watch.times(n).created !== undefined);
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < existing.length) {
        const name = existing[next++]!;
        const r = await request(c, 'DELETE', `/api/v1/namespaces/${ns}/pods/${name}`);
        if (r.status !== 200 && r.status !== 202 && r.status !== 404) throw new Error(`delete pod ${name}: ${r.status} ${r.text}`);
      }
    }),
  );
  await watch.until(() => existing.every((n) => watch.times(n).deleted !== undefined), `the pods of ${ns} gone`, 120_000);
}

// ---------- profile ----------

/** A performance.now() time as epoch ms by Date.now() (the agent's log lines use the same base, in another process). */
const epochMs = (t: number) => Date.now() - (performance.now() - t);

/**
 * The agent's "pod started: ms per phase" debug lines (JSON logs) for these pods, lined up with the bench's own times:
 * stats per phase over the pods, plus api_to_agent (bound → informer delivery) and agent_to_watch (status written →
 * Running seen by the bench's watch).
 */
function profileOf(serverOutput: string, epochs: Map<string, { bound: number; running: number }>): Record<string, Stats> {
  const phases = new Map<string, number[]>();
  const add = (k: string, v: number) => (phases.get(k) ?? phases.set(k, []).get(k)!).push(v);
  // The text log format: `... DEBUG kubelet: pod started: ms per phase key=<ns>/<name> at=<epoch ms> phases="{...}"`.
  const re = /pod started: ms per phase key=(\S+) at=(\d+) phases=("(?:[^"\\]|\\.)*")/;
  for (const line of serverOutput.split('\n')) {
    const m = re.exec(line);
    const times = m ? epochs.get(m[1]!) : undefined;
    if (!m || !times) continue;
    const at = Number(m[2]);
    const durations = JSON.parse(JSON.parse(m[3]!)) as Record<string, number>;
    add('api_to_agent', at - times.bound);
    for (const [k, v] of Object.entries(durations)) add(k, v);
    add('agent_to_watch', times.running - (at + (durations.total ?? 0)));
  }
  return Object.fromEntries([...phases].map(([k, v]) => [k, stats(v)]));
}

// ---------- baselines ----------

/** Spawns argv (own process group) and resolves with ms until it wrote its first line; the child is kept running. */
function spawnUntilOutput(argv: string[], children: ChildProcess[]): Promise<number> {
  const t0 = performance.now();
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'ignore'], detached: true });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', () => resolve(performance.now() - t0));
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`${argv.join(' ')} exited (${code}) before it wrote anything`)));
  });
}

async function killGroups(children: ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = waitExit(child);
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // gone already
      }
      await exited;
    }),
  );
  children.length = 0;
}

async function spawnBaseline(argv: string[], shape: 'paced' | 'burst'): Promise<Stats> {
  const children: ChildProcess[] = [];
  const ms: number[] = [];
  try {
    await drive(PODS, shape, RATES.process!, async () => {
      ms.push(await spawnUntilOutput(argv, children));
    });
  } finally {
    await killGroups(children);
  }
  return stats(ms);
}

function criSandboxConfig(suffix: string, i: number, logRoot: string): PodSandboxConfig {
  const name = `bench-${suffix}-${i}`;
  const uid = `bench-${suffix}-${i}-${randomBytes(4).toString('hex')}`;
  return {
    metadata: { name, namespace: 'bench-baseline', uid, attempt: 0 },
    hostname: name,
    logDirectory: join(logRoot, `bench-baseline_${name}_${uid}`),
    portMappings: [],
    labels: { 'io.kubernetes.pod.uid': uid, 'io.kubernetes.pod.name': name, 'io.kubernetes.pod.namespace': 'bench-baseline' },
    annotations: {},
    hostNetwork: false,
    hostPID: false,
    hostIPC: false,
    cgroupParent: `/${CGROUP_ROOT}/besteffort/pod${uid}`,
  };
}

function criContainerConfig(): ContainerConfig {
  return {
    metadata: { name: 'c', attempt: 0 },
    image: BUSYBOX_IMAGE,
    command: WORKLOAD,
    args: [],
    env: [],
    mounts: [],
    logPath: 'c/0.log',
    stdin: false,
    stdinOnce: false,
    tty: false,
    resources: {},
    labels: { 'io.kubernetes.container.name': 'c' },
    annotations: {},
  };
}

/** RunPodSandbox + CreateContainer + StartContainer per pod against the agent's containerd; removes them after. */
async function criBaseline(dir: string, shape: 'paced' | 'burst', uids: string[]): Promise<Stats> {
  const runtime = new CriRuntime({ endpoint: `unix://${join(dir, 'agent', 'run', 'containerd', 'containerd.sock')}` });
  const suffix = randomBytes(3).toString('hex');
  const sandboxes: string[] = [];
  const ms: number[] = [];
  try {
    await drive(PODS, shape, RATES.cri!, async (i) => {
      const config = criSandboxConfig(suffix, i, join(dir, 'baseline-logs'));
      uids.push(config.metadata.uid);
      const t0 = performance.now();
      const sandbox = await runtime.runPodSandbox(config);
      sandboxes.push(sandbox);
      const id = await runtime.createContainer(sandbox, criContainerConfig(), config);
      await runtime.startContainer(id);
      ms.push(performance.now() - t0);
    });
  } finally {
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < sandboxes.length) {
          const id = sandboxes[next++]!;
          await runtime.stopPodSandbox(id);
          await runtime.removePodSandbox(id);
        }
      }),
    );
    await runtime.close();
  }
  return stats(ms);
}

// ---------- cleanup ----------

/**
 * After the server stopped (every pod deleted and gone before): containerd's leftover shims for this data dir, then
 * test/helpers/agent-cleanup.ts's hardCleanAgent (supervisor, the pods' processes and cgroups, cached CNI ADDs, the
 * bridge, mounts, the pods' log directories, the data dir), then a look for anything of these pods still there.
 */
async function cleanUp(dir: string, uids: string[]): Promise<Record<string, unknown>> {
  const shims = pidsWith('containerd-shim', join(dir, 'agent'));
  for (const pid of shims) process.kill(pid, 'SIGKILL');
  const steps = await hardCleanAgent({ dataDir: dir, podUids: uids });
  // containerd leaves the pod-level cgroups of the baseline's sandboxes (kubelet removes those, not the runtime).
  const counted = /^(removed cgroup |removed \/var\/log\/pods\/)/;
  return {
    shims_killed: shims.length,
    cgroups_removed: steps.filter((s) => s.startsWith('removed cgroup ')).length,
    log_dirs_removed: steps.filter((s) => s.startsWith('removed /var/log/pods/')).length,
    other_steps: steps.filter((s) => !counted.test(s)),
    leftovers: podLeftovers(uids),
  };
}

// ---------- one runtime ----------

async function benchRuntime(runtime: string): Promise<Record<string, unknown>> {
  // Short: containerd's socket path must stay under 108 bytes.
  const dir = await mkdtemp(`/tmp/skpb-${runtime}-`);
  // A joined agent has a data dir of its own (its runtime's state, its containerd); the embedded one uses the server's.
  const nodeDir = JOINED ? await mkdtemp(`/tmp/skpa-${runtime}-`) : dir;
  const suffix = randomBytes(3).toString('hex');
  const node = `bench-${runtime}-${suffix}`;
  const namespaces = [`paced-${suffix}`, `burst-${suffix}`];
  const uids: string[] = [];
  let server: ServerProcess | undefined;
  let agent: AgentProcess | undefined;
  let cleanup: Record<string, unknown> = {};
  try {
    if (runtime === 'cri') {
      // The air-gap directory: the agent imports it at start, so the image is cached before the first pod.
      await mkdir(airGapImageDir(nodeDir), { recursive: true });
      await writeFile(join(airGapImageDir(nodeDir), 'busybox.tar'), (await buildBusyboxImage(BUSYBOX_IMAGE)).archive);
    }
    const cidr = CLUSTER_CIDR ? ['--cluster-cidr', CLUSTER_CIDR] : [];
    const nodeArgs = ['--runtime', runtime, '--node-name', node, '--kubelet-port', '0', ...(PROFILE ? ['--debug'] : [])];
    const started = await startServer(dir, JOINED ? cidr : [...nodeArgs, ...cidr], !JOINED);
    server = started.server;
    const c = started.c;
    if (JOINED) {
      const token = (await readFile(join(dir, 'server', 'token'), 'utf8')).trim();
      const joined = spawnAgent(['--server', server.url, '--token', token, '--data-dir', nodeDir, ...nodeArgs], 120_000, { nodeArgs: AGENT_NODE_ARGS });
      agent = joined.agent;
      await joined.ready;
    }
    const nodeOutput = agent ? agent.output : server.output;
    await waitNodeReady(c, nodeOutput, node);
    await sleep(3000);
    const rss = () => ({ server_rss_mb: rssMb(server!.child.pid), ...(agent ? { agent_rss_mb: rssMb(agent.child.pid) } : {}), ...runtimeRss(nodeDir) });
    const memory: Record<string, unknown> = { idle: rss() };
    // And once settled: V8 gives back what the start grew (its memory reducer runs some seconds after the first full
    // GC), as bench/startup's settled figure for the control plane.
    await sleep(SETTLE_MS);
    memory.idle_settled = rss();
    const result: Record<string, any> = { runtime, node: JOINED ? `joined skiff agent${AGENT_NODE_ARGS.length ? ` (node ${AGENT_NODE_ARGS.join(' ')})` : ''}` : 'embedded in skiff server', memory };
    for (const [i, shape] of (['paced', 'burst'] as const).entries()) {
      const baseline =
        runtime === 'cri'
          ? { cri_calls_ms: await criBaseline(nodeDir, shape, uids) }
          : { spawn_ms: await spawnBaseline(WORKLOAD, shape), unshare_spawn_ms: await spawnBaseline([...UNSHARE, ...WORKLOAD], shape) };
      // Memory with every pod running: sampled once the burst's pods all run, before they are deleted.
      const pods = await runPods(c, node, runtime, namespaces[i]!, shape, () => cpuSnapshot(server!.child.pid, nodeDir, agent?.child.pid), () => {
        if (shape === 'burst') memory[`with_${PODS}_pods`] = rss();
      });
      uids.push(...pods.uids);
      const ref = runtime === 'cri' ? baseline.cri_calls_ms! : baseline.unshare_spawn_ms!;
      result[shape] = {
        pods: { running_ms: pods.running_ms, ready_ms: pods.ready_ms, ...(pods.all_running_ms !== undefined ? { all_running_ms: pods.all_running_ms } : {}), cpu_ms_per_pod: pods.cpu_ms_per_pod },
        baseline,
        ratio_running_over_baseline: { p50: ratio(pods.running_ms.p50, ref.p50), p99: ratio(pods.running_ms.p99, ref.p99) },
        ...(PROFILE ? { profile_ms: profileOf(nodeOutput(), pods.epochs) } : {}),
      };
    }
    return result;
  } finally {
    if (agent) {
      agent.child.kill('SIGTERM');
      const killer = setTimeout(() => agent!.child.kill('SIGKILL'), 30_000);
      await agent.exited;
      clearTimeout(killer);
    }
    if (server) await stopServer(server);
    if (!process.argv.includes('--keep')) {
      cleanup = await cleanUp(nodeDir, uids);
      if (nodeDir !== dir) await rm(dir, { recursive: true, force: true });
    }
    if (Object.keys(cleanup).length) process.stderr.write(`pod-start: cleanup after ${runtime}: ${JSON.stringify(cleanup)}\n`);
  }
}

/** The same server without its agent: idle, and holding PODS bound pods that never run (what the agent adds is the rest). */
async function controlPlaneOnly(): Promise<Record<string, number | undefined>> {
  const dir = await mkdtemp('/tmp/skpb-cp-');
  let server: ServerProcess | undefined;
  try {
    const started = await startServer(dir, [], false);
    server = started.server;
    await sleep(3000);
    const idle = rssMb(server.child.pid);
    const ns = 'held';
    await request(started.c, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    await drive(PODS, 'burst', 0, async (i) => {
      const r = await request(started.c, 'POST', `/api/v1/namespaces/${ns}/pods`, podManifest(`p${i}`, 'nowhere', 'process'));
      if (r.status !== 201) throw new Error(`pod p${i}: ${r.status} ${r.text}`);
    });
    await sleep(2000);
    return { idle_rss_mb: idle, [`with_${PODS}_bound_pods_rss_mb`]: rssMb(server.child.pid) };
  } finally {
    if (server) await stopServer(server);
    await rm(dir, { recursive: true, force: true });
  }
}

async function main() {
  if (process.getuid?.() !== 0) throw new Error('bench/pod-start needs root (namespaces, cgroups, CNI)');
  if (runtimes.includes('cri') && !findStaticBusybox()) throw new Error('cri needs a statically linked busybox (apt-get install busybox-static)');
  const results: Record<string, unknown>[] = [];
  for (const runtime of runtimes) results.push(await benchRuntime(runtime));
  const cp = await controlPlaneOnly();
  for (const r of results as Array<Record<string, any>>) {
    if (JOINED) continue; // agent_rss_mb is measured directly
    const peak = r.memory[`with_${PODS}_pods`] ?? {};
    r.memory.agent_rss_mb_estimate = {
      idle: (r.memory.idle.server_rss_mb ?? 0) - (cp.idle_rss_mb ?? 0),
      [`with_${PODS}_pods`]: (peak.server_rss_mb ?? 0) - (cp[`with_${PODS}_bound_pods_rss_mb`] ?? 0),
    };
  }
  console.log(
    JSON.stringify(
      {
        bench: 'pod-start',
        pods: PODS,
        paced_rate_per_s: RATES,
        burst_in_flight: BURST_IN_FLIGHT,
        definition: 'bound (created with spec.nodeName; the earlier of the create response and the ADDED watch event) -> first watch event with phase Running / condition Ready=True',
        results,
        control_plane_only: cp,
        targets: { process_paced_running_ms: { p50: '<= 50', p99: '<= 150' }, cri_paced_running_ms: { p99: '<= 800' }, agent_rss_mb: { idle: '<= 60', [`with_${PODS}_pods`]: '<= 150' } },
      },
      null,
      2,
    ),
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
