/**
 * Deep equality of JSON values that ignores object key order and treats an absent key like one set to undefined
 * (apimachinery's Semantic.DeepEqual, for wire objects). Objects from the server need not list keys in the order
 * this code builds them, so comparing JSON strings would see changes that are not there.
 */
export function semanticEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((v, i) => semanticEqual(v, bb[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ka = Object.keys(ao).filter((k) => ao[k] !== undefined);
  const kb = Object.keys(bo).filter((k) => bo[k] !== undefined);
  return ka.length === kb.length && ka.every((k) => semanticEqual(ao[k], bo[k]));
}
