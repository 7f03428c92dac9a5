/**
 * Nesting limits for request bodies, checked on the raw text before any parser sees it.
 *
 * kube-apiserver refuses JSON and YAML nested deeper than 10000 levels with 400 BadRequest: Go's
 * encoding/json scanner fails with `invalid character '[' exceeded max depth`, and the go-yaml scanner
 * behind sigs.k8s.io/yaml with `yaml: line N: exceeded max depth of 10000`. skiff keeps those words but
 * not that number: in Node the `yaml` parser overflows the stack at about 950 to 2100 levels (an
 * overflow inside its lexer can abort the whole process with `FATAL ERROR: RegExpCompiler Allocation
 * failed`), structuredClone at about 3200 and JSON.stringify at about 4100. So the limit sits where
 * every recursive step after decoding (parsing, cloning, patching, field sets, validation, encoding)
 * still has room: far above any real manifest (a CRD with a full pod template schema nests ~60 levels).
 */
import { badRequest } from '../../api/status.js';

/** The deepest nesting a body may have, in JSON or YAML collection levels. */
export const MAX_NESTING_DEPTH = 1000;

/**
 * Throws a 400 BadRequest StatusError when `text` nests deeper than `limit`; never parses it.
 * `prefix` is put before the decoder-style message (e.g. `error decoding patch: `), as the caller's
 * decode errors are worded.
 */
export function checkNesting(mediaType: 'json' | 'yaml', text: string, limit = MAX_NESTING_DEPTH, prefix = ''): void {
  // Each JSON level opens with a bracket, so text with no more than `limit` of them (counted by the string search,
  // strings included: a bound, not a measure) cannot nest deeper: most bodies, without the character-by-character scan.
  if (mediaType === 'json' && (text.length <= limit || openingBrackets(text, limit) <= limit)) return;
  const problem = mediaType === 'json' ? jsonNestingProblem(text, limit) : yamlNestingProblem(text, limit);
  if (problem) throw badRequest(prefix + problem);
}

/**
 * The deepest bracket nesting of JSON text, counting `[` and `{` outside strings. Not a validator:
 * malformed text is measured as far as it goes and left to the parser to refuse.
 */
export function jsonNestingDepth(text: string): number {
  return scanJson(text, Infinity).max;
}

/** How many `{` and `[` text holds, counting no further than just past `atMost`. */
function openingBrackets(text: string, atMost: number): number {
  let count = 0;
  for (let i = text.indexOf('{'); i >= 0 && count <= atMost; i = text.indexOf('{', i + 1)) count++;
  for (let i = text.indexOf('['); i >= 0 && count <= atMost; i = text.indexOf('[', i + 1)) count++;
  return count;
}

function jsonNestingProblem(text: string, limit: number): string | undefined {
  const r = scanJson(text, limit);
  // Go's scanner names the bracket that went one level too deep.
  return r.exceededAt === undefined ? undefined : `invalid character '${text[r.exceededAt]}' exceeded max depth`;
}

function scanJson(text: string, limit: number): { max: number; exceededAt?: number } {
  let depth = 0;
  let max = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      // Skip the string: a backslash escapes the next character, whatever it is.
      for (i++; i < n; i++) {
        const s = text.charCodeAt(i);
        if (s === BACKSLASH) i++;
        else if (s === QUOTE) break;
      }
    } else if (c === OPEN_BRACKET || c === OPEN_BRACE) {
      depth++;
      if (depth > max) {
        max = depth;
        if (max > limit) return { max, exceededAt: i };
      }
    } else if ((c === CLOSE_BRACKET || c === CLOSE_BRACE) && depth > 0) {
      depth--;
    }
  }
  return { max };
}

/**
 * An upper bound of the nesting of YAML text, without parsing it: block indentation levels (each
 * deeper indentation opens a level, a shallower one closes those above it), compact indicators that
 * open a node on the same line (`- - x`, `? a`, `- key: v`), and flow brackets outside quoted scalars.
 * Block scalars (`|`, `>`) and comments are skipped. It may count a level too many (a plain scalar
 * continued on a more indented line) but never too few, so it refuses only absurd inputs.
 */
export function yamlNestingDepth(text: string): number {
  return scanYaml(text, Infinity).max;
}

function yamlNestingProblem(text: string, limit: number): string | undefined {
  const r = scanYaml(text, limit);
  if (r.complexKeyLine !== undefined) {
    // sigs.k8s.io/yaml converts YAML to JSON, where a key is a string: a collection as a key fails there
    // (`yaml: invalid map key`). Refused up front because the `yaml` parser spends time super-linear in
    // their nesting stringifying them (400 nested `? ` keys: 12 s).
    return `error converting YAML to JSON: yaml: line ${r.complexKeyLine}: invalid map key: a collection cannot be a map key`;
  }
  return r.exceededLine === undefined ? undefined : `error converting YAML to JSON: yaml: line ${r.exceededLine}: exceeded max depth of ${limit}`;
}

interface YamlScan {
  max: number;
  exceededLine?: number;
  complexKeyLine?: number;
}

function scanYaml(text: string, limit: number): YamlScan {
  const scanner = new YamlScanner(text, limit);
  scanner.run();
  return scanner.result;
}

/**
 * One pass over the lines. Where it cannot tell structure from content it takes the reading that
 * counts more levels, with one exception that is exact: a quote opens a quoted scalar only where a
 * node starts (after `[`, `{`, `,`, `: `, an indicator, or at the start of the content), as in YAML;
 * elsewhere it is a character of a plain scalar, so a stray quote cannot hide brackets from the count.
 */
class YamlScanner {
  readonly result: YamlScan = { max: 0 };
  /** Columns of the open block nodes (an indentation level or a compact indicator's content), innermost last. */
  private readonly indents: number[] = [];
  /**
   * Parallel to `indents`: whether the node is a block sequence. A sequence may sit at the column of the
   * map holding it (`key:` then `- item` below it, unindented) and is a level deeper all the same.
   */
  private readonly isSeq: boolean[] = [];
  /** Open flow collections. */
  private flow = 0;
  /** The quote character of a quoted scalar continuing on the next line, else 0. */
  private quote = 0;
  /** While in a block scalar: the column its content lines must exceed; -2 otherwise. */
  private blockParent = -2;
  /** Whether the next significant character starts a node (so a quote opens a quoted scalar). */
  private expectNode = true;
  /** Whether the previous token was a quoted scalar or a closed flow collection (a JSON-like key). */
  private afterJsonLike = false;
  private line = 0;
  private lineStart = 0;

  constructor(
    private readonly text: string,
    private readonly limit: number,
  ) {}

  run(): void {
    const { text } = this;
    const n = text.length;
    let pos = 0;
    while (pos < n && !this.stopped()) {
      this.line++;
      let end = text.indexOf('\n', pos);
      if (end < 0) end = n;
      if (end > pos && text.charCodeAt(end - 1) === CR) end--;
      this.lineStart = pos;
      pos = text.charCodeAt(end) === CR ? end + 2 : end + 1;
      this.scanLine(end);
    }
  }

  private stopped(): boolean {
    return this.result.exceededLine !== undefined || this.result.complexKeyLine !== undefined;
  }

  private reach(depth: number): void {
    if (depth > this.result.max) this.result.max = depth;
    if (depth > this.limit && this.result.exceededLine === undefined) this.result.exceededLine = this.line;
  }

  /** A block node starts at `column`: it closes the nodes at or right of it and opens one level. */
  private openBlock(column: number, seq: boolean): void {
    this.closeRightOf(column - 1);
    this.push(column, seq);
  }

  private push(column: number, seq: boolean): void {
    this.indents.push(column);
    this.isSeq.push(seq);
    this.reach(this.indents.length + this.flow);
  }

  /** Closes the block nodes whose column is greater than `column`. */
  private closeRightOf(column: number): void {
    while (this.indents.length > 0 && this.indents[this.indents.length - 1] > column) {
      this.indents.pop();
      this.isSeq.pop();
    }
  }

  /** A line's content starts at `indent`: a sequence entry (`- `) or anything else. */
  private startLineNode(indent: number, dash: boolean): void {
    this.closeRightOf(indent);
    const top = this.indents.length - 1;
    if (top >= 0 && this.indents[top] === indent) {
      if (this.isSeq[top] === dash) return; // a sibling
      if (dash) {
        this.push(indent, true); // an unindented sequence in the map at this column
        return;
      }
      // The unindented sequence ended; the line continues the map it was in, or starts one.
      this.indents.pop();
      this.isSeq.pop();
      if (this.indents.length > 0 && this.indents[this.indents.length - 1] === indent) return;
    }
    this.push(indent, dash);
  }

  private scanLine(end: number): void {
    const { text } = this;
    let i = this.lineStart;
    if (this.quote !== 0) {
      i = this.skipQuoted(i, end);
      if (i > end) return;
      this.scanRest(i, end, this.lineStart);
      return;
    }
    if (this.flow > 0) {
      this.scanRest(i, end, this.lineStart);
      return;
    }
    while (i < end && text.charCodeAt(i) === SPACE) i++;
    const indent = i - this.lineStart;
    const blank = restIsBlank(text, i, end);
    if (this.blockParent > -2) {
      if (blank || indent > this.blockParent) return; // block scalar content
      this.blockParent = -2;
    }
    if (blank) return;
    if (indent === 0 && (text.startsWith('---', i) || text.startsWith('...', i)) && isSpaceOrEnd(text, i + 3, end)) {
      // A document marker closes every node; content after `--- ` starts the root node.
      this.indents.length = 0;
      this.isSeq.length = 0;
      i = skipSpaces(text, i + 3, end);
      if (restIsBlank(text, i, end)) return;
      this.openBlock(i - this.lineStart, isDashIndicator(text, i, end));
    } else {
      this.startLineNode(indent, isDashIndicator(text, i, end));
    }
    // Compact indicators (`- - x`, `- ? k`, `- key: v`): each opens a node at its content's column.
    let parent = i - this.lineStart;
    for (;;) {
      const c = text.charCodeAt(i);
      if ((c !== DASH && c !== QUESTION && c !== COLON) || !isSpaceOrEnd(text, i + 1, end)) break;
      const content = skipSpaces(text, i + 1, end);
      if (c === QUESTION && startsCollectionOrNothing(text, content, end)) {
        this.result.complexKeyLine = this.line;
        return;
      }
      parent = i - this.lineStart;
      i = content;
      if (restIsBlank(text, i, end)) return;
      this.openBlock(i - this.lineStart, isDashIndicator(text, i, end));
      if (this.stopped()) return;
    }
    this.expectNode = true;
    this.afterJsonLike = false;
    if (isBlockScalarHeader(text, i, end)) {
      this.blockParent = parent;
      return;
    }
    this.scanRest(i, end, i);
  }

  /**
   * Scans from `i` to the end of the line: flow brackets, quoted scalars, mapping values and comments.
   * `keyStart` is where the line's content began (a block scalar after `key: ` belongs to that key).
   */
  private scanRest(i: number, end: number, keyStart: number): void {
    const { text } = this;
    while (i < end) {
      const c = text.charCodeAt(i);
      if (c === SPACE || c === TAB) {
        i++;
        continue;
      }
      if (c === HASH && (i === this.lineStart || isSpace(text.charCodeAt(i - 1)))) return; // comment
      if (this.expectNode) {
        if (c === QUOTE || c === APOSTROPHE) {
          this.quote = c;
          i = this.skipQuoted(i + 1, end);
          if (i > end) return;
          continue;
        }
        if (c === AMPERSAND || c === BANG) {
          while (i < end && !isSpace(text.charCodeAt(i))) i++; // an anchor or tag before the node
          continue;
        }
        if (this.flow === 0 && isBlockScalarHeader(text, i, end)) {
          this.blockParent = Math.max(keyStart - this.lineStart, this.topIndent());
          return;
        }
      }
      if (c === OPEN_BRACKET || c === OPEN_BRACE) {
        if (this.flow > 0 || this.expectNode) {
          this.flow++;
          this.reach(this.indents.length + this.flow);
          if (this.stopped()) return;
          this.expectNode = true;
          this.afterJsonLike = false;
        } else {
          this.expectNode = false; // a character of a block plain scalar (`a: b[0]`)
        }
        i++;
        continue;
      }
      if (this.flow > 0 && (c === CLOSE_BRACKET || c === CLOSE_BRACE)) {
        this.flow--;
        this.expectNode = false;
        this.afterJsonLike = true;
        i++;
        // A collection followed by `:` is a collection used as a key.
        const next = skipSpaces(text, i, end);
        if (text.charCodeAt(next) === COLON && (this.flow > 0 || isSpaceOrEnd(text, next + 1, end))) {
          this.result.complexKeyLine = this.line;
          return;
        }
        continue;
      }
      if (this.flow > 0 && c === COMMA) {
        this.expectNode = true;
        this.afterJsonLike = false;
        i++;
        continue;
      }
      if (c === COLON && (isSpaceOrEnd(text, i + 1, end) || (this.flow > 0 && (this.afterJsonLike || isFlowIndicator(text.charCodeAt(i + 1)))))) {
        this.expectNode = true;
        this.afterJsonLike = false;
        i++;
        continue;
      }
      if (c === QUESTION && this.expectNode && isSpaceOrEnd(text, i + 1, end)) {
        if (startsCollectionOrNothing(text, skipSpaces(text, i + 1, end), end)) {
          this.result.complexKeyLine = this.line;
          return;
        }
        i++;
        continue;
      }
      // A character of a plain scalar.
      this.expectNode = false;
      this.afterJsonLike = false;
      i++;
    }
  }

  /** Skips quoted-scalar text from `i` (after the opening quote); returns the index after the closing one, or end + 1 when it continues on the next line. */
  private skipQuoted(i: number, end: number): number {
    const { text } = this;
    const q = this.quote;
    while (i < end) {
      const c = text.charCodeAt(i);
      if (q === QUOTE && c === BACKSLASH) {
        i += 2;
        continue;
      }
      if (c === q) {
        if (q === APOSTROPHE && text.charCodeAt(i + 1) === APOSTROPHE && i + 1 < end) {
          i += 2; // '' is an escaped quote
          continue;
        }
        this.quote = 0;
        this.expectNode = false;
        this.afterJsonLike = true;
        return i + 1;
      }
      i++;
    }
    return end + 1;
  }

  private topIndent(): number {
    return this.indents.length > 0 ? this.indents[this.indents.length - 1] : -1;
  }
}

const SPACE = 0x20;
const TAB = 0x09;
const CR = 0x0d;
const HASH = 0x23;
const DASH = 0x2d;
const QUESTION = 0x3f;
const COLON = 0x3a;
const COMMA = 0x2c;
const QUOTE = 0x22;
const APOSTROPHE = 0x27;
const BACKSLASH = 0x5c;
const AMPERSAND = 0x26;
const BANG = 0x21;
const PIPE = 0x7c;
const GREATER = 0x3e;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

function isSpace(c: number): boolean {
  return c === SPACE || c === TAB || c === CR || c === 0x0a;
}

function isSpaceOrEnd(text: string, i: number, end: number): boolean {
  return i >= end || isSpace(text.charCodeAt(i));
}

function isDashIndicator(text: string, i: number, end: number): boolean {
  return text.charCodeAt(i) === DASH && isSpaceOrEnd(text, i + 1, end);
}

function isFlowIndicator(c: number): boolean {
  return c === COMMA || c === OPEN_BRACKET || c === CLOSE_BRACKET || c === OPEN_BRACE || c === CLOSE_BRACE;
}

function skipSpaces(text: string, i: number, end: number): number {
  while (i < end && (text.charCodeAt(i) === SPACE || text.charCodeAt(i) === TAB)) i++;
  return i;
}

/** Nothing but spaces, or a comment, from `i` to the end of the line. */
function restIsBlank(text: string, i: number, end: number): boolean {
  i = skipSpaces(text, i, end);
  return i >= end || text.charCodeAt(i) === HASH;
}

/** `|` or `>`, optional indentation and chomping indicators, then nothing but a comment. */
function isBlockScalarHeader(text: string, i: number, end: number): boolean {
  const c = text.charCodeAt(i);
  if (c !== PIPE && c !== GREATER) return false;
  let j = i + 1;
  while (j < end && /[0-9+-]/.test(text[j])) j++;
  return isSpaceOrEnd(text, j, end) && restIsBlank(text, j, end);
}

/** An explicit key (`? `) whose content is a collection, or starts on a later line where it may be one. */
function startsCollectionOrNothing(text: string, i: number, end: number): boolean {
  if (restIsBlank(text, i, end)) return true;
  const c = text.charCodeAt(i);
  if (c === OPEN_BRACKET || c === OPEN_BRACE) return true;
  return (c === DASH || c === QUESTION) && isSpaceOrEnd(text, i + 1, end);
}
