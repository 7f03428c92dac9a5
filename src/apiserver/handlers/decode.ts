/**
 * Reading requests: the body (bounded in size), its decoding by media type (JSON, YAML, protobuf), and the query
 * parameters several verbs share (dryRun, fieldValidation, booleans as Go's strconv.ParseBool reads them).
 */
import type { IncomingMessage } from 'node:http';
import { parse as parseYaml } from 'yaml';
import { badRequest, requestEntityTooLarge, unsupportedMediaType } from '../../api/status.js';
import { parseMediaType } from '../negotiation.js';

/** kube-apiserver's limit on request bodies (--max-request-bytes default for JSON/YAML/protobuf: 3 MiB). */
export const MAX_BODY_BYTES = 3 * 1024 * 1024;

export const APPLY_PATCH_TYPE = 'application/apply-patch+yaml';

export const PATCH_TYPES = new Set(['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json', APPLY_PATCH_TYPE]);

export type FieldValidation = 'Ignore' | 'Warn' | 'Strict';

export function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) {
    req.resume();
    return Promise.reject(requestEntityTooLarge(limit));
  }
  if (req.readableEnded) return Promise.resolve(Buffer.alloc(0));
  // The in-process transport's requests carry their whole body already.
  if (req.complete && req.readableFlowing !== true && req.readableLength <= limit) return Promise.resolve((req.read() as Buffer | null) ?? Buffer.alloc(0));
  return readPaused(req, limit);
}

/**
 * Reads a body in paused mode: on each 'readable', what is buffered is taken; once the parser has seen the whole
 * message (`complete`, set before it pushes the end), the body is done. One tick per batch of data, where flowing
 * mode costs a tick to start, one to end and an event per chunk (and an async iterator more than both).
 */
function readPaused(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = () => {
      req.off('readable', onReadable);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onEnd = () => {
      done();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onReadable = () => {
      for (let chunk = req.read() as Buffer | null; chunk !== null; chunk = req.read() as Buffer | null) {
        size += chunk.length;
        if (size > limit) {
          done();
          req.resume();
          reject(requestEntityTooLarge(limit));
          return;
        }
        chunks.push(chunk);
      }
      if (!req.complete && !req.readableEnded) return;
      done();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      done();
      reject(err);
    };
    // Closed before the end: the client went away mid-body (as stream.finished reports it).
    const onClose = () => {
      done();
      reject(Object.assign(new Error('the client closed the connection before the request body ended'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
    };
    req.on('readable', onReadable);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

export interface BodyDecoders {
  /** Decodes a `application/vnd.kubernetes.protobuf` body to JSON form. */
  decodeProtobuf?(body: Buffer): unknown;
  /** Refuses bodies nested deeper than Kubernetes accepts, before they reach a recursive parser. */
  checkNesting?(mediaType: 'json' | 'yaml', text: string): void;
}

/** Decodes a JSON, YAML or protobuf body to a plain value. */
export function decodeBody(contentType: string | undefined, body: Buffer, decoders: BodyDecoders): unknown {
  const ct = parseMediaType(contentType || 'application/json').type;
  if (ct === 'application/json') {
    const text = body.toString('utf8');
    decoders.checkNesting?.('json', text);
    try {
      return JSON.parse(text);
    } catch (err) {
      throw badRequest(`the request body is not valid JSON: ${(err as Error).message}`);
    }
  }
  if (ct === 'application/yaml') {
    const text = body.toString('utf8');
    decoders.checkNesting?.('yaml', text);
    try {
      return parseYaml(text);
    } catch (err) {
      throw badRequest(`the request body is not valid YAML: ${(err as Error).message}`);
    }
  }
  if (ct === 'application/vnd.kubernetes.protobuf' && decoders.decodeProtobuf) return decoders.decodeProtobuf(body);
  throw unsupportedMediaType(ct);
}

/** Decodes a patch body: YAML for apply patches, JSON for the others. */
export function decodePatchBody(patchType: string, body: Buffer, decoders: BodyDecoders): unknown {
  const text = body.toString('utf8');
  const yaml = patchType === APPLY_PATCH_TYPE;
  decoders.checkNesting?.(yaml ? 'yaml' : 'json', text);
  try {
    return yaml ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    throw badRequest(`error decoding patch: ${(err as Error).message}`);
  }
}

/** Go's strconv.ParseBool, which kube-apiserver's query decoding uses: 1, t, T, TRUE, true, True and their false forms. */
export function parseBool(name: string, raw: string | null): boolean | undefined {
  if (raw === null) return undefined;
  switch (raw) {
    case '1': case 't': case 'T': case 'TRUE': case 'true': case 'True':
      return true;
    case '0': case 'f': case 'F': case 'FALSE': case 'false': case 'False':
      return false;
    case '':
      return undefined;
    default:
      throw badRequest(`${name}: Invalid value: ${JSON.stringify(raw)}: strconv.ParseBool: parsing ${JSON.stringify(raw)}: invalid syntax`);
  }
}

export function isDryRun(query: URLSearchParams): boolean {
  const values = query.getAll('dryRun');
  for (const v of values) if (v !== 'All' && v !== '') throw badRequest(`dryRun: Unsupported value: "${v}": supported values: "All"`);
  return values.includes('All');
}

export function fieldValidation(query: URLSearchParams): FieldValidation {
  const v = query.get('fieldValidation') ?? 'Warn';
  if (v === 'Ignore' || v === 'Warn' || v === 'Strict') return v;
  throw badRequest(`fieldValidation: Unsupported value: "${v}": supported values: "Ignore", "Strict", "Warn"`);
}

export function contentTypeOf(req: IncomingMessage): string {
  return parseMediaType(req.headers['content-type'] ?? '').type;
}

export function isApplyPatch(req: IncomingMessage): boolean {
  return contentTypeOf(req) === APPLY_PATCH_TYPE;
}
