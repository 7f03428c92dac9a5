/** The generated schema table (src/api/schema) as the PatchSchema strategic merge patch uses for built-in kinds. */
import { fieldOf } from '../../api/schema/schema.js';
import type { PatchSchema } from './patch-schema.js';

export const schemaTablePatchSchema: PatchSchema = { field: fieldOf };
