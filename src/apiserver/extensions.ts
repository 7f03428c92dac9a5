/** Wires the optional request-pipeline pieces (patch engines, strict field validation, and later protobuf and OpenAPI) into the handler. */
import { unknownFields } from './field-validation.js';
import type { HandlerExtensions } from './http-handler.js';
import { applyPatch } from './patch/apply-patch.js';

export function defaultExtensions(): HandlerExtensions {
  return {
    applyPatch: (contentType, original, patch, def) => applyPatch(contentType, original, patch, def.schemaName),
    unknownFields: (def, obj) => unknownFields(def.schemaName, obj),
  };
}
