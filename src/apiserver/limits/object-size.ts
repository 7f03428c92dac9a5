/**
 * The largest object the API accepts at write. kube-apiserver reads at most 3 MiB of request body
 * (`--max-request-bytes` default, `limitedReadBody`) and refuses more with 413 "Request entity too large:
 * limit is 3145728"; an object grown past that by a patch or a controller would be one that no client
 * could send back with PUT, so writes are held to the same bound.
 */
import { StatusError } from '../../api/status.js';

/** 3 MiB, kube-apiserver's default request body limit. */
export const MAX_OBJECT_BYTES = 3 * 1024 * 1024;

/** Throws 413 RequestEntityTooLarge when the JSON encoding of an object is larger than MAX_OBJECT_BYTES. */
export function checkObjectSize(json: string, limit = MAX_OBJECT_BYTES): void {
  // A UTF-16 string holds at most 3 UTF-8 bytes per code unit: most objects are decided without counting.
  if (json.length * 3 <= limit) return;
  if (json.length <= limit && Buffer.byteLength(json, 'utf8') <= limit) return;
  throw entityTooLarge(`limit is ${limit}`);
}

/** kube-apiserver's NewRequestEntityTooLargeError: 413, reason RequestEntityTooLarge. */
export function entityTooLarge(detail: string): StatusError {
  return new StatusError({ message: `Request entity too large: ${detail}`, reason: 'RequestEntityTooLarge', code: 413 });
}
