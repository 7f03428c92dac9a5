/**
 * The WebSocket channel protocols (k8s.io/apimachinery/pkg/util/httpstream/wsstream/conn.go, and the remotecommand
 * and portforward constants): every message starts with a channel number; binary protocols carry raw bytes after it,
 * base64 protocols send text messages whose first character is '0' + channel and whose rest is base64.
 *
 * remotecommand channels: 0 stdin, 1 stdout, 2 stderr, 3 error (v4+: a metav1.Status JSON), 4 resize (v3+: JSON
 * {Width, Height}), 255 close (v5: [255, n] half-closes channel n).
 * portforward channels: for the i-th requested port, 2i data and 2i+1 error, each opened by the port as 2 bytes LE.
 */

export interface ChannelProtocol {
  /** The subprotocol name as negotiated ('' when the client offered none). */
  name: string;
  /** 1 = channel.k8s.io; 2..5 = vN.channel.k8s.io. */
  version: number;
  base64: boolean;
}

export const STDIN_CHANNEL = 0;
export const STDOUT_CHANNEL = 1;
export const STDERR_CHANNEL = 2;
export const ERROR_CHANNEL = 3;
export const RESIZE_CHANNEL = 4;
export const CLOSE_SIGNAL = 255;

/** What kubelet's remotecommand WebSocket handler accepts, newest first. */
export const REMOTE_COMMAND_PROTOCOLS: ChannelProtocol[] = [
  { name: 'v5.channel.k8s.io', version: 5, base64: false },
  { name: 'v4.channel.k8s.io', version: 4, base64: false },
  { name: 'v4.base64.channel.k8s.io', version: 4, base64: true },
  { name: 'v3.channel.k8s.io', version: 3, base64: false },
  { name: 'v2.channel.k8s.io', version: 2, base64: false },
  { name: 'channel.k8s.io', version: 1, base64: false },
  { name: 'base64.channel.k8s.io', version: 1, base64: true },
];

/** What kubelet's port-forward WebSocket handler accepts (pkg/kubelet/cri/streaming/portforward/websocket.go). */
export const PORT_FORWARD_PROTOCOLS: ChannelProtocol[] = [
  { name: 'v4.channel.k8s.io', version: 4, base64: false },
  { name: 'v4.base64.channel.k8s.io', version: 4, base64: true },
  { name: 'channel.k8s.io', version: 1, base64: false },
  { name: 'base64.channel.k8s.io', version: 1, base64: true },
];

/** Splits a Sec-WebSocket-Protocol header (several headers arrive joined by ", "). */
export function parseProtocolHeader(value: string | string[] | undefined): string[] {
  const joined = Array.isArray(value) ? value.join(',') : (value ?? '');
  return joined
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
}

/**
 * The first protocol in the client's order that we support, as wsstream's handshake picks it. A client that offers
 * none gets the plain binary channel protocol; one whose offers are all unknown gets undefined (a 400 upstream).
 */
export function negotiateChannelProtocol(offered: string[], supported: ChannelProtocol[]): ChannelProtocol | undefined {
  if (offered.length === 0) return { name: '', version: 1, base64: false };
  for (const name of offered) {
    const p = supported.find((s) => s.name === name);
    if (p) return p;
  }
  return undefined;
}

/** One message: the channel byte (or digit) then the payload. */
export function encodeChannelMessage(protocol: ChannelProtocol, channel: number, data: Buffer): Buffer | string {
  if (protocol.base64) return String.fromCharCode(48 + channel) + data.toString('base64');
  const msg = Buffer.allocUnsafe(data.length + 1);
  msg[0] = channel;
  data.copy(msg, 1);
  return msg;
}

/** Undefined for an empty message (wsstream ignores those). Throws on a base64 message with a bad channel digit. */
export function decodeChannelMessage(protocol: ChannelProtocol, message: Buffer, isBinary: boolean): { channel: number; data: Buffer } | undefined {
  if (message.length === 0) return undefined;
  if (protocol.base64 || !isBinary) {
    const text = message.toString('latin1');
    const channel = text.charCodeAt(0) - 48;
    if (channel < 0 || channel > 9) throw new Error(`channel protocol: message on channel ${JSON.stringify(text[0])} is not a digit`);
    return { channel, data: Buffer.from(text.slice(1), 'base64') };
  }
  return { channel: message[0]!, data: message.subarray(1) };
}
