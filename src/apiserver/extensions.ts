/**
 * Wires the optional request-pipeline pieces (patch engines, strict field validation, OpenAPI, protobuf, the nesting
 * limit on bodies) into the handler.
 */
import { checkDecoded } from './field-validation.js';
import { checkNesting } from './limits/nesting.js';
import type { HandlerExtensions } from './http-handler.js';
import { OpenApiV3 } from './openapi/openapi.js';
import { applyPatch } from './patch/apply-patch.js';
import { decodeProtobufObject } from './protobuf/decode.js';
import type { ResourceRegistry } from './registry/resource-registry.js';
import type { ResourceDefinition } from './registry/types.js';

export function defaultExtensions(resources: readonly ResourceDefinition[] | ResourceRegistry): HandlerExtensions {
  let openapi = new OpenApiV3(resources);
  return {
    applyPatch: (contentType, original, patch, def) => applyPatch(contentType, original, patch, def.schemaName),
    checkDecoded: (def, obj) => checkDecoded(def.schemaName, obj),
    serveOpenApi: (path, query, res) => openapi.serveOpenApi(path, query, res),
    // The server's registry, which custom resources join: the OpenAPI documents follow it from then on.
    followRegistry: (registry) => {
      openapi = new OpenApiV3(registry);
    },
    decodeProtobuf: decodeProtobufObject,
    checkNesting: (mediaType, text) => checkNesting(mediaType, text),
  };
}
