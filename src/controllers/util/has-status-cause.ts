import { isStatusError } from '../../api/status.js';

/**
 * apierrors.HasStatusCause: the error is a Status that carries a cause of this type. Controllers test it for
 * NamespaceTerminating: a create refused because the namespace is being deleted is dropped, as upstream does, since
 * retrying cannot succeed and the namespace's content is going away.
 */
export function hasStatusCause(err: unknown, reason: string): boolean {
  return isStatusError(err) && (err.status.details?.causes ?? []).some((c) => c.reason === reason);
}
