/**
 * Request authentication, in kube-apiserver's order: client certificate, then bearer tokens; the
 * first that recognises its credentials wins. Credentials that were presented but are invalid make
 * the request fail with 401 instead of falling back to anonymous — kube-apiserver wraps its
 * authenticator union in "fail on error" before the anonymous one (pkg/kubeapiserver/authenticator),
 * so a wrong token is an error the user sees, not a silent downgrade to `system:anonymous`.
 */
import { X509Certificate } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { unauthorized } from '../../api/status.js';
import { GROUP_AUTHENTICATED, type UserInfo } from './user-info.js';

/**
 * A source of bearer-token identities (service account tokens, node tokens, ...).
 * `undefined` means "not a token I issue", so the next authenticator is asked;
 * a token it issued but that is no longer valid (expired, revoked) throws.
 */
export interface TokenAuthenticator {
  authenticateToken(token: string): Promise<UserInfo | undefined> | UserInfo | undefined;
}

export interface AuthenticatorOptions {
  /** PEM of the cluster CA; client certificates must be issued by it. */
  caCertPem: string;
  /**
   * Bearer-token sources, asked in order. The cluster (server/agent) token is not one of them: as in k3s it only
   * joins nodes and servers (node-join/), and is no identity of its own.
   */
  tokenAuthenticators?: TokenAuthenticator[];
}

/** What authenticate needs from an HTTP request; a Node IncomingMessage fits. */
export interface AuthenticationRequest {
  socket: Socket;
  headers: IncomingHttpHeaders;
}

const OID_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const OID_ANY_EXTENDED_KEY_USAGE = '2.5.29.37.0';
/** kubectl exec from browsers cannot set headers, so Kubernetes accepts the token in a WebSocket subprotocol. */
const WEBSOCKET_TOKEN_PROTOCOL_PREFIX = 'base64url.bearer.authorization.k8s.io.';

type CertOutcome = UserInfo | 'none' | 'invalid';

export class Authenticator {
  readonly #ca: X509Certificate;
  readonly #tokenAuthenticators: TokenAuthenticator[];
  /** A TLS connection's certificate cannot change, and clients keep connections alive: verify once per socket. */
  readonly #certCache = new WeakMap<TLSSocket, CertOutcome>();

  constructor(opts: AuthenticatorOptions) {
    this.#ca = new X509Certificate(opts.caCertPem);
    this.#tokenAuthenticators = opts.tokenAuthenticators ?? [];
  }

  /**
   * The user the request acts as (at once for a client certificate, a promise for a bearer token), or undefined
   * when it presented no credentials at all (the caller decides whether anonymous requests are allowed). Throws
   * or rejects with a 401 StatusError when credentials were presented and none of them is valid.
   * The TLS server must use `requestCert: true, rejectUnauthorized: false, ca: <cluster CA>`.
   */
  authenticate(req: AuthenticationRequest): UserInfo | undefined | Promise<UserInfo | undefined> {
    // A client certificate (the common case, verified once per connection) answers without a promise.
    const cert = this.#certificateUser(req.socket);
    if (cert !== 'none' && cert !== 'invalid') return cert;
    const token = bearerToken(req.headers);
    if (token === undefined) {
      if (cert === 'invalid') throw unauthorized();
      return undefined;
    }
    return this.#tokenUser(token).then((user) => {
      if (user === undefined) throw unauthorized();
      return user;
    });
  }

  #certificateUser(socket: Socket): CertOutcome {
    if (!(socket instanceof TLSSocket)) return 'none';
    const cached = this.#certCache.get(socket);
    if (cached !== undefined) return cached;
    const outcome = this.#verifyCertificate(socket);
    this.#certCache.set(socket, outcome);
    return outcome;
  }

  #verifyCertificate(socket: TLSSocket): CertOutcome {
    const peer = socket.getPeerCertificate();
    // Node returns an empty object when the client sent no certificate.
    if (peer === null || peer.raw === undefined) return 'none';
    // `authorized` is OpenSSL's chain and validity check against the server's `ca`; checking the issuer
    // here too keeps a misconfigured server `ca` option from widening who is trusted.
    if (!socket.authorized) return 'invalid';
    const cert = new X509Certificate(peer.raw);
    if (!cert.checkIssued(this.#ca) || !cert.verify(this.#ca.publicKey)) return 'invalid';
    // Like the Kubernetes x509 authenticator, a certificate must be valid for client authentication.
    const eku = cert.keyUsage;
    if (eku !== undefined && !eku.includes(OID_CLIENT_AUTH) && !eku.includes(OID_ANY_EXTENDED_KEY_USAGE)) return 'invalid';
    const username = first(peer.subject?.CN);
    // Kubernetes ignores certificates without a common name rather than rejecting the request.
    if (username === undefined || username === '') return 'none';
    return { username, groups: [...all(peer.subject?.O), GROUP_AUTHENTICATED] };
  }

  async #tokenUser(token: string): Promise<UserInfo | undefined> {
    for (const source of this.#tokenAuthenticators) {
      const user = await source.authenticateToken(token);
      if (user !== undefined) return user;
    }
    return undefined;
  }
}

/**
 * The bearer token of a request: `Authorization: Bearer <token>` (scheme case-insensitive, as in
 * k8s.io/apiserver bearertoken), or the WebSocket subprotocol form. Undefined when absent or empty.
 */
export function bearerToken(headers: IncomingHttpHeaders): string | undefined {
  const auth = headers.authorization;
  if (auth !== undefined) {
    const match = /^bearer\s+(\S+)\s*$/i.exec(auth.trim());
    if (match !== null) return match[1];
  }
  const protocols = headers['sec-websocket-protocol'];
  if (protocols !== undefined) {
    for (const p of protocols.split(',')) {
      const protocol = p.trim();
      if (protocol.startsWith(WEBSOCKET_TOKEN_PROTOCOL_PREFIX)) {
        const token = Buffer.from(protocol.slice(WEBSOCKET_TOKEN_PROTOCOL_PREFIX.length), 'base64url').toString('utf8');
        if (token !== '') return token;
      }
    }
  }
  return undefined;
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function all(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}
