/**
 * proxy.Transport.rewriteResponse: in a text/html answer, URL-valued attributes (atomsToAttrs) that point at the
 * backend are moved under the proxy path, so a page served through pods/proxy links back through it. Upstream buffers
 * the whole page and runs an HTML tokenizer; this is a streaming scanner with the same reach: start tags outside
 * comments, <script> and <style> bodies. A tag split across chunks is carried to the next one (up to 64 KiB; a longer
 * one passes unrewritten). The text is taken as UTF-8, as upstream does.
 */
import { StringDecoder } from 'node:string_decoder';
import { Transform, type TransformCallback } from 'node:stream';

/** Which attributes of which tags hold URLs (k8s.io/apimachinery/pkg/util/proxy/transport.go atomsToAttrs). */
export const URL_ATTRIBUTES: Record<string, string[]> = {
  a: ['href'],
  applet: ['codebase'],
  area: ['href'],
  audio: ['src'],
  base: ['href'],
  blockquote: ['cite'],
  body: ['background'],
  button: ['formaction'],
  command: ['icon'],
  del: ['cite'],
  embed: ['src'],
  form: ['action'],
  frame: ['longdesc', 'src'],
  head: ['profile'],
  html: ['manifest'],
  iframe: ['longdesc', 'src'],
  img: ['longdesc', 'src', 'usemap'],
  input: ['src', 'usemap', 'formaction'],
  ins: ['cite'],
  link: ['href'],
  object: ['classid', 'codebase', 'data', 'usemap'],
  q: ['cite'],
  script: ['src'],
  source: ['src'],
  video: ['poster', 'src'],
};

const MAX_CARRY = 64 * 1024;
const ATTRIBUTE = /([^\s"'>/=]+)(\s*=\s*)("([^"]*)"|'([^']*)'|([^\s"'=<>`]+))?/g;

/** One start tag's text (`<a href="/x">`) with its URL attributes rewritten. */
export function rewriteTag(tag: string, rewrite: (url: string) => string): string {
  const m = /^<([a-zA-Z][a-zA-Z0-9-]*)/.exec(tag);
  if (!m) return tag;
  const attrs = URL_ATTRIBUTES[m[1]!.toLowerCase()];
  if (!attrs) return tag;
  const head = m[0];
  const body = tag.slice(head.length).replace(ATTRIBUTE, (all, name: string, eq: string, quoted?: string, dq?: string, sq?: string, bare?: string) => {
    if (quoted === undefined || !attrs.includes(name.toLowerCase())) return all;
    const value = dq ?? sq ?? bare ?? '';
    const next = rewrite(value);
    if (next === value) return all;
    const q = dq !== undefined ? '"' : sq !== undefined ? "'" : '"';
    return `${name}${eq}${q}${next.replaceAll(q, q === '"' ? '&quot;' : '&#39;')}${q}`;
  });
  return head + body;
}

/** The index of the '>' that ends the tag starting at `from` (quotes respected), or -1 when it is not in `text` yet. */
function tagEnd(text: string, from: number): number {
  let quote = '';
  for (let i = from + 1; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = '';
    } else if (c === '"' || c === "'") {
      // Quotes matter only inside attribute values: after '='.
      let j = i - 1;
      while (j > from && /\s/.test(text[j]!)) j--;
      if (text[j] === '=') quote = c;
    } else if (c === '>') return i;
  }
  return -1;
}

export class HtmlLinkRewriter extends Transform {
  private readonly decoder = new StringDecoder('utf8');
  private carry = '';
  /** Inside a comment, or the raw text of <script>/<style> (the closing tag to wait for). */
  private until: string | undefined;

  constructor(private readonly rewrite: (url: string) => string) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.scan(this.carry + this.decoder.write(chunk), false);
    done();
  }

  override _flush(done: TransformCallback): void {
    this.scan(this.carry + this.decoder.end(), true);
    done();
  }

  private scan(text: string, last: boolean): void {
    let out = '';
    let i = 0;
    this.carry = '';
    while (i < text.length) {
      if (this.until) {
        const end = text.toLowerCase().indexOf(this.until, i);
        if (end < 0) {
          // Keep what could be the start of the closing marker for the next chunk.
          const keep = last ? 0 : Math.min(this.until.length - 1, text.length - i);
          out += text.slice(i, text.length - keep);
          this.carry = text.slice(text.length - keep);
          break;
        }
        out += text.slice(i, end + this.until.length);
        i = end + this.until.length;
        this.until = undefined;
        continue;
      }
      const lt = text.indexOf('<', i);
      if (lt < 0) {
        out += text.slice(i);
        break;
      }
      out += text.slice(i, lt);
      if (text.startsWith('<!--', lt)) {
        out += '<!--';
        i = lt + 4;
        this.until = '-->';
        continue;
      }
      if (!last && text.length - lt < 4 && '<!--'.startsWith(text.slice(lt))) {
        this.carry = text.slice(lt);
        break;
      }
      const end = tagEnd(text, lt);
      if (end < 0) {
        if (last || text.length - lt > MAX_CARRY) out += text.slice(lt);
        else this.carry = text.slice(lt);
        break;
      }
      const tag = text.slice(lt, end + 1);
      out += rewriteTag(tag, this.rewrite);
      const name = /^<([a-zA-Z][a-zA-Z0-9-]*)/.exec(tag)?.[1]?.toLowerCase();
      if ((name === 'script' || name === 'style') && !tag.endsWith('/>')) this.until = `</${name}`;
      i = end + 1;
    }
    if (out) this.push(out);
  }
}
