/**
 * Wires the optional request-pipeline pieces (patch engines, strict field validation, OpenAPI, protobuf, the nesting
 * limit on bodies) into the handler.
 */
import { checkDecoded } from './field-validation.js';
import { checkNesting } from './limits/nesting.js';
import type { HandlerExtensions } from './http-handler.js';
import { OpenApiV3, type ExtraOpenApi } from './openapi/openapi.js';
import { applyPatch, PatchContentType } from './patch/apply-patch.js';
import { unsupportedPatchType } from './patch/patch-errors.js';
import { decodeProtobufObject } from './protobuf/decode.js';
import type { ResourceRegistry } from './registry/resource-registry.js';
import type { ResourceDefinition } from './registry/types.js';

export function defaultExtensions(resources: readonly ResourceDefinition[] | ResourceRegistry): HandlerExtensions {
  let openapi = new OpenApiV3(resources);
  let aggregated: ExtraOpenApi | undefined;
  return {
    applyPatch: (contentType, original, patch, def) => {
      // Kinds without a compiled-in schema (custom resources) take JSON and merge patches and apply, never strategic
      // merge patch: upstream's 415 lists what they take.
      const custom = def.customSchema && !def.customSchema.acceptsStrategicMerge;
      if (custom && contentType.split(';', 1)[0].trim().toLowerCase() === PatchContentType.strategic) {
        throw unsupportedPatchType([PatchContentType.json, PatchContentType.merge, PatchContentType.applyYaml]);
      }
      return applyPatch(contentType, original, patch, custom ? undefined : def.schemaName, undefined, { consumeOriginal: true });
    },
    checkDecoded: (def, obj) => {
      if (!def.customSchema) return checkDecoded(def.schemaName, obj);
      return obj && typeof obj === 'object' && !Array.isArray(obj) ? def.customSchema.prune(obj as Record<string, unknown>) : { unknown: [], typeErrors: [] };
    },
    serveOpenApi: (path, query, res) => openapi.serveOpenApi(path, query, res),
    // The server's registry, which custom resources join: the OpenAPI documents follow it from then on.
    followRegistry: (registry) => {
      openapi = new OpenApiV3(registry);
      if (aggregated) openapi.setExtra(aggregated);
    },
    // The aggregation layer's APIService backends: their OpenAPI joins /openapi/v2 and /openapi/v3.
    followAggregatedOpenApi: (extra) => {
      aggregated = extra;
      openapi.setExtra(extra);
    },
    decodeProtobuf: decodeProtobufObject,
    checkNesting: (mediaType, text) => checkNesting(mediaType, text),
  };
}
