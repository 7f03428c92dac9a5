/**
 * Node's socket errors in the words Go's net package uses, because kubelet's probe messages quote them
 * (`dial tcp 10.42.0.7:8080: connect: connection refused`) and users search for those exact words.
 */

interface SystemError extends Error {
  code?: string;
  syscall?: string;
}

/** A dial-phase error: `dial tcp HOST:PORT: connect: connection refused`, or Node's message for anything unusual. */
export function goDialError(err: unknown, hostPort: string, hostname: string): string {
  const e = err as SystemError;
  switch (e?.code) {
    case 'ECONNREFUSED': return `dial tcp ${hostPort}: connect: connection refused`;
    case 'EHOSTUNREACH': return `dial tcp ${hostPort}: connect: no route to host`;
    case 'ENETUNREACH': return `dial tcp ${hostPort}: connect: network is unreachable`;
    case 'EADDRNOTAVAIL': return `dial tcp ${hostPort}: connect: cannot assign requested address`;
    case 'ETIMEDOUT': return `dial tcp ${hostPort}: connect: connection timed out`;
    case 'ENOTFOUND': return `dial tcp: lookup ${hostname}: no such host`;
    case 'EAI_AGAIN': return `dial tcp: lookup ${hostname}: server misbehaving`;
    default: return goIoError(err);
  }
}

/** An error after connecting: `EOF`, `read: connection reset by peer`, `http: server gave HTTP response to HTTPS client`. */
export function goIoError(err: unknown): string {
  const e = err as SystemError;
  const message = e instanceof Error ? e.message : String(err);
  if (isPlainHttpResponseToTls(err)) return 'http: server gave HTTP response to HTTPS client';
  if (e?.code === 'ECONNRESET') return message === 'socket hang up' ? 'EOF' : 'read: connection reset by peer';
  if (e?.code === 'EPIPE') return 'write: broken pipe';
  return message;
}

/** OpenSSL's "wrong version number": what a TLS client sees when the server answers in plain HTTP. */
export function isPlainHttpResponseToTls(err: unknown): boolean {
  const e = err as SystemError;
  return e?.code === 'ERR_SSL_WRONG_VERSION_NUMBER' || (e instanceof Error && /wrong version number|packet length too long/i.test(e.message));
}
