/** The object types simulated nodes read and write, as the client hands them out (metadata always present). */
import type { Lease as K8sLease } from 'kubernetes-types/coordination/v1.js';
import type { Node as K8sNode, Pod as K8sPod } from 'kubernetes-types/core/v1.js';
import type { KubeObject } from '../../api/object.js';

export type Pod = K8sPod & KubeObject;
export type Node = K8sNode & KubeObject;
export type Lease = K8sLease & KubeObject;
