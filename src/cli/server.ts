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
import { startControlPlane, type ControlPlane } from './control-plane.js';
import type { ServerConfig } from './flags.js';
import { kubeconfigServerUrl, writeKubeconfig } from './kubeconfig.js';

export interface RunningServer {
  api: ApiServer;
  controlPlane: ControlPlane;
  store: Store;
  kubeconfigPath: string;
  stop(): Promise<void>;
}

export async function runServer(config: ServerConfig, log: (line: string) => void = (l) => console.log(l)): Promise<RunningServer> {
  const started = performance.now();
  const datastore = config.datastoreEndpoint;
  if (datastore.startsWith('sqlite://')) {
    const file = datastore.slice('sqlite://'.length);
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  }
  const [store, pki] = await Promise.all([
    openStore(datastore),
    ensurePki(config.dataDir, { hostnames: config.tlsSan, ips: config.advertiseAddress ? [config.advertiseAddress] : [] }),
  ]);
  const token = await ensureToken(config.dataDir, config.token, pki.caHash);
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
  });
  const compactor = startCompactor(store);
  const controlPlane = await startControlPlane(api, config, log);
  const server = kubeconfigServerUrl(config.bindAddress, api.port);
  await writeKubeconfig(config.writeKubeconfig, {
    server,
    caPem: pki.caCertPem,
    clientCertPem: pki.adminCertPem,
    clientKeyPem: pki.adminKeyPem,
    mode: config.writeKubeconfigMode,
  });
  log(`Wrote kubeconfig ${config.writeKubeconfig}`);
  log(`skiff server ready: ${server} (Kubernetes v1.32 API, datastore ${datastore.replace(/\/\/[^@/]*@/, '//***@')}) in ${Math.round(performance.now() - started)} ms; export KUBECONFIG=${config.writeKubeconfig}`);

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
