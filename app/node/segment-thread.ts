/**
 * A worker thread of the CSV segment pool (segment-threads.ts): parses, validates and serializes the
 * segments it is sent, and sends each row block back with its buffers transferred, not copied.
 */
import { parentPort } from 'node:worker_threads';
import { createAjvValidatorFactory } from '../../schemas/row-validator.js';
import type { RowValidator } from '../../schemas/row-validator.js';
import {
  processCsvSegment,
  type CsvSegmentPlan,
  type CsvSegmentTask,
} from '../../workers/csv/csv-parallel.js';
import { DropgateError, describeError } from '../../workers/errors.js';

export interface SegmentRequest {
  id: number;
  plan: CsvSegmentPlan;
  task: CsvSegmentTask;
}

export type SegmentReply =
  | { id: number; result: Awaited<ReturnType<typeof processCsvSegment>> }
  | {
      id: number;
      error: {
        code: DropgateError['code'];
        message: string;
        retryable: boolean;
        context: Record<string, unknown>;
      };
    };

const compile = createAjvValidatorFactory();
const validators = new Map<string, RowValidator>();

function validatorFor(plan: CsvSegmentPlan): RowValidator {
  const key = `${plan.schemaName}\n${JSON.stringify(plan.schema)}`;
  let validate = validators.get(key);
  if (!validate) {
    validate = compile(plan.schema, plan.schemaName);
    validators.set(key, validate);
  }
  return validate;
}

parentPort!.on('message', async ({ id, plan, task }: SegmentRequest) => {
  try {
    const result = await processCsvSegment(plan, task, validatorFor(plan));
    const { bytes, ends, rows } = result.block;
    parentPort!.postMessage({ id, result } satisfies SegmentReply, [
      bytes.buffer,
      ends.buffer,
      rows.buffer,
    ] as ArrayBuffer[]);
  } catch (error) {
    const failure =
      error instanceof DropgateError
        ? error
        : new DropgateError('INTERNAL', describeError(error), { retryable: true });
    parentPort!.postMessage({
      id,
      error: {
        code: failure.code,
        message: failure.message,
        retryable: failure.retryable,
        context: failure.context,
      },
    } satisfies SegmentReply);
  }
});
