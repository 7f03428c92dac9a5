/**
 * Where a connect subresource goes on the node's agent, as kube-apiserver computes it (pkg/registry/core/pod/strategy.go
 * LogLocation, ExecLocation, AttachLocation, PortForwardLocation; pkg/registry/core/node/strategy.go ResourceLocation):
 * pure functions from the pod (or node) and the request's query to the agent path and query.
 */
import type { Container, Node, Pod } from 'kubernetes-types/core/v1.js';
import { badRequest, fieldForbidden, fieldInvalid, invalid, serviceUnavailable, type FieldError } from '../../api/status.js';

export interface AgentLocation {
  /** Path and query on the agent, e.g. `/exec/default/web/app?command=ls&output=1`. */
  path: string;
}

/** kubelet's port when the Node does not say (daemonEndpoints.kubeletEndpoint.Port 0). */
export const DEFAULT_KUBELET_PORT = 10250;

/**
 * The node's agent address: the first InternalIP, else the first Hostname (then the others kube-apiserver knows), and
 * status.daemonEndpoints.kubeletEndpoint.Port.
 */
export function nodeAddress(node: Node): { host: string; port: number } {
  // Simulated nodes (agent/simulated, label skiff.dev/simulated) register an address but run no agent API.
  if (node.metadata?.labels?.['skiff.dev/simulated'] === 'true') {
    throw serviceUnavailable(`node "${node.metadata.name}" is a simulated node: it runs no containers, so there are no logs, exec, attach or port-forward`);
  }
  const addresses = node.status?.addresses ?? [];
  for (const type of ['InternalIP', 'Hostname', 'InternalDNS', 'ExternalIP', 'ExternalDNS']) {
    const a = addresses.find((x) => x.type === type && x.address);
    if (a) return { host: a.address, port: node.status?.daemonEndpoints?.kubeletEndpoint?.Port || DEFAULT_KUBELET_PORT };
  }
  const known = addresses.map((a) => `{${a.type} ${a.address}}`).join(' ');
  throw serviceUnavailable(`no preferred addresses found; known addresses: [${known}]`);
}

/** The pod's node, or the upstream BadRequest for a pod not scheduled yet. */
export function podNodeName(pod: Pod): string {
  const nodeName = pod.spec?.nodeName;
  if (!nodeName) throw badRequest(`pod ${pod.metadata?.name} does not have a host assigned`);
  return nodeName;
}

function names(cs: Container[] | undefined): string {
  return (cs ?? []).map((c) => c.name).join(' ');
}

/** strategy.go validateContainer: the named container, or the only one. */
export function resolveContainer(pod: Pod, container: string | null): string {
  const spec = pod.spec;
  const name = pod.metadata?.name;
  if (!container) {
    const containers = spec?.containers ?? [];
    if (containers.length === 1) return containers[0]!.name;
    if (containers.length === 0) throw badRequest(`pod ${name} does not have a container`);
    let msg = `a container name must be specified for pod ${name}, choose one of: [${names(containers)}]`;
    if ((spec?.initContainers ?? []).length > 0) msg += ` or one of the init containers: [${names(spec?.initContainers)}]`;
    throw badRequest(msg);
  }
  const all = [...(spec?.containers ?? []), ...(spec?.initContainers ?? []), ...(spec?.ephemeralContainers ?? [])];
  if (!all.some((c) => c.name === container)) throw badRequest(`container ${container} is not valid for pod ${name}`);
  return container;
}

/** Go's strconv.ParseBool, as query parameters are decoded. */
function queryBool(q: URLSearchParams, key: string): boolean {
  const v = q.get(key);
  if (v === null) return false;
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False', ''].includes(v)) return false;
  throw badRequest(`invalid value for ${key}: strconv.ParseBool: parsing ${JSON.stringify(v)}: invalid syntax`);
}

function queryInt(q: URLSearchParams, key: string): number | undefined {
  const v = q.get(key);
  if (v === null || v === '') return undefined;
  if (!/^-?\d+$/.test(v)) throw badRequest(`invalid value for ${key}: strconv.ParseInt: parsing ${JSON.stringify(v)}: invalid syntax`);
  return Number(v);
}

function encode(path: string, params: Array<[string, string]>): AgentLocation {
  const q = new URLSearchParams(params).toString();
  return { path: q ? `${path}?${q}` : path };
}

function seg(s: string | undefined): string {
  return encodeURIComponent(s ?? '');
}

/** pods/log → /containerLogs/{ns}/{pod}/{container} with the PodLogOptions kubelet acts on (LogLocation). */
export function logLocation(pod: Pod, query: URLSearchParams): AgentLocation {
  const name = pod.metadata?.name ?? '';
  const container = resolveContainer(pod, query.get('container'));
  const follow = queryBool(query, 'follow');
  const previous = queryBool(query, 'previous');
  const timestamps = queryBool(query, 'timestamps');
  const sinceSeconds = queryInt(query, 'sinceSeconds');
  const tailLines = queryInt(query, 'tailLines');
  const limitBytes = queryInt(query, 'limitBytes');
  const sinceTimeText = query.get('sinceTime');
  let sinceTime: Date | undefined;
  if (sinceTimeText) {
    sinceTime = new Date(sinceTimeText);
    if (Number.isNaN(sinceTime.getTime())) throw badRequest(`invalid value for sinceTime: parsing time ${JSON.stringify(sinceTimeText)} as RFC 3339: cannot parse`);
  }
  // validation.ValidatePodLogOptions
  const errs: FieldError[] = [];
  if (tailLines !== undefined && tailLines < 0) errs.push(fieldInvalid('tailLines', tailLines, 'must be greater than or equal to 0'));
  if (limitBytes !== undefined && limitBytes < 1) errs.push(fieldInvalid('limitBytes', limitBytes, 'must be greater than 0'));
  if (sinceSeconds !== undefined && sinceTime) errs.push(fieldForbidden('', 'at most one of `sinceTime` or `sinceSeconds` may be specified'));
  if (sinceSeconds !== undefined && sinceSeconds < 1) errs.push(fieldInvalid('sinceSeconds', sinceSeconds, 'must be greater than 0'));
  if (errs.length > 0) throw invalid('PodLogOptions', undefined, name, errs);

  const params: Array<[string, string]> = [];
  if (follow) params.push(['follow', 'true']);
  if (previous) params.push(['previous', 'true']);
  if (timestamps) params.push(['timestamps', 'true']);
  if (sinceSeconds !== undefined) params.push(['sinceSeconds', String(sinceSeconds)]);
  // time.RFC3339: whole seconds.
  if (sinceTime) params.push(['sinceTime', sinceTime.toISOString().replace(/\.\d{3}Z$/, 'Z')]);
  if (tailLines !== undefined) params.push(['tailLines', String(tailLines)]);
  if (limitBytes !== undefined) params.push(['limitBytes', String(limitBytes)]);
  return encode(`/containerLogs/${seg(pod.metadata?.namespace)}/${seg(name)}/${seg(container)}`, params);
}

/** pods/exec and pods/attach → /exec|/attach/{ns}/{pod}/{container} with kubelet's input/output/error/tty=1 (streamParams). */
export function streamLocation(kind: 'exec' | 'attach', pod: Pod, query: URLSearchParams): AgentLocation {
  const container = resolveContainer(pod, query.get('container'));
  const stdin = queryBool(query, 'stdin');
  const stdout = queryBool(query, 'stdout');
  const stderr = queryBool(query, 'stderr');
  const tty = queryBool(query, 'tty');
  if (!stdin && !stdout && !stderr) throw badRequest('you must specify at least 1 of stdin, stdout, stderr');
  const command = query.getAll('command');
  if (kind === 'exec' && command.length === 0) throw badRequest('you must specify at least one command for the container');
  const params: Array<[string, string]> = [];
  if (stdin) params.push(['input', '1']);
  if (stdout) params.push(['output', '1']);
  if (stderr) params.push(['error', '1']);
  if (tty) params.push(['tty', '1']);
  if (kind === 'exec') for (const c of command) params.push(['command', c]);
  return encode(`/${kind}/${seg(pod.metadata?.namespace)}/${seg(pod.metadata?.name)}/${seg(container)}`, params);
}

/** pods/portforward → /portForward/{ns}/{pod}, the requested ports as `port` (PortForwardLocation). */
export function portForwardLocation(pod: Pod, query: URLSearchParams): AgentLocation {
  const params: Array<[string, string]> = [];
  for (const value of query.getAll('ports')) {
    for (const p of value.split(',')) {
      const n = Number(p);
      if (!/^\d+$/.test(p) || n < 1 || n > 65535) throw badRequest(`invalid port ${JSON.stringify(p)}: must be between 1 and 65535`);
      params.push(['port', p]);
    }
  }
  return encode(`/portForward/${seg(pod.metadata?.namespace)}/${seg(pod.metadata?.name)}`, params);
}

/** nodes/proxy/{path} → /{path} on the agent, the query passed on. */
export function nodeProxyLocation(rest: string[], query: URLSearchParams): AgentLocation {
  const path = '/' + rest.map((s) => encodeURIComponent(s)).join('/');
  const q = query.toString();
  return { path: q ? `${path}?${q}` : path };
}
