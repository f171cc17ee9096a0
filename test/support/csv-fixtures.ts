/** The CSV fixtures of test/fixtures/csv: each data file with its `.expected.json`. */
import { readdirSync, readFileSync } from 'node:fs';
import type { CsvOptions, RowSchema } from '../../schemas/dataset.js';

export interface ExpectedOutcome {
  /** What the fixture is about, for whoever reads it next. */
  about: string;
  dataset?: { csv?: Partial<CsvOptions>; schema?: RowSchema };
  state: 'ingested' | 'rejected';
  events: Array<{ row: number; data: Record<string, unknown> }>;
  /** `raw`, when given, is the CSV text the dead letter carries for the row. */
  rejections: Array<{ row: number; line: number; fields: string[]; reasonIncludes?: string[]; raw?: string }>;
  error?: { code: string; messageIncludes: string; line?: number };
}

export interface CsvFixture {
  name: string;
  file: string;
  bytes: Uint8Array;
  expected: ExpectedOutcome;
}

const fixturesDir = new URL('../fixtures/csv/', import.meta.url);

export function loadCsvFixtures(): CsvFixture[] {
  const files = readdirSync(fixturesDir).sort();
  return files
    .filter((file) => file.endsWith('.expected.json'))
    .map((expectedFile) => {
      const name = expectedFile.slice(0, -'.expected.json'.length);
      const data = files.filter((file) => file !== expectedFile && file.startsWith(`${name}.`));
      if (data.length !== 1)
        throw new Error(`${expectedFile} needs exactly one data file, found ${data.length}`);
      const file = data[0]!;
      return {
        name,
        file,
        bytes: new Uint8Array(readFileSync(new URL(file, fixturesDir))),
        expected: JSON.parse(readFileSync(new URL(expectedFile, fixturesDir), 'utf8')) as ExpectedOutcome,
      };
    });
}
