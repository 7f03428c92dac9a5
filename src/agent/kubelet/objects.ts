/** The pod as the client hands it out (metadata always present), for the code that records events about it. */
import type { Pod as K8sPod } from 'kubernetes-types/core/v1.js';
import type { KubeObject } from '../../api/object.js';

export type Pod = K8sPod & KubeObject;
