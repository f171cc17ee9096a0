/** The refusal an intake (or any call) rejects with, for tests that then check its code and message. */
import { expect } from 'vitest';
import { DropgateError } from '../../../adapters/errors.js';

/** The DropgateError `pending` is rejected with; fails the test if it settles otherwise. */
export async function refusal(pending: Promise<unknown>): Promise<DropgateError> {
  const error = await pending.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(DropgateError);
  return error as DropgateError;
}
