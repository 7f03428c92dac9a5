/**
 * User impersonation (k8s.io/apiserver/pkg/endpoints/filters/impersonation.go): a request with Impersonate-User
 * (optionally Impersonate-Group, Impersonate-Uid, Impersonate-Extra-<key>) acts as that user, once the requesting user
 * is authorized for the `impersonate` verb on each: `users` (or `serviceaccounts` in their namespace for
 * `system:serviceaccount:<ns>:<name>`), `groups`, `uids`, and `userextras/<key>` named by the value.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { badRequest } from '../../../api/status.js';
import { forbiddenError, type AuthorizationAttributes, type Decision } from '../authorizer.js';
import { ANONYMOUS_USER, GROUP_AUTHENTICATED, GROUP_UNAUTHENTICATED, type UserInfo } from '../user-info.js';
import { parseServiceAccountUsername, serviceAccountGroups } from './rule-matching.js';

const EXTRA_PREFIX = 'impersonate-extra-';

export function hasImpersonationHeaders(headers: IncomingHttpHeaders): boolean {
  if (headers['impersonate-user'] !== undefined || headers['impersonate-group'] !== undefined || headers['impersonate-uid'] !== undefined) return true;
  for (const h in headers) if (h.startsWith(EXTRA_PREFIX)) return true;
  return false;
}

function values(v: string | string[] | undefined): string[] {
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s !== '');
}

/** The user the request acts as after impersonation; throws 403 (kube-apiserver's words) or 400 for bad headers. */
export async function impersonatedUser(
  headers: IncomingHttpHeaders,
  requester: UserInfo,
  authorize: (attrs: AuthorizationAttributes) => Decision | Promise<Decision>,
): Promise<UserInfo> {
  const username = values(headers['impersonate-user'])[0] ?? '';
  const groups = values(headers['impersonate-group']);
  const uid = values(headers['impersonate-uid'])[0];
  const extra: Record<string, string[]> = {};
  for (const [h, v] of Object.entries(headers)) {
    if (!h.startsWith(EXTRA_PREFIX)) continue;
    // Keys travel percent-encoded (impersonation.go unescapeExtraKey) and are case-insensitive on the wire.
    let key = h.slice(EXTRA_PREFIX.length);
    try {
      key = decodeURIComponent(key);
    } catch {
      /* kept as sent */
    }
    extra[key] = values(v);
  }
  const hasExtra = Object.keys(extra).length > 0;
  if (!username && (groups.length > 0 || uid !== undefined || hasExtra)) {
    const asked = [...groups.map((g) => `{Group ${g}}`), ...(uid !== undefined ? [`{UID ${uid}}`] : []), ...Object.entries(extra).map(([k, v]) => `{Extra ${k} ${v.join(',')}}`)];
    throw badRequest(`requested [${asked.join(' ')}] without impersonating a user`);
  }
  const check = async (resource: string, name: string, namespace = '', subresource = '') => {
    const attrs: AuthorizationAttributes = { user: requester, verb: 'impersonate', isResourceRequest: true, path: '', apiGroup: resource === 'userextras' || resource === 'uids' ? 'authentication.k8s.io' : '', apiVersion: '', resource, subresource, namespace, name };
    const d = authorize(attrs);
    const decision = d instanceof Promise ? await d : d;
    if (decision.decision !== 'allow') throw forbiddenError(attrs, decision.reason);
  };
  const sa = parseServiceAccountUsername(username);
  let userGroups = [...groups];
  if (sa) {
    await check('serviceaccounts', sa.name, sa.namespace);
    // A service account's groups are fixed; they are added when none were asked for.
    if (groups.length === 0) userGroups = serviceAccountGroups(sa.namespace);
  } else {
    await check('users', username);
  }
  for (const g of groups) await check('groups', g);
  if (uid !== undefined) await check('uids', uid);
  for (const [key, vals] of Object.entries(extra)) for (const v of vals) await check('userextras', v, '', key);
  if (username === ANONYMOUS_USER.username) {
    if (!userGroups.includes(GROUP_UNAUTHENTICATED)) userGroups.push(GROUP_UNAUTHENTICATED);
  } else if (!userGroups.includes(GROUP_AUTHENTICATED)) {
    userGroups.push(GROUP_AUTHENTICATED);
  }
  return { username, groups: userGroups, ...(uid !== undefined ? { uid } : {}), ...(hasExtra ? { extra } : {}) };
}
