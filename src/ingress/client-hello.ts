/**
 * The server name a TLS client asks for, read from its ClientHello before any TLS library sees the connection
 * (RFC 8446 §4.1.2 and RFC 6066 §3): the ingress picks the certificate per connection from it.
 *
 *   record:     type 22 (handshake) · version (2) · length (2) · fragment
 *   handshake:  type 1 (ClientHello) · length (3) · version (2) · random (32) · session id (1 + n)
 *               · cipher suites (2 + n) · compression methods (1 + n) · extensions (2 + n)
 *   extension:  type (2) · length (2) · data; type 0 = server_name: list length (2) · name type 0 · length (2) · name
 *
 * Only the first record is read: a ClientHello is one record in practice (up to 16 KiB).
 */

/** Bytes a first record needs in all (header included), or undefined while fewer than 5 have arrived. */
export function recordLength(buf: Buffer): number | undefined {
  if (buf.length < 5) return undefined;
  return 5 + buf.readUInt16BE(3);
}

/** True when the connection does not start with a TLS handshake record (plain HTTP to the TLS port, garbage). */
export function notTls(buf: Buffer): boolean {
  return buf.length > 0 && buf[0] !== 22;
}

/**
 * The host name of the server_name extension of the ClientHello in `record` (one whole record), lower-cased; undefined
 * when there is none or the bytes are not a ClientHello (the caller then serves the default certificate).
 */
export function serverNameOf(record: Buffer): string | undefined {
  let p = 5;
  const end = Math.min(record.length, recordLength(record) ?? 0);
  const need = (n: number) => p + n <= end;
  if (record[0] !== 22 || !need(4) || record[p] !== 1) return undefined;
  p += 4; // handshake type and length
  if (!need(34)) return undefined;
  p += 34; // client version and random
  if (!need(1)) return undefined;
  p += 1 + record[p]!; // session id
  if (!need(2)) return undefined;
  p += 2 + record.readUInt16BE(p); // cipher suites
  if (!need(1)) return undefined;
  p += 1 + record[p]!; // compression methods
  if (!need(2)) return undefined;
  const extEnd = Math.min(end, p + 2 + record.readUInt16BE(p));
  p += 2;
  while (p + 4 <= extEnd) {
    const type = record.readUInt16BE(p);
    const len = record.readUInt16BE(p + 2);
    p += 4;
    if (p + len > extEnd) return undefined;
    if (type === 0) {
      let q = p + 2;
      const listEnd = Math.min(p + len, q + record.readUInt16BE(p));
      while (q + 3 <= listEnd) {
        const nameType = record[q]!;
        const nameLen = record.readUInt16BE(q + 1);
        q += 3;
        if (q + nameLen > listEnd) return undefined;
        if (nameType === 0) return record.toString('latin1', q, q + nameLen).toLowerCase();
        q += nameLen;
      }
      return undefined;
    }
    p += len;
  }
  return undefined;
}
