/** The error type of the protobuf decoder's internals; decodeProtobufObject turns it into a 400 Status. */
import { WireError } from './wire-reader.js';

/** Invalid content in a body; `path` locates it (`Deployment`, `.spec`, `.ports`, `[0]`), filled while unwinding. */
export class DecodeError extends Error {
  override name = 'DecodeError';
  readonly path: string[] = [];
}

/** Prefixes a decoding error's path with one more segment (converting a WireError); other errors pass unchanged. */
export function withPath(err: unknown, segment: string): unknown {
  if (err instanceof WireError) {
    const wrapped = new DecodeError(err.message);
    wrapped.path.push(segment);
    return wrapped;
  }
  if (err instanceof DecodeError) err.path.unshift(segment);
  return err;
}
