/**
 * API group versions served by code of their own instead of the resource registry: what kube-aggregator does for an
 * APIService (metrics.k8s.io served by metrics-server), done in-process. Requests reach `serve` after authentication,
 * impersonation and authorization, exactly as registry resources do; discovery lists the group after the registry's.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { UserInfo } from './auth/user-info.js';
import type { ResourceRequestInfo } from './request-info.js';

/** One resource of the group version, as discovery describes it (APIResource). */
export interface DelegatedResource {
  name: string;
  singularName: string;
  namespaced: boolean;
  kind: string;
  verbs: string[];
  shortNames?: string[];
}

export interface DelegatedRequest {
  req: IncomingMessage;
  res: ServerResponse;
  info: ResourceRequestInfo;
  query: URLSearchParams;
  user: UserInfo;
}

export interface DelegatedGroup {
  group: string;
  version: string;
  resources: DelegatedResource[];
  /** Answers a resource request of this group version; errors thrown as StatusError become the response. */
  serve(r: DelegatedRequest): Promise<void>;
}
