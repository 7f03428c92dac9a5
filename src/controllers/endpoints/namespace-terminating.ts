import { isStatusError } from '../../api/status.js';

/**
 * A create refused because the namespace is being deleted (403 with cause NamespaceTerminating). The endpoint
 * controllers drop such a sync, as upstream does: retrying cannot succeed, and the namespace's content is going away.
 */
export function isNamespaceTerminating(err: unknown): boolean {
  return isStatusError(err) && err.code === 403 && (err.status.details?.causes ?? []).some((c) => c.reason === 'NamespaceTerminating');
}
