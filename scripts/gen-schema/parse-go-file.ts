/**
 * A small parser for the subset of Go that Kubernetes API packages declare their types in: top-level
 * `type` declarations (structs, named scalars, slices and maps), their doc comments and `+marker` lines,
 * struct fields with their tags, and the file's imports. Function bodies, constants and variables are
 * skipped by bracket matching, so any valid Go file can be fed in.
 */

export type GoType =
  | { k: 'named'; pkg?: string; name: string }
  | { k: 'pointer'; elem: GoType }
  | { k: 'slice'; elem: GoType }
  | { k: 'map'; key: GoType; elem: GoType }
  | { k: 'struct'; fields: GoField[] }
  /** Something the schema cannot express (interfaces, funcs, channels, arrays, generics); fails only if reached. */
  | { k: 'unsupported'; reason: string };

export interface GoField {
  /** Declared names; empty for an embedded field. */
  names: string[];
  type: GoType;
  /** The raw struct tag, without backquotes ('' when absent). */
  tag: string;
  /** The contiguous comment block directly above the field, `//` removed. */
  doc: string[];
  line: number;
}

export interface GoTypeDecl {
  name: string;
  type: GoType;
  /** `type A = B` (a true alias) rather than `type A B`. */
  alias: boolean;
  /** The comment block directly above the declaration. */
  doc: string[];
  /** The comment block before that one, separated by one blank line (where gengo also reads markers). */
  doc2: string[];
  line: number;
}

export interface GoFile {
  path: string;
  packageName: string;
  /** Import name (explicit alias, or the path's last element) -> import path. */
  imports: Map<string, string>;
  types: GoTypeDecl[];
  /** The `//go:build` expression, when the file has one. */
  buildConstraint?: string;
}

interface Token {
  kind: 'ident' | 'number' | 'string' | 'raw' | 'char' | 'punct';
  text: string;
  line: number;
}

interface LineComment {
  text: string;
  /** True when no code precedes the comment on its line. */
  standalone: boolean;
}

class GoSyntaxError extends Error {
  constructor(path: string, line: number, message: string) {
    super(`${path}:${line}: ${message}`);
  }
}

function tokenize(path: string, src: string): { tokens: Token[]; comments: Map<number, LineComment>; codeLines: Set<number> } {
  const tokens: Token[] = [];
  const comments = new Map<number, LineComment>();
  const codeLines = new Set<number>();
  let i = 0;
  let line = 1;
  const push = (kind: Token['kind'], text: string, startLine: number) => {
    tokens.push({ kind, text, line: startLine });
    codeLines.add(startLine);
  };
  while (i < src.length) {
    const c = src[i];
    if (c === '\n') {
      line++;
      i++;
    } else if (c === ' ' || c === '\t' || c === '\r') {
      i++;
    } else if (src.startsWith('//', i)) {
      const end = src.indexOf('\n', i);
      const text = src.slice(i + 2, end < 0 ? src.length : end);
      comments.set(line, { text, standalone: !codeLines.has(line) });
      i = end < 0 ? src.length : end;
    } else if (src.startsWith('/*', i)) {
      const end = src.indexOf('*/', i + 2);
      if (end < 0) throw new GoSyntaxError(path, line, 'unterminated block comment');
      for (let j = i; j < end; j++) if (src[j] === '\n') line++;
      i = end + 2;
    } else if (c === '`') {
      const end = src.indexOf('`', i + 1);
      if (end < 0) throw new GoSyntaxError(path, line, 'unterminated raw string');
      const start = line;
      for (let j = i; j < end; j++) if (src[j] === '\n') line++;
      push('raw', src.slice(i + 1, end), start);
      i = end + 1;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < src.length && src[j] !== c) {
        if (src[j] === '\\') j++;
        if (src[j] === '\n') throw new GoSyntaxError(path, line, 'newline in string literal');
        j++;
      }
      push(c === '"' ? 'string' : 'char', src.slice(i + 1, j), line);
      i = j + 1;
    } else if (/[A-Za-z_\u0080-\uffff]/.test(c)) {
      let j = i + 1;
      while (j < src.length && /[A-Za-z0-9_\u0080-\uffff]/.test(src[j])) j++;
      push('ident', src.slice(i, j), line);
      i = j;
    } else if (/[0-9]/.test(c)) {
      let j = i + 1;
      while (j < src.length && /[0-9A-Za-z_.]/.test(src[j])) j++;
      push('number', src.slice(i, j), line);
      i = j;
    } else {
      // Multi-character operators never matter to declarations; single characters are enough.
      push('punct', c, line);
      i++;
    }
  }
  return { tokens, comments, codeLines };
}

const OPEN: Record<string, string> = { '{': '}', '(': ')', '[': ']' };

export function parseGoFile(path: string, src: string): GoFile {
  const { tokens, comments, codeLines } = tokenize(path, src);
  const file: GoFile = { path, packageName: '', imports: new Map(), types: [] };
  const constraint = /^\/\/go:build\s+(.+)$/m.exec(src);
  if (constraint && constraint.index < src.search(/^package\s/m)) file.buildConstraint = constraint[1].trim();
  let pos = 0;

  const peek = (o = 0): Token | undefined => tokens[pos + o];
  const fail = (message: string): never => {
    throw new GoSyntaxError(path, peek()?.line ?? 0, message);
  };
  const expect = (text: string): Token => {
    const t = tokens[pos];
    if (!t || t.text !== text) fail(`expected '${text}', found '${t?.text ?? 'end of file'}'`);
    pos++;
    return t;
  };

  // The comment block ending on the line before `line`; `skipBlank` first steps over one blank line.
  const commentBlockAbove = (line: number): { lines: string[]; first: number } => {
    const lines: string[] = [];
    let l = line - 1;
    while (comments.get(l)?.standalone) {
      lines.unshift(comments.get(l)!.text);
      l--;
    }
    return { lines, first: l + 1 };
  };
  const docFor = (line: number): { doc: string[]; doc2: string[] } => {
    const closest = commentBlockAbove(line);
    let doc2: string[] = [];
    const blank = closest.first - 1;
    if (!codeLines.has(blank) && !comments.has(blank)) doc2 = commentBlockAbove(blank).lines;
    return { doc: closest.lines, doc2 };
  };

  const skipBalanced = (): void => {
    const open = tokens[pos].text;
    const close = OPEN[open];
    let depth = 0;
    for (; pos < tokens.length; pos++) {
      const t = tokens[pos];
      if (t.kind !== 'punct') continue;
      if (t.text === open) depth++;
      else if (t.text === close && --depth === 0) {
        pos++;
        return;
      }
    }
    fail(`unbalanced '${open}'`);
  };

  const parseType = (): GoType => {
    const t = peek();
    if (!t) return fail('expected a type');
    if (t.text === '*') {
      pos++;
      return { k: 'pointer', elem: parseType() };
    }
    if (t.text === '[') {
      pos++;
      if (peek()?.text === ']') {
        pos++;
        return { k: 'slice', elem: parseType() };
      }
      while (peek() && peek()!.text !== ']') pos++;
      expect(']');
      parseType();
      return { k: 'unsupported', reason: 'fixed-size array' };
    }
    if (t.kind !== 'ident') return fail(`unexpected '${t.text}' in a type`);
    if (t.text === 'map') {
      pos++;
      expect('[');
      const key = parseType();
      expect(']');
      return { k: 'map', key, elem: parseType() };
    }
    if (t.text === 'struct') {
      pos++;
      return { k: 'struct', fields: parseStructBody() };
    }
    if (t.text === 'interface' || t.text === 'func' || t.text === 'chan') {
      pos++;
      if (t.text === 'func' && peek()?.text === '(') skipBalanced();
      if (peek()?.text === '{' || peek()?.text === '(') skipBalanced();
      return { k: 'unsupported', reason: t.text };
    }
    pos++;
    let named: GoType = { k: 'named', name: t.text };
    if (peek()?.text === '.' && peek(1)?.kind === 'ident') {
      pos += 2;
      named = { k: 'named', pkg: t.text, name: tokens[pos - 1].text };
    }
    // A generic instantiation such as `unique.Handle[string]`.
    if (peek()?.text === '[') {
      skipBalanced();
      return { k: 'unsupported', reason: 'generic instantiation' };
    }
    return named;
  };

  const parseStructBody = (): GoField[] => {
    expect('{');
    const fields: GoField[] = [];
    while (peek() && peek()!.text !== '}') {
      const t = peek()!;
      if (t.text === ';') {
        pos++;
        continue;
      }
      const line = t.line;
      const names: string[] = [];
      // An embedded field is a (possibly qualified, possibly pointer) type name alone, before a tag or line end.
      const embedded =
        t.text === '*' ||
        (t.kind === 'ident' &&
          (peek(1)?.line !== line || peek(1)?.text === '.' || peek(1)?.kind === 'raw' || peek(1)?.text === '}'));
      if (!embedded) {
        names.push(t.text);
        pos++;
        while (peek()?.text === ',') {
          pos++;
          names.push(peek()!.text);
          pos++;
        }
      }
      const type = parseType();
      let tag = '';
      if (peek()?.kind === 'raw' || (peek()?.kind === 'string' && peek()!.line === line)) {
        tag = peek()!.text;
        pos++;
      }
      fields.push({ names, type, tag, doc: commentBlockAbove(line).lines, line });
    }
    expect('}');
    return fields;
  };

  const parseTypeSpec = (): void => {
    const nameTok = peek()!;
    if (nameTok.kind !== 'ident') fail(`expected a type name, found '${nameTok.text}'`);
    pos++;
    const { doc, doc2 } = docFor(nameTok.line);
    // Generic declarations (`type X[T any] ...`) are not used by API types.
    if (peek()?.text === '[' && peek(1)?.kind === 'ident' && peek(2)?.text !== ']') {
      skipBalanced();
      parseType();
      file.types.push({ name: nameTok.text, type: { k: 'unsupported', reason: 'generic type' }, alias: false, doc, doc2, line: nameTok.line });
      return;
    }
    let alias = false;
    if (peek()?.text === '=') {
      alias = true;
      pos++;
    }
    const type = parseType();
    file.types.push({ name: nameTok.text, type, alias, doc, doc2, line: nameTok.line });
  };

  const parseImportSpec = (): void => {
    let name: string | undefined;
    if (peek()?.kind === 'ident' || peek()?.text === '.' || peek()?.text === '_') {
      name = peek()!.text;
      pos++;
    }
    const pathTok = peek();
    if (pathTok?.kind !== 'string') fail('expected an import path');
    pos++;
    const importPath = pathTok!.text;
    file.imports.set(name ?? importPath.slice(importPath.lastIndexOf('/') + 1), importPath);
  };

  while (pos < tokens.length) {
    const t = tokens[pos];
    if (t.kind === 'ident' && t.text === 'package' && !file.packageName) {
      file.packageName = tokens[pos + 1].text;
      pos += 2;
    } else if (t.kind === 'ident' && (t.text === 'type' || t.text === 'import')) {
      const spec = t.text === 'type' ? parseTypeSpec : parseImportSpec;
      pos++;
      if (peek()?.text === '(') {
        pos++;
        while (peek() && peek()!.text !== ')') {
          if (peek()!.text === ';') pos++;
          else spec();
        }
        expect(')');
      } else {
        spec();
      }
    } else if (t.kind === 'punct' && OPEN[t.text]) {
      // Function bodies, composite literals, parameter lists: nothing declared inside matters here.
      skipBalanced();
    } else {
      pos++;
    }
  }
  return file;
}

/** Parses a Go struct tag (`json:"name,omitempty" protobuf:"..."`) into key -> value. */
export function parseStructTag(tag: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of tag.matchAll(/([A-Za-z_][A-Za-z0-9_]*):"((?:[^"\\]|\\.)*)"/g)) out.set(m[1], m[2]);
  return out;
}

/** Build tags a default `go build` on linux/amd64 satisfies; every other tag is false. */
const DEFAULT_TAGS = new Set(['linux', 'amd64', 'unix', 'gc', 'cgo']);

/**
 * Whether a default build includes a file with this `//go:build` expression (e.g. `!fieldsv1string` yes,
 * `fieldsv1string` no), so that files selecting alternative implementations are not read twice.
 */
export function defaultBuildIncludes(expr: string): boolean {
  const tokens = expr.match(/[A-Za-z0-9_.]+|&&|\|\||!|\(|\)/g) ?? [];
  let pos = 0;
  const primary = (): boolean => {
    const t = tokens[pos++];
    if (t === '!') return !primary();
    if (t === '(') {
      const v = or();
      if (tokens[pos++] !== ')') throw new Error(`bad build constraint: ${expr}`);
      return v;
    }
    if (t === undefined || !/^[A-Za-z0-9_.]+$/.test(t)) throw new Error(`bad build constraint: ${expr}`);
    return DEFAULT_TAGS.has(t) || /^go1\.\d+$/.test(t);
  };
  const and = (): boolean => {
    let v = primary();
    while (tokens[pos] === '&&') {
      pos++;
      v = primary() && v;
    }
    return v;
  };
  const or = (): boolean => {
    let v = and();
    while (tokens[pos] === '||') {
      pos++;
      v = and() || v;
    }
    return v;
  };
  const result = or();
  if (pos !== tokens.length) throw new Error(`bad build constraint: ${expr}`);
  return result;
}
