/**
 * csvRecords on text chunks: the records and the lines they start on must not depend on where the
 * decoded text is split, and a quote that never closes must fail the file naming its line.
 */
import { describe, expect, it } from 'vitest';
import { csvRecords, type CsvRecordOptions } from '../../workers/csv/csv-records.js';
import { isDropgateError, type DropgateError } from '../../adapters/errors.js';

const options: CsvRecordOptions = { delimiter: ',', quote: '"', maxRecordChars: 1 << 20 };

async function* chunksOf(parts: string[]): AsyncGenerator<string> {
  for (const part of parts) yield part;
}

async function read(parts: string[], recordOptions = options) {
  const records: string[][] = [];
  const lines: number[] = [];
  const problems: Array<{ record: string[]; problem: string }> = [];
  for await (const batch of csvRecords(chunksOf(parts), recordOptions)) {
    batch.records.forEach((record, index) => {
      records.push(record);
      lines.push(batch.lines[index]!);
      const problem = batch.problems?.get(index);
      if (problem !== undefined) problems.push({ record, problem });
    });
  }
  return { records, lines, problems };
}

async function failure(parts: AsyncIterable<string>, recordOptions = options): Promise<DropgateError> {
  try {
    for await (const _batch of csvRecords(parts, recordOptions)) {
      // draining
    }
  } catch (error) {
    if (isDropgateError(error)) return error;
    throw error;
  }
  throw new Error('csvRecords did not fail');
}

const samples: Array<[string, string]> = [
  [
    'LF with quoted delimiters, doubled quotes and newlines',
    'id,note\n1,"a,b"\n2,"say ""hi"""\n3,"x\ny\n\nz"\n4,end\n',
  ],
  ['CRLF with a quoted CRLF and a blank line', 'id,note\r\n1,first\r\n2,"two\r\nlines"\r\n\r\n3,third\r\n'],
  ['CRLF without a trailing line break', 'id,note\r\n1,first\r\n2,"last, quoted"'],
  ['LF without a trailing line break', 'id,note\n1,first\n2,last'],
  ['multi-byte text', 'id,note\n1,"东京, 🎉"\n2,Zoë\n'],
  ['an LF header over CRLF rows, one with a quoted newline', 'id,note\n1,first\r\n2,"a\nb"\r\n3,third\r\n'],
  ['an LF header over CRLF rows and a quoted lone CR', 'id,note\n1,"a\r"\n2,"b\nc"\r\n3,d\r\n4,"e\r"\n'],
];

describe('csvRecords', () => {
  it.each(samples)('reads %s the same wherever the text is split in two', async (_name, text) => {
    const whole = await read([text]);
    for (let at = 1; at < text.length; at++) {
      const split = await read([text.slice(0, at), text.slice(at)]);
      expect({ at, ...split }).toEqual({ at, ...whole });
    }
  });

  it.each(samples)('reads %s the same one character at a time', async (_name, text) => {
    const whole = await read([text]);
    expect(await read([...text])).toEqual(whole);
  });

  it('gives each record the line it starts on, counting newlines inside quotes', async () => {
    const { records, lines } = await read(['id,note\n1,"a\nb"\n\n2,"c\r\nd\re"\n3,f\n']);
    expect(records).toEqual([['id', 'note'], ['1', 'a\nb'], [''], ['2', 'c\r\nd\re'], ['3', 'f']]);
    expect(lines).toEqual([1, 2, 4, 5, 8]);
  });

  it('counts a CRLF once in a file whose header ends in LF and its rows in CRLF (mixed line endings)', async () => {
    const text = 'id,note\n1,first\r\n2,"a\nb"\r\n3,third\r\n';
    expect((await read([text])).lines).toEqual([1, 2, 3, 5]);
    expect((await read([...text])).lines).toEqual([1, 2, 3, 5]);
    // A quoted field ending in a lone CR is a line break of its own, CRLFs around it or not.
    const quoted = 'id,note\n1,"a\r"\n2,"b\nc"\r\n3,d\r\n4,"e\r"\n';
    expect((await read([quoted])).lines).toEqual([1, 2, 4, 6, 7]);
    expect((await read([...quoted])).lines).toEqual([1, 2, 4, 6, 7]);
  });

  it('reads a one-line text ending in a lone CR as one record, not one and an empty one', async () => {
    expect((await read(['id\r'])).records).toEqual([['id']]);
    expect((await read(['""\r'])).records).toEqual([['']]);
    expect((await read(['id\r', ''])).records).toEqual((await read(['id\n'])).records);
  });

  it('keeps a CRLF file free of stray carriage returns when the first chunk holds no line break', async () => {
    const { records } = await read(['id,no', 'te\r\n1,first\r\n2,second\r\n']);
    expect(records).toEqual([
      ['id', 'note'],
      ['1', 'first'],
      ['2', 'second'],
    ]);
  });

  it('returns a record with malformed quoting together with the complaint', async () => {
    const text = 'id,note\n1,"bad "quote" inside"\n2,fine\n';
    for (const parts of [[text], [...text]]) {
      const { records, problems } = await read(parts);
      expect(records).toHaveLength(3);
      expect(problems).toEqual([
        { record: ['1', 'bad "quote" inside'], problem: expect.stringContaining('malformed') },
      ]);
    }
  });

  it('fails on a quote that is never closed, naming the line its record starts on', async () => {
    const text = 'id,note\n1,"closed\nproperly"\n2,"never closed\n3,swallowed\n';
    for (const parts of [[text], [...text]]) {
      const error = await failure(chunksOf(parts));
      expect(error.code).toBe('FILE_UNREADABLE');
      expect(error.message).toContain('line 4');
      expect(error.context.line).toBe(4);
    }
  });

  it('fails a record longer than maxRecordChars without reading the rest of the file', async () => {
    let pulled = 0;
    async function* endless(): AsyncGenerator<string> {
      yield 'id,note\n1,ok\n2,"opened';
      for (;;) {
        pulled++;
        yield '\nmore text inside the open quote';
      }
    }
    const error = await failure(endless(), { ...options, maxRecordChars: 1000 });
    expect(error.code).toBe('FILE_UNREADABLE');
    expect(error.context.line).toBe(3);
    expect(error.message).toContain('line 3');
    expect(pulled).toBeLessThan(100);
  });
});
