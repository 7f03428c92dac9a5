/**
 * The cluster token's text forms (k3s `--token`; k3s-io/docs docs/cli/token.md): the bare secret, or the "secure"
 * form `K10<sha256 of the CA certificate>::<user>:<secret>` that lets a joining node check it reached the server
 * holding the expected CA before it sends the secret. Parsed here, once, for both sides: the API server (token
 * authentication, the join endpoints, the token file) and the agent (join).
 */

const FULL_TOKEN_PREFIX = 'K10';
const SERVER_USER = 'server' as const;

export interface ParsedToken {
  /** The secret part, compared against the cluster token. */
  secret: string;
  /** Lower-case hex SHA-256 of the CA certificate, present only in the `K10…` form. */
  caHash?: string;
  /** The user part of `K10<hash>::<user>:<secret>` (k3s: `server` for the server token, `node` for agent tokens). */
  user?: string;
}

/**
 * Splits a token in either form. A `K10…` token without the `::` separator or with an empty secret
 * is rejected with an error naming what is wrong, because a half-pasted token should not silently
 * become a different secret.
 */
export function parseToken(token: string): ParsedToken {
  const value = token.trim();
  if (!value.startsWith(FULL_TOKEN_PREFIX) || !value.includes('::')) {
    if (value === '') throw new Error('token is empty');
    return { secret: value };
  }
  const sep = value.indexOf('::');
  const caHash = value.slice(FULL_TOKEN_PREFIX.length, sep).toLowerCase();
  const creds = value.slice(sep + 2);
  if (!/^[0-9a-f]{64}$/.test(caHash)) {
    throw new Error(`token ${JSON.stringify(redactToken(value))} has a malformed CA hash: expected 64 hex digits after K10`);
  }
  const colon = creds.indexOf(':');
  // k3s accepts `K10<hash>::<secret>` too: without a user part the whole rest is the secret.
  const user = colon > 0 ? creds.slice(0, colon) : undefined;
  const secret = colon > 0 ? creds.slice(colon + 1) : creds;
  if (secret === '') throw new Error(`token ${JSON.stringify(redactToken(value))} has an empty secret`);
  return { secret, caHash, user };
}

/** `K10<caHash>::<user>:<secret>` (user `server` for the cluster token, `node` for an agent token, as k3s prints them). */
export function formatFullToken(secret: string, caHash: string, user: 'server' | 'node' = SERVER_USER): string {
  return `${FULL_TOKEN_PREFIX}${caHash}::${user}:${secret}`;
}

/** Error messages may end up in logs: show only enough of a token to recognise it. */
export function redactToken(token: string): string {
  return token.length <= 12 ? '***' : `${token.slice(0, 8)}…`;
}
