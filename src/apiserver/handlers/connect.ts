/**
 * Subresources that stream or proxy (endpoints/handlers/rest.go ConnectResource): pods/log, exec, attach,
 * portforward, proxy; nodes/proxy; services/proxy. The API server authenticates, authorizes, admits (CONNECT) and
 * finds the object; what to connect to is a target plugged in by the component that serves it (the node agent).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { KubeObject } from '../../api/object.js';
import { methodNotAllowed, StatusError } from '../../api/status.js';
import type { UserInfo } from '../auth/user-info.js';
import type { SubresourceDefinition } from '../registry/types.js';
import type { ApiRequest, RequestScope } from './scope.js';

export interface ConnectRequest {
  req: IncomingMessage;
  res: ServerResponse;
  user: UserInfo;
  /** The object the subresource belongs to, as stored. */
  object: KubeObject;
  subresource: string;
  /** Path segments after the subresource (proxy paths). */
  rest: string[];
  query: URLSearchParams;
}

/** Serves one connect subresource; keyed by `<resource>/<subresource>`, e.g. `pods/log`. */
export type ConnectTarget = (c: ConnectRequest) => Promise<void>;

export async function connectResource(scope: RequestScope, r: ApiRequest, sub: SubresourceDefinition, targets: ReadonlyMap<string, ConnectTarget>): Promise<void> {
  if (!sub.connect?.methods.includes(r.req.method ?? 'GET')) throw methodNotAllowed();
  const def = scope.storageOf(r.def);
  const item = await scope.ops.get(def, r.info.namespace, r.info.name);
  const key = `${def.plural}/${sub.name}`;
  const target = targets.get(key);
  if (!target) {
    throw new StatusError({
      message: `${key} is not available: no node agent in this cluster serves it yet`,
      reason: 'ServiceUnavailable',
      code: 503,
    });
  }
  await target({ req: r.req, res: r.res, user: r.user, object: item.obj, subresource: sub.name, rest: r.info.parts.slice(r.info.subresourceIndex + 1), query: r.query });
}
