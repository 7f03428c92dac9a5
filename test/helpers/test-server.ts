/**
 * Starts a real skiff API server in this process on 127.0.0.1:0 with its own temporary data dir, and gives tests
 * an authenticated HTTPS client (the admin client certificate, like kubectl's kubeconfig).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runServer, type RunningServer } from '../../src/cli/server.js';
import { controllerFactories } from '../../src/controllers/all.js';
import type { ServerConfig } from '../../src/cli/flags.js';

export interface TestServer {
  url: string;
  port: number;
  dataDir: string;
  kubeconfig: string;
  running: RunningServer;
  /** Sends a request with the admin credentials; JSON-encodes a non-string body. */
  request(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<TestResponse>;
  /** Same, but without any credentials. */
  anonymous(method: string, path: string): Promise<TestResponse>;
  /** Opens a streaming GET and collects newline-delimited JSON events. */
  stream(path: string, headers?: Record<string, string>): Promise<EventStream>;
  stop(): Promise<void>;
}

export interface TestResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any;
}

export interface EventStream {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  events: any[];
  /** Resolves when at least n events have arrived (rejects after timeoutMs). */
  waitFor(n: number, timeoutMs?: number): Promise<any[]>;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  close(): void;
}

export interface TestServerOptions {
  datastore?: 'sqlite' | 'memory';
  dataDir?: string;
  port?: number;
  /** Controllers not to run (`--disable`). */
  disable?: string[];
  /** false: run the API server alone (no controllers, no scheduler), for tests of API semantics. */
  controlPlane?: boolean;
  simulateNodes?: number;
  nodeMonitorGracePeriodMs?: number;
  defaultTolerationSeconds?: number;
  /** --secrets-encryption. */
  secretsEncryption?: boolean;
}

export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'skiff-test-')));
  const ownsDir = opts.dataDir === undefined;
  const config: ServerConfig = {
    dataDir,
    httpsListenPort: opts.port ?? 0,
    bindAddress: '127.0.0.1',
    datastoreEndpoint: opts.datastore === 'memory' ? 'memory://' : `sqlite://${join(dataDir, 'server', 'db', 'state.db')}`,
    writeKubeconfig: join(dataDir, 'kubeconfig.yaml'),
    writeKubeconfigMode: 0o600,
    tlsSan: [],
    disable: opts.controlPlane === false ? [...controllerFactories.map((f) => f.name), 'scheduler'] : (opts.disable ?? []),
    // Tests of the control plane run no real node agent; the agent's own tests start one.
    disableAgent: true,
    secretsEncryption: opts.secretsEncryption ?? false,
    agent: { nodeName: 'test-node', nodeLabels: {}, nodeTaints: [], runtime: 'process', pauseImage: 'registry.k8s.io/pause:3.9', privateRegistry: '/nonexistent/registries.yaml', kubeletPort: 0 },
    clusterCIDRs: ['10.42.0.0/16'],
    serviceCIDR: '10.43.0.0/16',
    serviceNodePortRange: [30000, 32767],
    simulateNodes: opts.simulateNodes ?? 0,
    simulateNodeCapacity: { cpu: '32', memory: '256Gi', pods: '110' },
    simulatePodReadyDelayMs: 1000,
    nodeMonitorGracePeriodMs: opts.nodeMonitorGracePeriodMs ?? 40_000,
    defaultNotReadyTolerationSeconds: opts.defaultTolerationSeconds ?? 300,
    defaultUnreachableTolerationSeconds: opts.defaultTolerationSeconds ?? 300,
    maxRequestsInflight: 400,
    maxMutatingRequestsInflight: 200,
    debug: false,
    logFormat: 'text',
    notices: [],
    help: false,
  };
  const running = await runServer(config, () => {});
  const port = running.api.port;
  const pki = await import('../../src/apiserver/auth/pki.js').then((m) => m.ensurePki(dataDir));
  const agent = new https.Agent({ ca: pki.caCertPem, cert: pki.adminCertPem, key: pki.adminKeyPem, keepAlive: true });
  const anonAgent = new https.Agent({ ca: pki.caCertPem, keepAlive: false });

  const send = (agentToUse: https.Agent, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    new Promise<TestResponse>((resolve, reject) => {
      const payload = body === undefined ? undefined : typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
      const req = https.request(
        {
          host: '127.0.0.1',
          port,
          method,
          path,
          agent: agentToUse,
          headers: { ...(payload !== undefined ? { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(payload)) } : {}), ...headers },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let json: any;
            try {
              json = JSON.parse(text);
            } catch {
              json = undefined;
            }
            resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
          });
        },
      );
      req.on('error', reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });

  return {
    url: `https://127.0.0.1:${port}`,
    port,
    dataDir,
    kubeconfig: config.writeKubeconfig,
    running,
    request: (method, path, body, headers) => send(agent, method, path, body, headers),
    anonymous: (method, path) => send(anonAgent, method, path),
    stream(path, headers = {}) {
      return new Promise<EventStream>((resolve, reject) => {
        const req = https.request({ host: '127.0.0.1', port, method: 'GET', path, agent: new https.Agent({ ca: pki.caCertPem, cert: pki.adminCertPem, key: pki.adminKeyPem }), headers }, (res) => {
          const events: any[] = [];
          let buf = '';
          let waiters: { n: number; resolve: (e: any[]) => void }[] = [];
          let endResolve: () => void;
          const ended = new Promise<void>((r) => (endResolve = r));
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            buf += chunk;
            let nl;
            while ((nl = buf.indexOf('\n')) >= 0) {
              const line = buf.slice(0, nl);
              buf = buf.slice(nl + 1);
              if (line.trim()) events.push(JSON.parse(line));
            }
            waiters = waiters.filter((w) => {
              if (events.length >= w.n) {
                w.resolve(events);
                return false;
              }
              return true;
            });
          });
          res.on('end', () => endResolve());
          res.on('close', () => endResolve());
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            events,
            ended,
            waitFor(n, timeoutMs = 5000) {
              if (events.length >= n) return Promise.resolve(events);
              return new Promise((res2, rej2) => {
                const t = setTimeout(() => rej2(new Error(`timed out waiting for ${n} events; got ${events.length}: ${JSON.stringify(events.map((e) => e.type))}`)), timeoutMs);
                waiters.push({ n, resolve: (e) => { clearTimeout(t); res2(e); } });
              });
            },
            close() {
              req.destroy();
            },
          });
        });
        req.on('error', (err) => {
          if ((err as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(err);
        });
        req.end();
      });
    },
    async stop() {
      agent.destroy();
      anonAgent.destroy();
      await running.stop();
      if (ownsDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
