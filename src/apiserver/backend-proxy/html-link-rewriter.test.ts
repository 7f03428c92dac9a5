import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { HtmlLinkRewriter, rewriteTag } from './html-link-rewriter.js';
import { rewriteLocation } from './locations.js';

const prefix = '/api/v1/namespaces/ns/services/web:http/proxy';
const rewrite = (u: string) => rewriteLocation(u, '10.63.0.5:8080', '127.0.0.1:6443', prefix);

describe('rewriteTag (atomsToAttrs)', () => {
  const cases: Array<[string, string, string]> = [
    ['a href, double quotes', '<a href="/docs">', `<a href="${prefix}/docs">`],
    ['single quotes and upper case', "<A HREF='/x'>", `<A HREF='${prefix}/x'>`],
    ['an unquoted value', '<img src=/logo.png alt=logo>', `<img src="${prefix}/logo.png" alt=logo>`],
    ['several URL attributes, others untouched', '<img data-src="/no" src="/yes" longdesc="/d">', `<img data-src="/no" src="${prefix}/yes" longdesc="${prefix}/d">`],
    ['form action, self-closing input formaction', '<input formaction="/go"/>', `<input formaction="${prefix}/go"/>`],
    ['a relative link stays', '<a href="next.html">', '<a href="next.html">'],
    ['another host stays', '<a href="https://example.com/">', '<a href="https://example.com/">'],
    ['the backend host is dropped', '<script src="http://10.63.0.5:8080/app.js">', `<script src="${prefix}/app.js">`],
    ['a tag without URL attributes', '<div class="/x">', '<div class="/x">'],
    ['a closing tag', '</a>', '</a>'],
  ];
  for (const [name, tag, want] of cases) it(name, () => assert.equal(rewriteTag(tag, rewrite), want));
});

/** Runs `html` through the rewriter in pieces of `size` bytes. */
async function run(html: string, size: number): Promise<string> {
  const buf = Buffer.from(html);
  const pieces: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) pieces.push(buf.subarray(i, i + size));
  let out = '';
  for await (const c of Readable.from(pieces).pipe(new HtmlLinkRewriter(rewrite))) out += c;
  return out;
}

describe('HtmlLinkRewriter', () => {
  const page = `<!doctype html><html><head><link rel="stylesheet" href="/style.css">
<script>var s = '<a href="/in-script">'; if (a > b) {}</script>
<style>a[href="/in-style"] {}</style></head>
<body><!-- <a href="/in-comment"> --><p>caf\u00e9 > 1</p><a title="x > y" href="/page?a=1&amp;b=2">link</a><img src="/i.png"/></body></html>`;
  const want = `<!doctype html><html><head><link rel="stylesheet" href="${prefix}/style.css">
<script>var s = '<a href="/in-script">'; if (a > b) {}</script>
<style>a[href="/in-style"] {}</style></head>
<body><!-- <a href="/in-comment"> --><p>caf\u00e9 > 1</p><a title="x > y" href="${prefix}/page?a=1&amp;b=2">link</a><img src="${prefix}/i.png"/></body></html>`;

  it('rewrites tags, not scripts, styles or comments, whole', async () => assert.equal(await run(page, 1 << 20), want));
  it('the same in chunks of every size from 1 to 17 bytes (tags, markers and UTF-8 split)', async () => {
    for (let size = 1; size <= 17; size++) assert.equal(await run(page, size), want, `chunks of ${size}`);
  });
  it('an unterminated tag at the end passes as it is', async () => assert.equal(await run('<p>x</p><a href="/x"', 3), '<p>x</p><a href="/x"'));
});
