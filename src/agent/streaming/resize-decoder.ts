/**
 * Terminal sizes as clients send them on the resize channel or stream: JSON objects `{"Width":80,"Height":24}`, one
 * per WebSocket message, or back to back (newline-separated, as Go's json.Encoder writes) on a SPDY stream, split
 * anywhere by the transport. Sizes outside uint16 (kubelet's TerminalSize) are skipped, like unparseable objects.
 */
import type { TerminalSize } from '../runtime/types.js';

export class ResizeDecoder {
  private pending = '';

  /** Adds bytes; returns the complete sizes found. Unparseable objects are skipped. */
  push(chunk: Buffer | string): TerminalSize[] {
    this.pending += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    const sizes: TerminalSize[] = [];
    let end: number;
    // The object has no nesting, so each one ends at the first '}'.
    while ((end = this.pending.indexOf('}')) >= 0) {
      const text = this.pending.slice(0, end + 1);
      this.pending = this.pending.slice(end + 1);
      const start = text.indexOf('{');
      if (start < 0) continue;
      try {
        const v = JSON.parse(text.slice(start)) as { Width?: unknown; Height?: unknown };
        // remotecommand.TerminalSize is two uint16: Go's decoder refuses anything else (a string, 1e308, -1, 65536).
        if (isUint16(v.Width) && isUint16(v.Height)) sizes.push({ width: v.Width, height: v.Height });
      } catch {
        // not JSON: skip it
      }
    }
    if (this.pending.length > 4096) this.pending = '';
    return sizes;
  }
}

function isUint16(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffff;
}
