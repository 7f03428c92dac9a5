/**
 * Whether an error only says that the peer went away: a client that closed its connection mid-response (kubectl
 * interrupted, a watch ended by the client, a load balancer's health probe). That is how HTTP ends, not a failure
 * of ours, so it is logged at debug level, if at all, never as an internal error with a stack.
 */
const DISCONNECT_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE', 'ERR_STREAM_DESTROYED', 'ERR_HTTP2_STREAM_CANCEL']);

export function isClientDisconnect(err: unknown): boolean {
  for (let e = err, depth = 0; typeof e === 'object' && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && DISCONNECT_CODES.has(code)) return true;
  }
  return false;
}
