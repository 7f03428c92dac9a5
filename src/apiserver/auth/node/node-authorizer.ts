/**
 * The Node authorizer (k8s plugin/pkg/auth/authorizer/node/node_authorizer.go), first in the chain as in
 * `--authorization-mode=Node,RBAC`: it answers for users named `system:node:<name>` in group `system:nodes` and has no
 * opinion about anyone else.
 *
 * - secrets, configmaps: get/list/watch of one named object a pod bound to the node references (graph);
 * - persistentvolumeclaims, persistentvolumes, resourceclaims, volumeattachments: get, when reachable (graph); pvc
 *   status updates;
 * - serviceaccounts: create the `token` subresource of a service account its pods use (graph);
 * - leases: get/create/update/patch/delete its own Lease in kube-node-lease; csinodes: its own CSINode;
 * - everything else by the static rules of the bootstrap `system:node` ClusterRole (NODE_RULES), which
 *   NodeRestriction admission narrows to the node's own objects (its Node, pods bound to it, mirror pods).
 *
 * Skiff's agent also runs what k3s runs beside its kubelet (kube-proxy, flannel, the svclb pods, Traefik); rather than
 * three more identities per node, those needs are granted to the node here, and each is listed in SKIFF_NODE_RULES
 * with its reason. Ingress TLS Secrets are graph edges (node-graph.ts), not a rule: a node reads the certificates of
 * Ingresses skiff serves, not every Secret.
 *
 * Denials are no opinion with upstream's reason ("no relationship found between node 'n2' and this object"), so RBAC
 * may still grant what an administrator bound to the node, and the 403 carries the same words as kube-apiserver's.
 */
import type { AuthorizationAttributes, Authorizer, Decision } from '../authorizer.js';
import type { NodeGraph, VertexType } from './node-graph.js';

export const NODE_USER_PREFIX = 'system:node:';
export const NODES_GROUP = 'system:nodes';
export const NODE_LEASE_NAMESPACE = 'kube-node-lease';

interface Rule {
  verbs: readonly string[];
  groups: readonly string[];
  /** `resource` or `resource/subresource`. */
  resources: readonly string[];
  /** Why skiff grants it (SKIFF_NODE_RULES only). */
  why?: string;
}

const READ = ['get', 'list', 'watch'];

/** bootstrappolicy.NodeRules() of Kubernetes 1.32 (the ones not subdivided by the graph above). */
export const NODE_RULES: readonly Rule[] = [
  { verbs: ['create'], groups: ['authentication.k8s.io'], resources: ['tokenreviews'] },
  { verbs: ['create'], groups: ['authorization.k8s.io'], resources: ['subjectaccessreviews', 'localsubjectaccessreviews'] },
  { verbs: READ, groups: [''], resources: ['services'] },
  { verbs: ['create', 'get', 'list', 'watch', 'update', 'patch'], groups: [''], resources: ['nodes'] },
  { verbs: ['update', 'patch'], groups: [''], resources: ['nodes/status'] },
  { verbs: ['create', 'update', 'patch'], groups: [''], resources: ['events'] },
  { verbs: [...READ, 'create', 'delete'], groups: [''], resources: ['pods'] },
  { verbs: ['update', 'patch'], groups: [''], resources: ['pods/status'] },
  { verbs: ['create'], groups: [''], resources: ['pods/eviction'] },
  { verbs: ['get'], groups: [''], resources: ['endpoints'] },
  { verbs: ['create', 'get', 'list', 'watch'], groups: ['certificates.k8s.io'], resources: ['certificatesigningrequests'] },
  { verbs: READ, groups: ['storage.k8s.io'], resources: ['csidrivers'] },
  { verbs: READ, groups: ['node.k8s.io'], resources: ['runtimeclasses'] },
  { verbs: ['deletecollection'], groups: ['resource.k8s.io'], resources: ['resourceslices'] },
];

/** What skiff's agent needs beyond the kubelet's rules, for the components k3s runs under other identities. */
export const SKIFF_NODE_RULES: readonly Rule[] = [
  {
    verbs: READ,
    groups: ['discovery.k8s.io'],
    resources: ['endpointslices'],
    why: "the service proxy (kube-proxy's system:node-proxier role), ServiceLB and the ingress route to Services' endpoints",
  },
  {
    verbs: READ,
    groups: ['networking.k8s.io'],
    resources: ['ingresses', 'ingressclasses'],
    why: 'every agent runs the built-in ingress controller (k3s: Traefik, with its own service account)',
  },
  {
    verbs: READ,
    groups: ['networking.k8s.io'],
    resources: ['networkpolicies'],
    why: "NetworkPolicy enforcement on every agent (k3s: kube-router's policy controller) reads policies, and the namespaces and pods they select",
  },
  {
    verbs: READ,
    groups: [''],
    resources: ['namespaces'],
    why: 'NetworkPolicy namespaceSelectors select namespaces by their labels',
  },
  {
    verbs: ['list', 'watch'],
    groups: [''],
    resources: ['persistentvolumes'],
    why: "the local-path reclaimer watches PVs to find the ones whose data is on this node (get/update/delete only those: the graph's local-path edge)",
  },
];

export class NodeAuthorizer implements Authorizer {
  constructor(private readonly graph: NodeGraph) {}

  authorize(attrs: AuthorizationAttributes): Decision {
    const node = nodeNameOf(attrs.user);
    if (node === undefined) return NO_OPINION;
    if (node === '') return { decision: 'noOpinion', reason: `unknown node for user ${JSON.stringify(attrs.user.username)}` };
    if (attrs.isResourceRequest) {
      const g = attrs.apiGroup;
      const r = attrs.resource;
      if (g === '') {
        switch (r) {
          case 'secrets':
            return this.readNamespaced(node, 'secret', attrs);
          case 'configmaps':
            return this.readNamespaced(node, 'configmap', attrs);
          case 'persistentvolumeclaims':
            return attrs.subresource === 'status' ? this.statusUpdate(node, 'pvc', attrs) : this.get(node, 'pvc', attrs);
          case 'persistentvolumes':
            return this.persistentVolume(node, attrs);
          case 'serviceaccounts':
            return this.createToken(node, attrs);
        }
      } else if (g === 'resource.k8s.io' && r === 'resourceclaims') {
        return this.get(node, 'resourceclaim', attrs);
      } else if (g === 'storage.k8s.io' && r === 'volumeattachments') {
        return this.get(node, 'volumeattachment', attrs);
      } else if (g === 'coordination.k8s.io' && r === 'leases') {
        return lease(node, attrs);
      } else if (g === 'storage.k8s.io' && r === 'csinodes') {
        return csiNode(node, attrs);
      }
    }
    return rulesAllow(attrs, NODE_RULES) || rulesAllow(attrs, SKIFF_NODE_RULES) ? ALLOW : NO_OPINION;
  }

  private readNamespaced(node: string, type: VertexType, attrs: AuthorizationAttributes): Decision {
    if (!READ.includes(attrs.verb)) return noOpinion('can only read resources of this type');
    if (attrs.subresource) return noOpinion('cannot read subresource');
    if (!attrs.namespace) return noOpinion('can only read namespaced object of this type');
    return this.related(node, type, attrs);
  }

  private get(node: string, type: VertexType, attrs: AuthorizationAttributes): Decision {
    if (attrs.verb !== 'get') return noOpinion('can only get individual resources of this type');
    if (attrs.subresource) return noOpinion('cannot get subresource');
    return this.related(node, type, attrs);
  }

  private statusUpdate(node: string, type: VertexType, attrs: AuthorizationAttributes): Decision {
    if (attrs.verb !== 'update' && attrs.verb !== 'patch') return noOpinion('can only get/update/patch this type');
    return this.related(node, type, attrs);
  }

  /** Upstream's get through the graph; skiff's local-path reclaimer also lists them and updates/deletes its own. */
  private persistentVolume(node: string, attrs: AuthorizationAttributes): Decision {
    if (!attrs.subresource && (attrs.verb === 'update' || attrs.verb === 'patch' || attrs.verb === 'delete') && attrs.name) {
      if (this.graph.localVolumeNode(attrs.name) === node) return ALLOW;
      return noOpinion(`no relationship found between node '${node}' and this object`);
    }
    if (!attrs.subresource && (attrs.verb === 'list' || attrs.verb === 'watch') && !attrs.name) return ALLOW;
    return this.get(node, 'pv', attrs);
  }

  private createToken(node: string, attrs: AuthorizationAttributes): Decision {
    if (attrs.verb !== 'create' || !attrs.name) return noOpinion('can only create tokens for individual service accounts');
    if (attrs.subresource !== 'token') return noOpinion('can only create token subresource of serviceaccount');
    return this.related(node, 'serviceaccount', attrs);
  }

  private related(node: string, type: VertexType, attrs: AuthorizationAttributes): Decision {
    if (!attrs.name) return noOpinion('No Object name found');
    if (this.graph.reaches(node, type, attrs.namespace, attrs.name)) return ALLOW;
    return noOpinion(`no relationship found between node '${node}' and this object`);
  }
}

function lease(node: string, attrs: AuthorizationAttributes): Decision {
  if (!['get', 'create', 'update', 'patch', 'delete'].includes(attrs.verb)) return noOpinion('can only get, create, update, patch, or delete a node lease');
  if (attrs.namespace !== NODE_LEASE_NAMESPACE) return noOpinion(`can only access leases in the "${NODE_LEASE_NAMESPACE}" system namespace`);
  // The name is unknown to the authorizer on create: NodeRestriction checks it.
  if (attrs.verb !== 'create' && attrs.name !== node) return noOpinion('can only access node lease with the same name as the requesting node');
  return ALLOW;
}

function csiNode(node: string, attrs: AuthorizationAttributes): Decision {
  if (!['get', 'create', 'update', 'patch', 'delete'].includes(attrs.verb)) return noOpinion('can only get, create, update, patch, or delete a CSINode');
  if (attrs.subresource) return noOpinion('cannot authorize CSINode subresources');
  // As for Leases, NodeRestriction checks the name on create.
  if (attrs.verb !== 'create' && attrs.name !== node) return noOpinion('can only access CSINode with the same name as the requesting node');
  return ALLOW;
}

/**
 * The node name of a node identity (nodeidentifier.NewDefaultNodeIdentifier): undefined when the user is not a node
 * (not in system:nodes, or not named system:node:*), '' when it is one with an empty name.
 */
export function nodeNameOf(user: { username: string; groups: readonly string[] }): string | undefined {
  if (!user.username.startsWith(NODE_USER_PREFIX)) return undefined;
  if (!user.groups.includes(NODES_GROUP)) return undefined;
  return user.username.slice(NODE_USER_PREFIX.length);
}

function rulesAllow(attrs: AuthorizationAttributes, rules: readonly Rule[]): boolean {
  if (!attrs.isResourceRequest) return false;
  const resource = attrs.subresource ? `${attrs.resource}/${attrs.subresource}` : attrs.resource;
  return rules.some((r) => r.verbs.includes(attrs.verb) && r.groups.includes(attrs.apiGroup) && r.resources.includes(resource));
}

const ALLOW: Decision = Object.freeze({ decision: 'allow' });
const NO_OPINION: Decision = Object.freeze({ decision: 'noOpinion' });

function noOpinion(reason: string): Decision {
  return { decision: 'noOpinion', reason };
}
