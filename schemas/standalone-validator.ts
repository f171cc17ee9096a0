/**
 * Precompiles a row schema to an ES module (ajv standalone code) at build time, for runtimes that forbid
 * code generation at run time (Workers). The module's default export is the validate function; wrap it
 * with `fromAjv` to get a RowValidator.
 */
import { Ajv2020, _ } from 'ajv/dist/2020.js';
import standaloneCode from 'ajv/dist/standalone/index.js';
import addFormats from 'ajv-formats';
import type { RowSchema } from './dataset.js';

export function standaloneValidatorModule(schema: RowSchema): string {
  const ajv = new Ajv2020({
    allErrors: true,
    strict: false,
    code: { source: true, esm: true, formats: _`require("ajv-formats/dist/formats").fullFormats` },
  });
  addFormats.default(ajv);
  return standaloneCode.default(ajv, ajv.compile(schema));
}
