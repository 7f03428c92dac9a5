/** Fixtures for the policy model and render tests: pods, namespaces and policies, and the named golden cases. */
import type { Container, Namespace, Pod } from 'kubernetes-types/core/v1.js';
import type { NetworkPolicy, NetworkPolicySpec } from 'kubernetes-types/networking/v1.js';
import type { PolicyInputs } from './compute-policy-model.js';

export const NODE = 'node-a';

export function pod(ns: string, name: string, ip: string | undefined, labels: Record<string, string> = {}, more: { node?: string; ports?: Container['ports']; hostNetwork?: boolean; phase?: string } = {}): Pod {
  return {
    metadata: { namespace: ns, name, labels, uid: `uid-${ns}-${name}` },
    spec: { nodeName: more.node ?? NODE, ...(more.hostNetwork ? { hostNetwork: true } : {}), containers: [{ name: 'c', ...(more.ports ? { ports: more.ports } : {}) }] },
    status: { phase: more.phase ?? 'Running', ...(ip ? { podIP: ip, podIPs: [{ ip }] } : {}) },
  };
}

export function ns(name: string, labels: Record<string, string> = {}): Namespace {
  return { metadata: { name, labels: { 'kubernetes.io/metadata.name': name, ...labels } } };
}

export function policy(namespace: string, name: string, spec: NetworkPolicySpec): NetworkPolicy {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { namespace, name, uid: `uid-${name}`, generation: 1 }, spec };
}

/** Two namespaces: web (this node, labelled), a client in each, a pod on another node, a host-network pod. */
export const world = {
  namespaces: [ns('shop', { team: 'shop' }), ns('other', { team: 'other' })],
  pods: [
    pod('shop', 'web-1', '10.91.0.10', { app: 'web' }, { ports: [{ name: 'http', containerPort: 8080 }] }),
    pod('shop', 'web-2', '10.91.0.11', { app: 'web' }, { ports: [{ name: 'http', containerPort: 9090 }, { name: 'dns', containerPort: 53, protocol: 'UDP' }] }),
    pod('shop', 'client', '10.91.0.20', { role: 'client' }),
    pod('other', 'client', '10.91.0.30', { role: 'client' }),
    pod('other', 'remote-web', '10.91.1.10', { app: 'web' }, { node: 'node-b', ports: [{ name: 'http', containerPort: 7070 }] }),
    pod('shop', 'hostnet', '192.168.1.5', { app: 'web' }, { hostNetwork: true }),
    pod('shop', 'done', '10.91.0.99', { role: 'client' }, { phase: 'Succeeded' }),
  ],
};

export interface PolicyCase {
  name: string;
  policies: NetworkPolicy[];
  pods?: Pod[];
}

export const cases: PolicyCase[] = [
  { name: 'no-policies', policies: [] },
  { name: 'default-deny-ingress', policies: [policy('shop', 'deny', { podSelector: {}, policyTypes: ['Ingress'] })] },
  {
    name: 'allow-from-pod-selector',
    policies: [
      policy('shop', 'deny', { podSelector: {}, policyTypes: ['Ingress'] }),
      policy('shop', 'web-from-clients', { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from: [{ podSelector: { matchLabels: { role: 'client' } } }], ports: [{ protocol: 'TCP', port: 8080 }] }] }),
    ],
  },
  {
    name: 'namespace-selectors',
    policies: [
      policy('shop', 'from-team-other', {
        podSelector: { matchLabels: { app: 'web' } },
        ingress: [
          { from: [{ namespaceSelector: { matchLabels: { team: 'other' } } }] },
          { from: [{ namespaceSelector: { matchExpressions: [{ key: 'team', operator: 'In', values: ['shop', 'other'] }] }, podSelector: { matchLabels: { role: 'client' } } }], ports: [{ protocol: 'UDP', port: 53 }] },
        ],
      }),
    ],
  },
  {
    name: 'egress-ipblock-except-and-ranges',
    policies: [
      policy('shop', 'client-out', {
        podSelector: { matchLabels: { role: 'client' } },
        policyTypes: ['Egress'],
        egress: [
          { to: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.91.1.0/24', '10.92.0.0/16'] } }], ports: [{ protocol: 'TCP', port: 8000, endPort: 8100 }, { protocol: 'UDP', port: 53 }] },
          { to: [{ ipBlock: { cidr: '192.168.7.9/24' } }] },
        ],
      }),
    ],
  },
  {
    name: 'named-ports',
    policies: [
      policy('shop', 'web-http', { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ ports: [{ port: 'http' }, { protocol: 'UDP', port: 'dns' }] }] }),
      policy('shop', 'client-to-http', { podSelector: { matchLabels: { role: 'client' } }, policyTypes: ['Egress'], egress: [{ to: [{ namespaceSelector: {}, podSelector: { matchLabels: { app: 'web' } } }], ports: [{ port: 'http' }] }, { ports: [{ protocol: 'UDP', port: 'dns' }] }] }),
    ],
  },
  {
    name: 'allow-all-and-defaulted-types',
    policies: [
      policy('shop', 'allow-all-in', { podSelector: {}, ingress: [{}] }),
      // No policyTypes: Ingress, and Egress because egress rules exist.
      policy('other', 'both', { podSelector: {}, egress: [{ to: [{ podSelector: {} }] }] } as NetworkPolicySpec),
    ],
  },
  {
    name: 'unenforceable-parts',
    policies: [
      policy('shop', 'odd', {
        podSelector: { matchLabels: { app: 'web' } },
        policyTypes: ['Ingress', 'Egress'],
        ingress: [{ from: [{ ipBlock: { cidr: 'fd00::/64' } }, { ipBlock: { cidr: '10.5.0.0/33' } }, {}, { ipBlock: { cidr: '10.6.0.0/16', except: ['10.7.0.0/24'] } }] }],
        egress: [{ to: [{ ipBlock: { cidr: '10.8.0.0/16' } }], ports: [{ port: 'http' }] }],
      }),
    ],
  },
];

export function inputsOf(c: PolicyCase): PolicyInputs {
  return { nodeName: NODE, policies: c.policies, pods: c.pods ?? world.pods, namespaces: world.namespaces };
}
