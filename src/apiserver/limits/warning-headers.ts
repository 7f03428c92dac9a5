/**
 * `Warning` response headers from warning texts, bounded and always writable. Warnings can quote user input
 * (an unknown field's name), so without this a request could make the response unwritable (Node refuses header
 * characters above U+00FF: a 500) or too large for clients to read (a 200 KB field name overflows their 16 KB
 * header limit). kube-apiserver's warning recorder (endpoints/filters/warning.go and util/net NewWarningHeader)
 * decides the rules copied here: duplicates dropped; a text that is not valid UTF-8 or holds a control character
 * other than tab is dropped; once the texts pass 4096 characters in total, each is cut to 256 and later ones stop
 * when the total is reached again; the text is quoted with `"` and `\` escaped, as `299 - "<text>"`.
 */

/** kube-apiserver's truncateAtTotalRunes and truncateItemRunes. */
export const WARNING_TOTAL_CHARS = 4 * 1024;
export const WARNING_ITEM_CHARS = 256;

/** The values of the `Warning` header for `warnings`, in order; each is a byte string (UTF-8 in latin1) for setHeader. */
export function warningHeaderValues(warnings: readonly string[], totalChars = WARNING_TOTAL_CHARS, itemChars = WARNING_ITEM_CHARS): string[] {
  const texts = [...new Set(warnings)].filter(isValidWarningText);
  const runes = texts.map((t) => [...t]);
  const total = runes.reduce((n, r) => n + r.length, 0);
  if (total <= totalChars) return texts.map(headerValue);
  const out: string[] = [];
  let written = 0;
  for (const r of runes) {
    if (written >= totalChars) break;
    const cut = r.length > itemChars ? r.slice(0, itemChars) : r;
    written += cut.length;
    out.push(headerValue(cut.join('')));
  }
  return out;
}

function isValidWarningText(text: string): boolean {
  if (text.length === 0) return false;
  // Valid UTF-8 means no lone surrogates in a JS string; control characters would break the header line.
  return !/[\u0000-\u0008\u000a-\u001f\u007f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(text);
}

function headerValue(text: string): string {
  const quoted = `299 - "${text.replace(/["\\]/g, (c) => `\\${c}`)}"`;
  // Node writes a header string as latin1: handing it the UTF-8 bytes that way sends UTF-8, as Go's server does.
  return Buffer.from(quoted, 'utf8').toString('latin1');
}
