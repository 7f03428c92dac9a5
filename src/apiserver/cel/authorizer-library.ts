/**
 * The Kubernetes CEL authorizer library (k8s.io/apiserver/pkg/cel/library/authz.go): policies ask the server's
 * authorizer whether the requesting user (or a service account) may do something:
 *   authorizer.group('apps').resource('deployments').namespace('ns').name('x').check('update').allowed()
 *   authorizer.path('/healthz').check('get').allowed()
 *   authorizer.serviceAccount('ns', 'sa').group('').resource('pods').check('list').allowed()
 *   authorizer.requestResource.subresource('scale').check('update').reason()
 * Decisions: allowed(), reason(), errored(), error(). The authorizer answers synchronously once its caches are warm
 * (RBAC decides from an in-memory index); an answer that would wait is reported as an errored decision.
 */
import type { Environment } from '@marcbachmann/cel-js';

export interface AuthzAttributes {
  user: { username: string; uid?: string; groups: string[]; extra?: Record<string, string[]> };
  verb: string;
  isResourceRequest: boolean;
  path: string;
  apiGroup: string;
  apiVersion: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
}

export type AuthzDecision = { decision: 'allow' | 'deny' | 'noOpinion'; reason?: string };

export type AuthorizeFn = (attrs: AuthzAttributes) => AuthzDecision | Promise<AuthzDecision>;

type User = AuthzAttributes['user'];

export class DecisionValue {
  constructor(readonly allowed: boolean, readonly reason: string, readonly error: string) {}
}

function decide(authorize: AuthorizeFn, attrs: AuthzAttributes): DecisionValue {
  try {
    const d = authorize(attrs);
    if (d && typeof (d as Promise<AuthzDecision>).then === 'function') {
      (d as Promise<AuthzDecision>).catch(() => {});
      return new DecisionValue(false, '', 'authorizer not ready');
    }
    const r = d as AuthzDecision;
    return new DecisionValue(r.decision === 'allow', r.reason ?? '', '');
  } catch (err) {
    return new DecisionValue(false, '', (err as Error).message);
  }
}

export class ResourceCheckValue {
  constructor(
    readonly authorize: AuthorizeFn,
    readonly user: User,
    readonly group: string,
    readonly resource: string,
    readonly sub = '',
    readonly ns = '',
    readonly nm = '',
    readonly version = '*',
  ) {}
  with(patch: Partial<{ sub: string; ns: string; nm: string }>): ResourceCheckValue {
    return new ResourceCheckValue(this.authorize, this.user, this.group, this.resource, patch.sub ?? this.sub, patch.ns ?? this.ns, patch.nm ?? this.nm, this.version);
  }
  check(verb: string): DecisionValue {
    return decide(this.authorize, { user: this.user, verb, isResourceRequest: true, path: '', apiGroup: this.group, apiVersion: this.version, resource: this.resource, subresource: this.sub, namespace: this.ns, name: this.nm });
  }
}

export class GroupCheckValue {
  constructor(readonly authorize: AuthorizeFn, readonly user: User, readonly group: string) {}
}

export class PathCheckValue {
  constructor(readonly authorize: AuthorizeFn, readonly user: User, readonly path: string) {}
}

export class AuthorizerValue {
  /** The request's own resource (authorizer.requestResource). */
  readonly requestResource: ResourceCheckValue;
  constructor(
    readonly authorize: AuthorizeFn,
    readonly user: User,
    request: { group: string; version: string; resource: string; subresource: string; namespace: string; name: string },
  ) {
    this.requestResource = new ResourceCheckValue(authorize, user, request.group, request.resource, request.subresource, request.namespace, request.name, request.version);
  }
}

const A = 'kubernetes.authorization.Authorizer';
const P = 'kubernetes.authorization.PathCheck';
const G = 'kubernetes.authorization.GroupCheck';
const R = 'kubernetes.authorization.ResourceCheck';
const D = 'kubernetes.authorization.Decision';

export function registerAuthorizerLibrary(env: Environment): Environment {
  return env
    .registerType(A, { ctor: AuthorizerValue, fields: { requestResource: R } })
    .registerType(P, PathCheckValue)
    .registerType(G, GroupCheckValue)
    .registerType(R, ResourceCheckValue)
    .registerType(D, DecisionValue)
    .registerFunction(`${A}.path(string): ${P}`, (a: AuthorizerValue, path: string) => new PathCheckValue(a.authorize, a.user, path))
    .registerFunction(`${A}.group(string): ${G}`, (a: AuthorizerValue, group: string) => new GroupCheckValue(a.authorize, a.user, group))
    .registerFunction(`${A}.serviceAccount(string, string): ${A}`, (a: AuthorizerValue, ns: string, name: string) => {
      const user = { username: `system:serviceaccount:${ns}:${name}`, groups: ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated'] };
      const r = a.requestResource;
      return new AuthorizerValue(a.authorize, user, { group: r.group, version: r.version, resource: r.resource, subresource: r.sub, namespace: r.ns, name: r.nm });
    })
    .registerFunction(`${P}.check(string): ${D}`, (p: PathCheckValue, verb: string) => decide(p.authorize, { user: p.user, verb: verb.toLowerCase(), isResourceRequest: false, path: p.path, apiGroup: '', apiVersion: '', resource: '', subresource: '', namespace: '', name: '' }))
    .registerFunction(`${G}.resource(string): ${R}`, (g: GroupCheckValue, resource: string) => new ResourceCheckValue(g.authorize, g.user, g.group, resource))
    .registerFunction(`${R}.subresource(string): ${R}`, (r: ResourceCheckValue, sub: string) => r.with({ sub }))
    .registerFunction(`${R}.namespace(string): ${R}`, (r: ResourceCheckValue, ns: string) => r.with({ ns }))
    .registerFunction(`${R}.name(string): ${R}`, (r: ResourceCheckValue, nm: string) => r.with({ nm }))
    .registerFunction(`${R}.check(string): ${D}`, (r: ResourceCheckValue, verb: string) => r.check(verb))
    .registerFunction(`${D}.allowed(): bool`, (d: DecisionValue) => d.allowed)
    .registerFunction(`${D}.reason(): string`, (d: DecisionValue) => d.reason)
    .registerFunction(`${D}.errored(): bool`, (d: DecisionValue) => d.error !== '')
    .registerFunction(`${D}.error(): string`, (d: DecisionValue) => d.error);
}
