/**
 * The node-agent flags `skiff server` (embedded agent) and `skiff agent` share, as one typed config: k3s's names
 * (--node-name, --node-ip, --node-label, --node-taint, --container-runtime-endpoint, --pause-image,
 * --private-registry) plus --runtime and --kubelet-port.
 */
import { resolve } from 'node:path';
import type { Taint } from 'kubernetes-types/core/v1.js';
import type { NodeAgentOptions } from '../agent/node-agent.js';
import type { ProxyMode } from '../proxy/service-proxy.js';
import type { FlannelBackend } from '../agent/network/node-routes.js';
import type { RuntimeChoice } from '../agent/runtime/select-runtime.js';
import { FlagError } from './flag-error.js';
import type { HostFacts } from './flag-parser.js';
import { nodeName as parseNodeName } from './flag-values.js';
import { forbiddenLabels } from '../api/node-labels.js';

export interface NodeAgentConfig {
  nodeName: string;
  nodeIp?: string;
  nodeLabels: Record<string, string>;
  nodeTaints: Taint[];
  runtime: RuntimeChoice;
  containerRuntimeEndpoint?: string;
  pauseImage: string;
  privateRegistry: string;
  kubeletPort: number;
  /** --container-log-max-size (bytes), --container-log-max-files */
  containerLogMaxSizeBytes?: number;
  containerLogMaxFiles?: number;
  /** --proxy-mode (undefined: the default, iptables where it can run). */
  proxyMode?: ProxyMode;
  /** --disable-network-policy */
  disableNetworkPolicy?: boolean;
  /** --ingress-http-port, --ingress-https-port (absent: 80 and 443). */
  ingressHttpPort?: number;
  ingressHttpsPort?: number;
  /** --flannel-backend, --cluster-cidr, --cni-conf-dir, --cni-bin-dir */
  flannelBackend?: FlannelBackend;
  clusterCidrs?: string[];
  cniConfDir?: string;
  cniBinDir?: string;
}

const LABEL_NAME = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;
const EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'];

/** `key=value` items (k3s --node-label), validated as the API server validates labels. */
export function parseNodeLabels(items: string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    const key = eq < 0 ? item : item.slice(0, eq);
    const value = eq < 0 ? '' : item.slice(eq + 1);
    if (eq < 0 || !LABEL_NAME.test(key) || !LABEL_VALUE.test(value)) {
      throw new FlagError(`invalid value ${JSON.stringify(item)} for --node-label: must be KEY=VALUE with a valid label name and value`, '--node-label', item);
    }
    labels[key] = value;
  }
  // kubelet's own check (ValidateKubeletFlags): NodeRestriction would refuse these at registration, so say it now.
  const refused = forbiddenLabels(Object.keys(labels));
  if (refused.length) {
    throw new FlagError(
      `unknown 'kubernetes.io' or 'k8s.io' labels specified with --node-label: ${refused.join(', ')} (a node may set only the kubelet's own labels, those under kubelet.kubernetes.io/ and node.kubernetes.io/; label the Node with kubectl instead)`,
      '--node-label',
      refused[0],
    );
  }
  return labels;
}

/** `key=value:Effect` or `key:Effect` items (k3s --node-taint, kubelet --register-with-taints). */
export function parseNodeTaints(items: string[]): Taint[] {
  return items.map((item) => {
    const m = /^([^=:]+)(?:=([^:]*))?:([A-Za-z]+)$/.exec(item);
    if (!m || !LABEL_NAME.test(m[1]!) || !LABEL_VALUE.test(m[2] ?? '') || !EFFECTS.includes(m[3]!)) {
      throw new FlagError(`invalid value ${JSON.stringify(item)} for --node-taint: must be KEY[=VALUE]:EFFECT with EFFECT one of ${EFFECTS.join(', ')}`, '--node-taint', item);
    }
    return { key: m[1]!, ...(m[2] ? { value: m[2] } : {}), effect: m[3]! };
  });
}

export function nodeAgentConfig(values: ReadonlyMap<string, unknown>, host: HostFacts): NodeAgentConfig {
  const given = <T>(name: string): T | undefined => (values.has(name) ? (values.get(name) as T) : undefined);
  const nodeIp = given<string>('node-ip');
  const endpoint = given<string>('container-runtime-endpoint');
  const cniConfDir = given<string>('cni-conf-dir');
  return {
    nodeName: given<string>('node-name') ?? parseNodeName(host.hostname.toLowerCase(), { flag: '--node-name', text: 'the hostname (--node-name)' }),
    ...(nodeIp !== undefined ? { nodeIp } : {}),
    nodeLabels: parseNodeLabels(given<string[]>('node-label') ?? []),
    nodeTaints: parseNodeTaints(given<string[]>('node-taint') ?? []),
    runtime: values.get('runtime') as RuntimeChoice,
    ...(endpoint ? { containerRuntimeEndpoint: endpoint } : {}),
    pauseImage: values.get('pause-image') as string,
    privateRegistry: values.get('private-registry') as string,
    kubeletPort: values.get('kubelet-port') as number,
    // Only when not kubelet's defaults (10Mi, 5), which the node agent applies anyway.
    ...(given<number>('container-log-max-size') !== undefined && given<number>('container-log-max-size') !== 10 * 1024 * 1024 ? { containerLogMaxSizeBytes: given<number>('container-log-max-size')! } : {}),
    ...(given<number>('container-log-max-files') !== undefined && given<number>('container-log-max-files') !== 5 ? { containerLogMaxFiles: given<number>('container-log-max-files')! } : {}),
    ...(given<ProxyMode>('proxy-mode') ? { proxyMode: given<ProxyMode>('proxy-mode')! } : {}),
    ...(values.get('disable-network-policy') === true ? { disableNetworkPolicy: true } : {}),
    ingressHttpPort: values.get('ingress-http-port') as number,
    ingressHttpsPort: values.get('ingress-https-port') as number,
    flannelBackend: values.get('flannel-backend') as FlannelBackend,
    clusterCidrs: values.get('cluster-cidr') as string[],
    ...(cniConfDir ? { cniConfDir: resolve(cniConfDir) } : {}),
    cniBinDir: resolve(values.get('cni-bin-dir') as string),
  };
}

/** The node's part of startNodeAgent's options, from the flags (the caller adds client, informers, dataDir, tls). */
export function nodeAgentStartOptions(a: NodeAgentConfig): Pick<NodeAgentOptions, 'nodeName' | 'nodeIp' | 'labels' | 'taints' | 'runtime' | 'containerRuntimeEndpoint' | 'pauseImage' | 'privateRegistry' | 'kubeletPort' | 'proxyMode' | 'disableNetworkPolicy' | 'ingressPorts' | 'flannelBackend' | 'clusterCidrs' | 'cniConfDir' | 'cniBinDir' | 'containerLogMaxSizeBytes' | 'containerLogMaxFiles'> {
  return {
    nodeName: a.nodeName,
    ...(a.nodeIp ? { nodeIp: a.nodeIp } : {}),
    labels: a.nodeLabels,
    taints: a.nodeTaints,
    runtime: a.runtime,
    ...(a.containerRuntimeEndpoint ? { containerRuntimeEndpoint: a.containerRuntimeEndpoint } : {}),
    pauseImage: a.pauseImage,
    privateRegistry: a.privateRegistry,
    kubeletPort: a.kubeletPort,
    ...(a.containerLogMaxSizeBytes !== undefined ? { containerLogMaxSizeBytes: a.containerLogMaxSizeBytes } : {}),
    ...(a.containerLogMaxFiles !== undefined ? { containerLogMaxFiles: a.containerLogMaxFiles } : {}),
    ...(a.proxyMode ? { proxyMode: a.proxyMode } : {}),
    ...(a.disableNetworkPolicy ? { disableNetworkPolicy: true } : {}),
    ingressPorts: { http: a.ingressHttpPort ?? 80, https: a.ingressHttpsPort ?? 443 },
    ...(a.flannelBackend ? { flannelBackend: a.flannelBackend } : {}),
    ...(a.clusterCidrs ? { clusterCidrs: a.clusterCidrs } : {}),
    ...(a.cniConfDir ? { cniConfDir: a.cniConfDir } : {}),
    ...(a.cniBinDir ? { cniBinDir: a.cniBinDir } : {}),
  };
}
