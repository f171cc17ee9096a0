/** Compiles a row schema into a validator that reports every failing field with a readable reason. */
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { DropgateError } from '../adapters/errors.js';
import type { RowSchema } from './dataset.js';
import { formats } from './rfc3339-formats.js';

export interface FieldIssue {
  /** The column or JSON pointer the issue is about; empty for whole-row issues. */
  field: string;
  reason: string;
}

/** Returns no issues for a valid row. */
export type RowValidator = (row: Record<string, unknown>) => FieldIssue[] | null;

/** Turns a schema into a validator; runtimes that forbid code generation inject a precompiled one. */
export type ValidatorFactory = (schema: RowSchema, name: string) => RowValidator;

export function createAjvValidatorFactory(): ValidatorFactory {
  const ajv = new Ajv2020({ allErrors: true, strict: false, formats });
  return (schema, name) => {
    let validate: ValidateFunction;
    try {
      validate = ajv.compile(schema);
    } catch (error) {
      throw new DropgateError(
        'SCHEMA_INVALID',
        `schema ${name} does not compile: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    return fromAjv(validate);
  };
}

/** Adapts an ajv validate function, compiled at run time or precompiled as standalone code. */
export function fromAjv(validate: ValidateFunction | ((data: unknown) => boolean)): RowValidator {
  const withErrors = validate as ValidateFunction;
  return (row) => (withErrors(row) ? null : (withErrors.errors ?? []).map(toFieldIssue));
}

function toFieldIssue(error: ErrorObject): FieldIssue {
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'required') {
    return { field: String(params.missingProperty), reason: 'required value is missing' };
  }
  if (error.keyword === 'additionalProperties') {
    return { field: String(params.additionalProperty), reason: 'is not a column of the schema' };
  }
  const field = error.instancePath.replace(/^\//, '').replace(/~1/g, '/').replace(/~0/g, '~');
  return { field, reason: error.message ?? error.keyword };
}
