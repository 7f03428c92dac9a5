/**
 * Every flag of `skiff server` and `skiff agent`, declared once, named and layered like k3s (k3s-io/docs:
 * docs/cli/server.md, docs/cli/agent.md, docs/installation/configuration.md). A flag can come from the command
 * line, from its `SKIFF_*` environment variable, or from the YAML config file, whose keys are the flag names.
 * `--help` of each command, the parsers and README.md's flag table all follow this list.
 *
 * A flag skiff cannot honour yet is never silently accepted: it is refused with the reason (`unsupported`), or,
 * when what the user asks for is already what skiff does, accepted, hidden from `--help`, and noted at start
 * (`noEffect`).
 */
import { FLANNEL_BACKENDS } from '../agent/network/node-routes.js';
import { RUNTIME_CHOICES } from '../agent/runtime/select-runtime.js';
import { LOG_FORMATS } from '../log/logger.js';
import { toUnits, tryParseQuantity } from '../api/quantity.js';
import * as v from './flag-values.js';
import { IMPLEMENTED_PROXY_MODES, proxyModeRefusal } from '../proxy/proxy-modes.js';

export type Command = 'server' | 'agent';
export const COMMANDS: readonly Command[] = ['server', 'agent'];

export interface FlagSpec {
  /** Long name (`--data-dir`), which is also the config-file key (`data-dir: /srv/skiff`). */
  name: string;
  /** Other names: a single letter is a short flag (`-o`), a longer one a long alias. */
  aliases?: readonly string[];
  /** Environment variable holding the value; k3s's name with SKIFF_ for K3S_ where k3s has one. */
  env?: string;
  /** false: the flag cannot be set in the config file (`config` itself, `help`). Default true. */
  configKey?: boolean;
  /** `list` flags repeat (`--tls-san a --tls-san b`) or take comma-separated text; a YAML list in the file. */
  type: 'string' | 'boolean' | 'list';
  /** The commands that take the flag. */
  commands: readonly Command[];
  /** Placeholder for the value in help. */
  arg?: string;
  help: string;
  /** Default as text, parsed like a given value. Absent: no value, or one the command computes (see defaultText). */
  default?: string;
  /** How help shows a computed default, for every command or per command. */
  defaultText?: string | Partial<Record<Command, string>>;
  /** Turns one value's text into its typed value; string flags without one keep the text. */
  parse?: v.ValueParser<unknown>;
  /** Per command: refused, with this reason, because skiff cannot do what it asks yet. */
  unsupported?: Partial<Record<Command, string>>;
  /** Per command: accepted (for k3s scripts), hidden from help, and noted at start with this text. */
  noEffect?: Partial<Record<Command, string>>;
}

export const DEFAULT_CONFIG_FILE = '/etc/skiff/config.yaml';

/** kubelet's --container-log-max-size: a quantity (10Mi, 500Ki), in bytes. */
const containerLogMaxSize: v.ValueParser<number> = (value, where) => {
  const q = tryParseQuantity(value);
  const bytes = q === undefined ? NaN : Number(toUnits(q));
  if (!(bytes > 0)) v.fail(where, value, 'must be a positive quantity of bytes, e.g. 10Mi');
  return bytes;
};

/** kubelet's --container-log-max-files: at least 2 (the current file and one rotated). */
const containerLogMaxFiles: v.ValueParser<number> = (value, where) => {
  const n = v.count(value, where);
  if (n < 2) v.fail(where, value, 'must be greater than 1');
  return n;
};

/** The catalogue, in help order. */
export const FLAGS: readonly FlagSpec[] = [
  { name: 'config', aliases: ['c'], env: 'SKIFF_CONFIG_FILE', configKey: false, type: 'string', commands: ['server', 'agent'], arg: 'FILE', help: 'Load configuration from FILE (YAML; keys are flag names; keys of the other command are ignored)', defaultText: `${DEFAULT_CONFIG_FILE} if it exists` },
  { name: 'debug', env: 'SKIFF_DEBUG', type: 'boolean', commands: ['server', 'agent'], help: 'Log debug entries too', default: 'false', parse: v.bool },
  { name: 'log-format', env: 'SKIFF_LOG_FORMAT', type: 'string', commands: ['server', 'agent'], arg: 'FORMAT', help: 'Log entries on stderr as readable lines (text) or JSON lines (json)', default: 'text', parse: v.oneOf(LOG_FORMATS) },

  // skiff server
  { name: 'data-dir', aliases: ['d'], env: 'SKIFF_DATA_DIR', type: 'string', commands: ['server', 'agent'], arg: 'DIR', help: 'Folder for state: certificates, token, database (server); node credentials, containerd, pod volumes and logs (agent)', defaultText: '/var/lib/skiff as root, ~/.local/share/skiff otherwise' },
  { name: 'https-listen-port', env: 'SKIFF_HTTPS_LISTEN_PORT', type: 'string', commands: ['server'], arg: 'PORT', help: 'HTTPS listen port of the API server (0 = any free port)', default: '6443', parse: v.port },
  { name: 'bind-address', env: 'SKIFF_BIND_ADDRESS', type: 'string', commands: ['server'], arg: 'IP', help: 'IP address the API server listens on', default: '0.0.0.0', parse: v.ip },
  { name: 'advertise-address', env: 'SKIFF_ADVERTISE_ADDRESS', type: 'string', commands: ['server'], arg: 'IP', help: 'IP address agents and clients reach this server at; added to the serving certificate (the kubernetes Service has no endpoints yet)', parse: v.ip },
  { name: 'datastore-endpoint', env: 'SKIFF_DATASTORE_ENDPOINT', type: 'string', commands: ['server'], arg: 'URL', help: 'Store: sqlite://FILE, memory://, or etcd://HOST:PORT[,HOST:PORT...][/PREFIX]', defaultText: 'sqlite://<data-dir>/server/db/state.db', parse: v.storeUrl },
  { name: 'datastore-cafile', env: 'SKIFF_DATASTORE_CAFILE', type: 'string', commands: ['server'], arg: 'FILE', help: 'CA (PEM) that signed the etcd members\' certificates (https:// datastore endpoints)', defaultText: "the system's CAs" },
  { name: 'datastore-certfile', env: 'SKIFF_DATASTORE_CERTFILE', type: 'string', commands: ['server'], arg: 'FILE', help: 'Client certificate (PEM) for etcd (--client-cert-auth)' },
  { name: 'datastore-keyfile', env: 'SKIFF_DATASTORE_KEYFILE', type: 'string', commands: ['server'], arg: 'FILE', help: 'Key (PEM) of the client certificate for etcd' },
  { name: 'write-kubeconfig', aliases: ['o'], env: 'SKIFF_KUBECONFIG_OUTPUT', type: 'string', commands: ['server'], arg: 'FILE', help: 'Write the admin kubeconfig to FILE', defaultText: '<data-dir>/kubeconfig.yaml' },
  { name: 'write-kubeconfig-mode', env: 'SKIFF_KUBECONFIG_MODE', type: 'string', commands: ['server'], arg: 'MODE', help: 'Octal file mode of the kubeconfig, e.g. 644', default: '600', parse: v.fileMode },
  { name: 'token', aliases: ['t'], env: 'SKIFF_TOKEN', type: 'string', commands: ['server', 'agent'], arg: 'TOKEN', help: 'Cluster token (bare or K10… form): servers join with it, and agents unless --agent-token is set; skiff agent requires a token (either)', defaultText: { server: 'generated and kept in <data-dir>/server/token' } },
  { name: 'agent-token', env: 'SKIFF_AGENT_TOKEN', type: 'string', commands: ['server'], arg: 'TOKEN', help: "Token that agents join with and nothing else (k3s's --agent-token): it cannot join a server; kept as K10<CA hash>::node:<secret> in <data-dir>/server/agent-token", defaultText: 'the cluster token' },
  { name: 'tls-san', env: 'SKIFF_TLS_SAN', type: 'list', commands: ['server'], arg: 'NAME', help: 'Extra hostname or IP in the serving certificate (repeatable, or comma-separated)' },
  { name: 'disable', env: 'SKIFF_DISABLE', type: 'list', commands: ['server'], arg: 'NAME', help: 'Do not run this controller (e.g. deployment, garbage-collector), the scheduler, simulated-nodes, coredns (cluster DNS), ingress (the built-in ingress controller, in place of k3s traefik), servicelb, metrics-server (the built-in metrics.k8s.io API behind `kubectl top`; disable it to install the real metrics-server) or console (the web console at /console) (repeatable, or comma-separated)' },
  { name: 'disable-agent', env: 'SKIFF_DISABLE_AGENT', type: 'boolean', commands: ['server'], help: 'Do not run the embedded node agent (a control plane only: pods run on agents that join, or on simulated nodes)', default: 'false', parse: v.bool },
  { name: 'secrets-encryption', env: 'SKIFF_SECRETS_ENCRYPTION', type: 'boolean', commands: ['server'], help: "Encrypt Secrets at rest (AES-CBC; keys in <data-dir>/server/cred/encryption-config.json, kube-apiserver's EncryptionConfiguration format, generated on first use; see skiff secrets-encrypt)", default: 'false', parse: v.bool },
  { name: 'pod-security-admission-config-file', env: 'SKIFF_POD_SECURITY_ADMISSION_CONFIG_FILE', type: 'string', commands: ['server'], arg: 'FILE', help: "PodSecurity admission's defaults and exemptions: an AdmissionConfiguration or a PodSecurityConfiguration (RKE2's flag); without it namespaces without pod-security.kubernetes.io labels are privileged" },
  { name: 'audit-policy-file', env: 'SKIFF_AUDIT_POLICY_FILE', type: 'string', commands: ['server'], arg: 'FILE', help: "Audit requests as this policy says (kube-apiserver's audit.k8s.io/v1 Policy: levels None, Metadata, Request, RequestResponse); without it nothing is audited" },
  { name: 'audit-log-path', env: 'SKIFF_AUDIT_LOG_PATH', type: 'string', commands: ['server'], arg: 'FILE', help: 'Audit events as JSON lines to FILE (- for stdout)', defaultText: '<data-dir>/server/logs/audit.log when --audit-policy-file is given' },
  { name: 'audit-log-maxsize', env: 'SKIFF_AUDIT_LOG_MAXSIZE', type: 'string', commands: ['server'], arg: 'MB', help: 'Rotate the audit log at this many megabytes (0 = never)', default: '100', parse: v.count },
  { name: 'audit-log-maxbackup', env: 'SKIFF_AUDIT_LOG_MAXBACKUP', type: 'string', commands: ['server'], arg: 'N', help: 'Rotated audit log files kept (0 = all)', default: '10', parse: v.count },
  { name: 'max-requests-inflight', env: 'SKIFF_MAX_REQUESTS_INFLIGHT', type: 'string', commands: ['server'], arg: 'N', help: 'Read requests served at once; more get 429 with Retry-After (0 = no limit)', default: '400', parse: v.count },
  { name: 'max-mutating-requests-inflight', env: 'SKIFF_MAX_MUTATING_REQUESTS_INFLIGHT', type: 'string', commands: ['server'], arg: 'N', help: 'Write requests served at once; more get 429 with Retry-After (0 = no limit)', default: '200', parse: v.count },
  { name: 'cluster-cidr', env: 'SKIFF_CLUSTER_CIDR', type: 'string', commands: ['server', 'agent'], arg: 'CIDR', help: "Pod addresses: the node IPAM controller gives each node a /24 of it as spec.podCIDR (256 nodes in a /16; IPv4,IPv6 for dual-stack); an agent does not masquerade pod traffic to it (an agent takes the server's value at join unless given this flag)", default: '10.42.0.0/16', parse: v.cidrList },
  { name: 'service-cidr', env: 'SKIFF_SERVICE_CIDR', type: 'string', commands: ['server'], arg: 'CIDR', help: "Service ClusterIPs; its first address is the kubernetes Service's", default: '10.43.0.0/16', parse: v.serviceCidr },
  { name: 'cluster-dns', env: 'SKIFF_CLUSTER_DNS', type: 'string', commands: ['server'], arg: 'IP', help: "ClusterIP of the kube-dns Service that pods' resolv.conf names (skiff serves cluster DNS in the server unless --disable coredns)", defaultText: 'the 10th address of --service-cidr (10.43.0.10)', parse: v.ip },
  { name: 'cluster-domain', env: 'SKIFF_CLUSTER_DOMAIN', type: 'string', commands: ['server'], arg: 'DOMAIN', help: 'Cluster domain: Services are <svc>.<ns>.svc.<domain>', default: 'cluster.local', parse: v.dnsDomain },
  { name: 'service-node-port-range', env: 'SKIFF_SERVICE_NODE_PORT_RANGE', type: 'string', commands: ['server'], arg: 'RANGE', help: 'Ports for NodePort Services', default: '30000-32767', parse: v.portRange },
  { name: 'simulate-nodes', env: 'SKIFF_SIMULATE_NODES', type: 'string', commands: ['server'], arg: 'N', help: 'Register N simulated nodes (sim-node-<i>) whose pods run through a simulated lifecycle, without containers', default: '0', parse: v.count },
  { name: 'metric-resolution', env: 'SKIFF_METRIC_RESOLUTION', type: 'string', commands: ['server'], arg: 'DURATION', help: "Time between scrapes of the agents' /stats/summary by the built-in metrics-server (metrics-server's --metric-resolution)", default: '15s', parse: v.duration },
  { name: 'node-monitor-grace-period', env: 'SKIFF_NODE_MONITOR_GRACE_PERIOD', type: 'string', commands: ['server'], arg: 'DURATION', help: 'A node silent for this long is marked NotReady (e.g. 40s, 1m)', default: '40s', parse: v.duration },
  { name: 'default-not-ready-toleration-seconds', env: 'SKIFF_DEFAULT_NOT_READY_TOLERATION_SECONDS', type: 'string', commands: ['server'], arg: 'SECONDS', help: 'tolerationSeconds of the not-ready toleration added to every pod', default: '300', parse: v.count },
  { name: 'default-unreachable-toleration-seconds', env: 'SKIFF_DEFAULT_UNREACHABLE_TOLERATION_SECONDS', type: 'string', commands: ['server'], arg: 'SECONDS', help: 'tolerationSeconds of the unreachable toleration added to every pod', default: '300', parse: v.count },

  // skiff agent, and the node-agent flags of both (skiff server runs the same agent embedded)
  { name: 'server', aliases: ['s'], env: 'SKIFF_URL', type: 'string', commands: ['agent'], arg: 'URL', help: 'https://HOST:6443 of the skiff server to join (required)', parse: v.httpsUrl },
  { name: 'node-name', env: 'SKIFF_NODE_NAME', type: 'string', commands: ['server', 'agent'], arg: 'NAME', help: "This node's name (and the prefix of an agent's simulated nodes' names)", defaultText: 'hostname, lower-cased', parse: v.nodeName },
  { name: 'node-ip', aliases: ['i'], env: 'SKIFF_NODE_IP', type: 'string', commands: ['server', 'agent'], arg: 'IP', help: "IP address to advertise for this node (its InternalIP)", defaultText: 'the first non-loopback IPv4 address', parse: v.ip },
  { name: 'node-label', env: 'SKIFF_NODE_LABEL', type: 'list', commands: ['server', 'agent'], arg: 'KEY=VALUE', help: 'Label this node at registration (repeatable, or comma-separated)' },
  { name: 'node-taint', env: 'SKIFF_NODE_TAINT', type: 'list', commands: ['server', 'agent'], arg: 'KEY=VALUE:EFFECT', help: 'Taint this node at registration (repeatable, or comma-separated)' },
  { name: 'runtime', env: 'SKIFF_RUNTIME', type: 'string', commands: ['server', 'agent'], arg: 'NAME', help: 'Container runtime: cri (containerd), process (host processes, no images), or auto (cri when containerd is installed or an endpoint is given)', default: 'auto', parse: v.oneOf(RUNTIME_CHOICES) },
  { name: 'container-runtime-endpoint', env: 'SKIFF_CONTAINER_RUNTIME_ENDPOINT', type: 'string', commands: ['server', 'agent'], arg: 'ENDPOINT', help: 'CRI socket of a containerd (or other CRI runtime) to use instead of starting one, e.g. unix:///run/containerd/containerd.sock' },
  { name: 'pause-image', env: 'SKIFF_PAUSE_IMAGE', type: 'string', commands: ['server', 'agent'], arg: 'IMAGE', help: 'Pod sandbox image for containerd (a local one is built when it cannot be pulled)', default: 'registry.k8s.io/pause:3.9' },
  { name: 'private-registry', env: 'SKIFF_PRIVATE_REGISTRY', type: 'string', commands: ['server', 'agent'], arg: 'FILE', help: "Registry mirrors and credentials for containerd (k3s's registries.yaml format)", default: '/etc/skiff/registries.yaml' },
  { name: 'flannel-backend', env: 'SKIFF_FLANNEL_BACKEND', type: 'string', commands: ['server', 'agent'], arg: 'NAME', help: 'Pod routes between nodes: host-gw (nodes share a link), vxlan, none (bring your own CNI), or auto (host-gw to nodes on a shared link, vxlan to the others)', default: 'auto', parse: v.oneOf(FLANNEL_BACKENDS) },
  { name: 'cni-conf-dir', env: 'SKIFF_CNI_CONF_DIR', type: 'string', commands: ['server', 'agent'], arg: 'DIR', help: 'CNI config dir: a config found there is used as it is (skiff writes none and programs no routes); both runtimes read it', defaultText: '<data-dir>/agent/etc/cni/net.d' },
  { name: 'cni-bin-dir', env: 'SKIFF_CNI_BIN_DIR', type: 'string', commands: ['server', 'agent'], arg: 'DIR', help: 'CNI plugin binaries', default: '/usr/lib/cni' },
  { name: 'ingress-http-port', env: 'SKIFF_INGRESS_HTTP_PORT', type: 'string', commands: ['server', 'agent'], arg: 'PORT', help: "HTTP port of the built-in ingress controller on this node (k3s's Traefik answers on 80; 0 = any free port)", default: '80', parse: v.port },
  { name: 'ingress-https-port', env: 'SKIFF_INGRESS_HTTPS_PORT', type: 'string', commands: ['server', 'agent'], arg: 'PORT', help: 'HTTPS port of the built-in ingress controller on this node (0 = any free port)', default: '443', parse: v.port },
  { name: 'proxy-mode', env: 'SKIFF_PROXY_MODE', type: 'string', commands: ['server', 'agent'], arg: 'MODE', help: `Service proxy (kube-proxy's --proxy-mode): ${IMPLEMENTED_PROXY_MODES.join(', ')} (userspace: relayed by the agent process; without root NodePorts only)`, defaultText: 'iptables as root with iptables-restore, else userspace', parse: (value, where) => { const why = proxyModeRefusal(value); return why ? v.fail(where, value, why) : value; } },
  { name: 'disable-network-policy', env: 'SKIFF_DISABLE_NETWORK_POLICY', type: 'boolean', commands: ['server', 'agent'], help: "Do not enforce NetworkPolicies on this node (k3s's embedded kube-router netpol controller); bring your own policy controller", default: 'false', parse: v.bool },
  { name: 'container-log-max-size', env: 'SKIFF_CONTAINER_LOG_MAX_SIZE', type: 'string', commands: ['server', 'agent'], arg: 'QUANTITY', help: "Rotate a container's log once it reaches this size (kubelet's --container-log-max-size; both runtimes)", default: '10Mi', parse: containerLogMaxSize },
  { name: 'container-log-max-files', env: 'SKIFF_CONTAINER_LOG_MAX_FILES', type: 'string', commands: ['server', 'agent'], arg: 'N', help: "Log files kept per container, the current one included (kubelet's --container-log-max-files; at least 2)", default: '5', parse: containerLogMaxFiles },
  { name: 'kubelet-port', env: 'SKIFF_KUBELET_PORT', type: 'string', commands: ['server', 'agent'], arg: 'PORT', help: "HTTPS port of the node agent's API (logs, exec, port-forward, stats; 0 = any free port)", default: '10250', parse: v.port },
  { name: 'kubeconfig', env: 'SKIFF_AGENT_KUBECONFIG', type: 'string', commands: ['agent'], arg: 'FILE', help: "With --simulate: the kubeconfig the simulated nodes act with, instead of joining with --server and --token (kwok-style: NodeRestriction lets a node's own certificate write only its own Node), e.g. the server's admin kubeconfig" },
  { name: 'simulate', env: 'SKIFF_AGENT_SIMULATE', type: 'string', commands: ['agent'], arg: 'N', help: 'Register N simulated nodes named <node-name>-sim-<i> instead of running a real node (kwok-style, no containers)', default: '0', parse: v.count },
  { name: 'simulate-node-capacity', env: 'SKIFF_SIMULATE_NODE_CAPACITY', type: 'string', commands: ['server', 'agent'], arg: 'LIST', help: 'Capacity of each simulated node', default: 'cpu=32,memory=256Gi,pods=110', parse: v.capacity },
  { name: 'simulate-pod-ready-delay', env: 'SKIFF_SIMULATE_POD_READY_DELAY', type: 'string', commands: ['server', 'agent'], arg: 'DURATION', help: 'Time a simulated pod takes from bound to Running and Ready (e.g. 0s, 500ms, 2s)', default: '1s', parse: v.duration },
  { name: 'help', aliases: ['h'], configKey: false, type: 'boolean', commands: ['server', 'agent'], help: 'Show this help' },
];
