#!/usr/bin/env -S node --single-threaded-gc --max-semi-space-size=4
// Entry of the `dropgate` command: runs the compiled CLI (`npm run build` produces dist/).
import { main } from '../dist/app/node/cli.js';
import { DropgateError } from '../dist/adapters/errors.js';

main(process.argv.slice(2)).then(
  (status) => {
    process.exitCode = status;
  },
  (error) => {
    process.stderr.write(
      `dropgate: ${error instanceof DropgateError ? error.message : (error?.stack ?? error)}\n`,
    );
    process.exitCode = 1;
  },
);
