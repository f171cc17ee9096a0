/**
 * A worker thread of the ingestion pool (ingest-threads.ts): parses, validates and serializes the CSV
 * segments and Parquet row groups it is sent, and sends each row block back with its buffers transferred,
 * not copied.
 */
import { parentPort } from 'node:worker_threads';
import { createAjvValidatorFactory, type RowValidator } from '../../schemas/row-validator.js';
import type { RowSchema } from '../../schemas/dataset.js';
import {
  processCsvSegment,
  type CsvSegmentPlan,
  type CsvSegmentResult,
  type CsvSegmentTask,
} from '../../workers/csv/csv-parallel.js';
import { DropgateError, describeError } from '../../workers/errors.js';
import {
  processRowGroup,
  type RowGroupPlan,
  type RowGroupTask,
} from '../../workers/parquet/parquet-row-source.js';
import type { RowBlock } from '../../workers/row-block.js';

export type ThreadRequest =
  | { id: number; kind: 'csv'; plan: CsvSegmentPlan; task: CsvSegmentTask }
  | { id: number; kind: 'parquet'; plan: RowGroupPlan; task: RowGroupTask };

export type ThreadReply =
  | { id: number; result: CsvSegmentResult | RowBlock[] }
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

function validatorFor(plan: { schema: RowSchema; schemaName: string }): RowValidator {
  const key = `${plan.schemaName}\n${JSON.stringify(plan.schema)}`;
  let validate = validators.get(key);
  if (!validate) {
    validate = compile(plan.schema, plan.schemaName);
    validators.set(key, validate);
  }
  return validate;
}

const buffersOf = (blocks: RowBlock[]) =>
  blocks.flatMap(({ bytes, ends, rows }) => [bytes.buffer, ends.buffer, rows.buffer] as ArrayBuffer[]);

parentPort!.on('message', async (request: ThreadRequest) => {
  const { id } = request;
  try {
    if (request.kind === 'csv') {
      const result = await processCsvSegment(request.plan, request.task, validatorFor(request.plan));
      parentPort!.postMessage({ id, result } satisfies ThreadReply, buffersOf([result.block]));
    } else {
      const result = await processRowGroup(request.plan, request.task, validatorFor(request.plan));
      parentPort!.postMessage({ id, result } satisfies ThreadReply, buffersOf(result));
    }
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
    } satisfies ThreadReply);
  }
});
