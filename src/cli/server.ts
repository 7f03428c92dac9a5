/**
 * `skiff server`: the control plane in one process. Opens the store, ensures certificates and the cluster token,
 * starts the API server, writes the admin kubeconfig, and stops gracefully on SIGTERM/SIGINT.
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Authenticator } from '../apiserver/auth/authenticator.js';
import { ensureToken } from '../apiserver/auth/cluster-token.js';
import { ensurePki } from '../apiserver/auth/pki.js';
import { defaultExtensions } from '../apiserver/extensions.js';
import { resources } from '../apiserver/registry/index.js';
import { startApiServer, type ApiServer } from '../apiserver/server.js';
import { startCompactor } from '../storage/compactor.js';
import { openStore } from '../storage/open-store.js';
import type { Store } from '../storage/store.js';
import { createLogger, type LogFields } from '../log/logger.js';
import { announcer } from './announcer.js';
import { startControlPlane, type ControlPlane } from './control-plane.js';
import { adoptClusterCA, BOOTSTRAP_KEY, publishClusterCA, tokenSecret } from './bootstrap.js';
import type { ServerConfig } from './flags.js';
import { kubeconfigServerUrl, writeKubeconfig } from './kubeconfig.js';

export interface RunningServer {
  api: ApiServer;
  controlPlane: ControlPlane;
  store: Store;
  kubeconfigPath: string;
  stop(): Promise<void>;
}

const log = createLogger('server');

/**
 * Starts the control plane and resolves once it serves. `announce` gets the kubeconfig and ready lines (default:
 * printed on stdout in the text log format, info entries in the JSON one); tests pass a no-op.
 */
export async function runServer(config: ServerConfig, announce: (line: string, fields?: LogFields) => void = announcer(config.logFormat, log)): Promise<RunningServer> {
  const started = performance.now();
  const datastore = config.datastoreEndpoint;
  if (datastore.startsWith('sqlite://')) {
    const file = datastore.slice('sqlite://'.length);
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  }
  const pkiOptions = { hostnames: config.tlsSan, ips: config.advertiseAddress ? [config.advertiseAddress] : [] };
  const [store, secret] = await Promise.all([openStore(datastore), tokenSecret(config.dataDir, config.token)]);
  const since = () => Math.round(performance.now() - started);
  log.debug('datastore open', { datastore: redactUrl(datastore), ms: since() });
  // A datastore that already belongs to a cluster brings its CA (HA servers share one); otherwise this server's CA is
  // published for the next ones.
  const boot = await store.get(BOOTSTRAP_KEY);
  if (boot.kv) await adoptClusterCA(boot.kv.value, config.dataDir, secret);
  let pki = await ensurePki(config.dataDir, pkiOptions);
  let token = await ensureToken(config.dataDir, config.token, pki.caHash);
  if (!boot.kv && !(await publishClusterCA(store, token.secret, pki.caCertPem, pki.caKeyPem))) {
    // Another server published first: take its CA after all.
    const winner = await store.get(BOOTSTRAP_KEY);
    if (winner.kv && (await adoptClusterCA(winner.kv.value, config.dataDir, token.secret))) {
      pki = await ensurePki(config.dataDir, pkiOptions);
      token = await ensureToken(config.dataDir, config.token, pki.caHash);
    }
  }
  log.debug('certificates and token ready', { dir: config.dataDir, adoptedClusterCA: boot.kv !== undefined, ms: since() });
  const authenticator = new Authenticator({ caCertPem: pki.caCertPem, clusterToken: token.secret });
  const api = await startApiServer({
    store,
    resources,
    authenticator,
    tls: { cert: pki.servingCertPem, key: pki.servingKeyPem, ca: pki.caCertPem },
    port: config.httpsListenPort,
    host: config.bindAddress,
    extensions: defaultExtensions(resources),
    defaultNotReadyTolerationSeconds: config.defaultNotReadyTolerationSeconds,
    defaultUnreachableTolerationSeconds: config.defaultUnreachableTolerationSeconds,
    maxRequestsInflight: config.maxRequestsInflight,
    maxMutatingRequestsInflight: config.maxMutatingRequestsInflight,
  });
  log.debug('API server listening', { address: `${config.bindAddress}:${api.port}`, ms: since() });
  const compactor = startCompactor(store);
  const controlPlane = await startControlPlane(api, config);
  const server = kubeconfigServerUrl(config.bindAddress, api.port);
  const kubeconfigWritten = await writeKubeconfig(config.writeKubeconfig, {
    server,
    caPem: pki.caCertPem,
    clientCertPem: pki.adminCertPem,
    clientKeyPem: pki.adminKeyPem,
    mode: config.writeKubeconfigMode,
  }).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      // A full disk must not keep the server from serving reads; the kubeconfig of an earlier start stays as it was.
      if (err.code !== 'ENOSPC') throw err;
      log.warn('cannot write the kubeconfig: no space left on the device', { kubeconfig: config.writeKubeconfig });
      return false;
    },
  );
  if (kubeconfigWritten) announce(`Wrote kubeconfig ${config.writeKubeconfig}`, { kubeconfig: config.writeKubeconfig });
  announce(`skiff server ready: ${server} (Kubernetes v1.32 API, datastore ${redactUrl(datastore)}) in ${Math.round(performance.now() - started)} ms; export KUBECONFIG=${config.writeKubeconfig}`, { url: server });

  let stopping: Promise<void> | undefined;
  return {
    api,
    controlPlane,
    store,
    kubeconfigPath: config.writeKubeconfig,
    stop() {
      stopping ??= (async () => {
        await controlPlane.stop();
        compactor.stop();
        await api.close();
        await store.close();
      })();
      return stopping;
    },
  };
}

/** A datastore URL without its credentials (etcd://user:password@host), for lines people and log shippers read. */
function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
