/**
 * bench/dns: the cluster DNS server's answer rate and latency, beside a bare UDP echo server measured in the same run.
 *
 * The server (DnsServer over a DnsIndex of --services Services, each with a 10-endpoint EndpointSlice, half of them
 * headless) runs in a worker thread on 127.0.0.1; the load comes from the main thread over one UDP socket. The
 * baseline is a worker that sends every datagram straight back: the floor of a Node UDP round trip on this machine.
 *
 * The query mix is what ndots:5 pods send: for every name they want, the search path's misses come first. Per
 * "lookup": `web-N.ns-M.svc.cluster.local.ns-M.svc.cluster.local` (NXDOMAIN), then the hit `web-N.ns-M.svc.cluster.local`
 * (A, ClusterIP or 10 endpoint addresses), then an SRV of a named port and a PTR of a ClusterIP, rotating.
 *
 * Two shapes: `paced` sends --rate queries/s (default 5,000, the target: p99 <= 5 ms) for --seconds and
 * reports latency percentiles; `max` keeps 64 queries in flight for up to 3 s and reports queries/s. Names outside the
 * zone (forwarded upstream) are not part of it: that is the upstream's time, not skiff's.
 * The machine may be shared: three rounds alternate baseline and skiff, and the median round of each is reported.
 * Usage: npm run build && node dist/bench/dns.js [--rate 5000] [--seconds 5] [--services 1000] [--rounds 3]
 */
import { createSocket } from 'node:dgram';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import dnsPacket from 'dns-packet';
import type { Question } from 'dns-packet';
import { DnsIndex } from '../src/dns/dns-records.js';
import { DnsServer } from '../src/dns/dns-server.js';

const arg = (name: string, dflt: string) => (process.argv.includes(`--${name}`) ? process.argv[process.argv.indexOf(`--${name}`) + 1]! : dflt);
const RATE = Number(arg('rate', '5000'));
const SECONDS = Number(arg('seconds', '5'));
const SERVICES = Number(arg('services', '1000'));
const NAMESPACES = 20;
const ROUNDS = Number(arg('rounds', '3'));

interface WorkerInput {
  kind: 'dns' | 'echo';
  services: number;
}

async function serve(input: WorkerInput): Promise<number> {
  if (input.kind === 'echo') {
    const s = createSocket('udp4');
    s.on('message', (msg, r) => s.send(msg, r.port, r.address));
    await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
    return s.address().port;
  }
  const index = new DnsIndex('cluster.local');
  for (let i = 0; i < input.services; i++) {
    const ns = `ns-${i % NAMESPACES}`;
    const headless = i % 2 === 1;
    const ip = `10.43.${(i >> 8) & 255}.${i & 255}`;
    index.setService({ metadata: { namespace: ns, name: `web-${i}` }, spec: { clusterIP: headless ? 'None' : ip, ...(headless ? {} : { clusterIPs: [ip] }), ports: [{ name: 'http', port: 80, protocol: 'TCP' }] } });
    index.setSlice({
      metadata: { namespace: ns, name: `web-${i}-x`, labels: { 'kubernetes.io/service-name': `web-${i}` } },
      addressType: 'IPv4',
      endpoints: Array.from({ length: 10 }, (_, e) => ({ addresses: [`10.42.${(i >> 4) & 255}.${((i & 15) << 4) + e}`], conditions: { ready: true } })),
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    });
  }
  const server = new DnsServer({ zone: 'cluster.local', ttl: 5, records: index });
  // Index the whole cluster before the clock starts (the first lookup after a change recomputes dirty Services).
  index.service('ns-0', 'web-0');
  return (await server.listen({ host: '127.0.0.1', port: 0 })).port;
}

if (!isMainThread) {
  void serve(workerData as WorkerInput).then((port) => parentPort!.postMessage(port));
} else {
  void main();
}

function questions(): Question[] {
  const out: Question[] = [];
  for (let i = 0; i < SERVICES; i++) {
    const ns = `ns-${i % NAMESPACES}`;
    const name = `web-${i}.${ns}.svc.cluster.local`;
    out.push({ name: `${name}.${ns}.svc.cluster.local`, type: 'A' });
    out.push({ name, type: 'A' });
    if (i % 4 === 0) out.push({ name: `_http._tcp.${name}`, type: 'SRV' });
    if (i % 4 === 2) out.push({ name: `${i & 255}.${(i >> 8) & 255}.43.10.in-addr.arpa`, type: 'PTR' });
  }
  return out;
}

async function startWorker(kind: WorkerInput['kind']): Promise<{ port: number; stop: () => Promise<number> }> {
  const worker = new Worker(new URL(import.meta.url), { workerData: { kind, services: SERVICES } satisfies WorkerInput });
  const port = await new Promise<number>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  return { port, stop: () => worker.terminate() };
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
const round = (n: number, d = 3) => Math.round(n * 10 ** d) / 10 ** d;

/** Sends `msgs` in rotation: paced at `rate` per second, or (rate 0) keeping `inFlight` outstanding. */
async function load(port: number, msgs: Buffer[], o: { rate: number; seconds: number; inFlight?: number }) {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const sentAt = new Map<number, bigint>();
  const latencies: number[] = [];
  let nextId = 0;
  let sent = 0;
  let lost = 0;
  let rcodeErrors = 0;
  const send = () => {
    const id = nextId;
    nextId = (nextId + 1) & 0xffff;
    if (sentAt.has(id)) lost++;
    const msg = msgs[sent % msgs.length]!;
    msg.writeUInt16BE(id, 0);
    sentAt.set(id, process.hrtime.bigint());
    socket.send(msg, port, '127.0.0.1');
    sent++;
  };
  const started = process.hrtime.bigint();
  const endAt = started + BigInt(Math.round(o.seconds * 1e9));
  let done: () => void;
  const finished = new Promise<void>((r) => (done = r));
  socket.on('message', (msg) => {
    const id = msg.readUInt16BE(0);
    const t0 = sentAt.get(id);
    if (t0 === undefined) return;
    sentAt.delete(id);
    latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
    // rcode 2 (SERVFAIL) or worse would mean the answer logic failed; NXDOMAIN is expected in the mix.
    const rcode = msg.length >= 4 ? msg.readUInt16BE(2) & 0xf : 0;
    if (rcode !== 0 && rcode !== 3) rcodeErrors++;
    if (o.rate === 0 && process.hrtime.bigint() < endAt) send();
  });
  if (o.rate === 0) {
    for (let i = 0; i < (o.inFlight ?? 64); i++) send();
    setTimeout(() => done(), o.seconds * 1000);
  } else {
    const tick = setInterval(() => {
      const now = process.hrtime.bigint();
      if (now >= endAt) {
        clearInterval(tick);
        // Answers still on their way get half a second.
        setTimeout(() => done(), 500);
        return;
      }
      const due = Math.floor((Number(now - started) / 1e9) * o.rate);
      while (sent < due) send();
    }, 1);
  }
  await finished;
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  socket.close();
  lost += sentAt.size;
  latencies.sort((a, b) => a - b);
  return {
    sent,
    answered: latencies.length,
    lost,
    rcodeErrors,
    qps: round(latencies.length / Math.min(elapsed, o.seconds + (o.rate ? 0.5 : 0)), 0),
    p50Ms: round(percentile(latencies, 50)),
    p90Ms: round(percentile(latencies, 90)),
    p99Ms: round(percentile(latencies, 99)),
    maxMs: round(latencies[latencies.length - 1] ?? NaN),
  };
}

async function main() {
  const msgs = questions().map((q) => dnsPacket.encode({ type: 'query', id: 0, flags: dnsPacket.RECURSION_DESIRED, questions: [q] }));
  const workers = { echo: await startWorker('echo'), dns: await startWorker('dns') };
  type Run = Awaited<ReturnType<typeof load>>;
  const runs: Record<'echo' | 'dns', { paced: Run[]; max: Run[] }> = { echo: { paced: [], max: [] }, dns: { paced: [], max: [] } };
  for (const kind of ['echo', 'dns'] as const) await load(workers[kind].port, msgs, { rate: 2000, seconds: 0.5 });
  // The machine is shared: rounds alternate between the baseline and skiff, and the median round is reported.
  for (let round = 0; round < ROUNDS; round++) {
    for (const kind of ['echo', 'dns'] as const) {
      runs[kind].paced.push(await load(workers[kind].port, msgs, { rate: RATE, seconds: SECONDS }));
      runs[kind].max.push(await load(workers[kind].port, msgs, { rate: 0, seconds: Math.min(SECONDS, 3), inFlight: 64 }));
    }
  }
  await workers.echo.stop();
  await workers.dns.stop();
  const median = (rs: Run[], key: 'p99Ms' | 'qps') => [...rs].sort((a, b) => a[key] - b[key])[Math.floor(rs.length / 2)]!;
  const summary = (kind: 'echo' | 'dns') => ({
    paced: median(runs[kind].paced, 'p99Ms'),
    max: median(runs[kind].max, 'qps'),
    pacedP99MsPerRound: runs[kind].paced.map((r) => r.p99Ms),
    maxQpsPerRound: runs[kind].max.map((r) => r.qps),
  });
  const dns = summary('dns');
  const echo = summary('echo');
  console.log(
    JSON.stringify(
      {
        bench: 'dns',
        services: SERVICES,
        endpointsPerService: 10,
        queries: msgs.length,
        rate: RATE,
        seconds: SECONDS,
        rounds: ROUNDS,
        baseline: 'bare UDP echo server (worker thread), same load',
        loadAverage: (await import('node:os')).loadavg().map((l) => round(l, 2)),
        echo,
        dns,
        ratios: {
          maxQpsVsEcho: round(dns.max.qps / echo.max.qps),
          pacedP99VsEcho: round(dns.paced.p99Ms / echo.paced.p99Ms, 2),
        },
        target: { pacedP99Ms: 5, met: dns.paced.p99Ms <= 5 },
      },
      null,
      2,
    ),
  );
}
