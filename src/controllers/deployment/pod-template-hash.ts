/**
 * The `pod-template-hash` label value that names a Deployment's ReplicaSets (`<deployment>-<hash>`). Upstream hashes
 * the Go struct of the pod template (plus status.collisionCount) with FNV-32a and renders the decimal number through
 * rand.SafeEncodeString. We hash a canonical JSON form of the template instead (sorted keys, no nulls or empty
 * values), so semantically equal templates hash alike; the value is not byte-identical to upstream's, but has the
 * same alphabet and length, so names look the same (`web-7d4b9c8f5`).
 */
import type { PodTemplateSpec } from 'kubernetes-types/core/v1.js';

/** rand.SafeEncodeString's alphabet: no vowels (no accidental words) and no look-alike characters. */
const SAFE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

const FNV32_OFFSET = 0x811c9dc5;
const FNV32_PRIME = 0x01000193;

export function computePodTemplateHash(template: PodTemplateSpec | undefined, collisionCount?: number): string {
  let hash = FNV32_OFFSET;
  const feed = (bytes: Uint8Array) => {
    for (const b of bytes) {
      hash ^= b;
      hash = Math.imul(hash, FNV32_PRIME) >>> 0;
    }
  };
  feed(Buffer.from(canonicalJson(template ?? {}), 'utf8'));
  // A collision bumps collisionCount, which changes the hash and so the name (upstream appends it as 8 bytes, LE).
  if (collisionCount !== undefined) {
    const b = Buffer.alloc(8);
    b.writeUInt32LE(collisionCount >>> 0, 0);
    feed(b);
  }
  return safeEncodeString(String(hash >>> 0));
}

/** rand.SafeEncodeString: each character replaced by the alphabet entry its code selects. */
export function safeEncodeString(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) out += SAFE_ALPHABET[s.charCodeAt(i) % SAFE_ALPHABET.length];
  return out;
}

/** JSON with sorted keys, leaving out undefined, null, empty lists and empty maps. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(canonical(value) ?? null);
}

function canonical(value: unknown): unknown {
  if (value === null || value === undefined) return undefined;
  if (Array.isArray(value)) {
    if (value.length === 0) return undefined;
    return value.map((v) => canonical(v) ?? null);
  }
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value as object).sort()) {
      const v = canonical((value as Record<string, unknown>)[k]);
      if (v !== undefined) out[k] = v;
    }
    return Object.keys(out).length === 0 ? undefined : out;
  }
  return value;
}
