/**
 * Precompiles a row schema to an ES module (ajv standalone code) at build time, for runtimes that forbid
 * code generation at run time (Workers). The module's default export is the validate function; wrap it
 * with `fromAjv` to get a RowValidator. `formatsModule` is how the generated module imports
 * `./rfc3339-formats.js` (its `formats` export) from where it will be bundled.
 */
import { Ajv2020, _ } from 'ajv/dist/2020.js';
import standaloneCode from 'ajv/dist/standalone/index.js';
import type { RowSchema } from './dataset.js';
import { formats } from './rfc3339-formats.js';

export function standaloneValidatorModule(schema: RowSchema, formatsModule: string): string {
  const ajv = new Ajv2020({
    allErrors: true,
    strict: false,
    formats,
    code: { source: true, esm: true, formats: _`require(${formatsModule}).formats` },
  });
  return standaloneCode.default(ajv, ajv.compile(schema));
}
