/**
 * A row group's columns decoded a slice of rows at a time.
 *
 * hyparquet decodes a column chunk's pages whole and assembles every value of them as JS values, and
 * writers such as DuckDB put a whole column chunk in one page, so a row group would be alive at once as
 * JS values: 51 MB for the bench file's 100k-row groups, against 5.8 MB of page bytes. Here each page is
 * decompressed and its levels and values decoded into compact arrays (levels as bytes, dictionary
 * indices as an Int32Array, PLAIN byte arrays as offsets into the page), and only a slice of rows at a
 * time becomes JS values, through hyparquet's own conversion and assembly (convert, assembleLists,
 * assembleNested), so the values are the ones hyparquet would give for the whole row group.
 */
import { parquetSchema } from 'hyparquet';
import type {
  ColumnDecoder,
  ColumnMetaData,
  DataReader,
  DecodedArray,
  FileMetaData,
  PageHeader,
  ParquetParsers,
  SchemaElement,
  SchemaTree,
} from 'hyparquet/src/types.js';
import { assembleLists, assembleNested } from 'hyparquet/src/assemble.js';
import { parquetHeader } from 'hyparquet/src/column.js';
import { DEFAULT_PARSERS, convert } from 'hyparquet/src/convert.js';
import { decompressPage } from 'hyparquet/src/datapage.js';
import { deltaBinaryUnpack, deltaByteArray, deltaLengthByteArray } from 'hyparquet/src/delta.js';
import { byteStreamSplit } from 'hyparquet/src/encoding.js';
import { readPlain } from 'hyparquet/src/plain.js';
import { getMaxDefinitionLevel, getMaxRepetitionLevel, getTreePath } from 'hyparquet/src/schema.js';
import { compressors } from './compressors.js';
import { crc32 } from './crc32.js';
import { readHybridRuns } from './rle-hybrid.js';

/**
 * A column's values that could not be read or converted: `cause` says why; `column` (the dotted path of a
 * leaf, or a top-level column's name) and `place` ("page 3", pages counted from 1 with the dictionary,
 * or "row 1234") say where.
 */
export class ParquetColumnError extends Error {
  constructor(
    readonly column: string,
    readonly place: string,
    cause: unknown,
  ) {
    super(`parquet column ${column}, ${place}: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
    this.name = 'ParquetColumnError';
  }
}

/** The next rows of a row group, as top-level columns by name; `read(count)` returns fewer at its end. */
export interface RowGroupSlices {
  read(count: number): { rows: number; columns: Map<string, ArrayLike<unknown>> };
}

export interface SliceOptions {
  /** Every column through the general path (levels and assembly), which shortcuts are tested against. */
  generalOnly?: boolean;
  /**
   * Signed INT64 values as numbers, not bigints, on pages (and dictionaries) whose every value is within
   * +/-(2^53 - 1), where a number is exact: a bigint is a heap object made at every read.
   */
  exactInt64?: boolean;
}

/**
 * Opens a row group from its column chunks' bytes (`chunkBytes(start, end)` returns file bytes
 * [start, end)). `metadata` decides the values as hyparquet's `parquetRead` would with the same
 * `parsers` and `utf8: false`, except as `options` say.
 */
export async function openRowGroupSlices(
  metadata: FileMetaData,
  index: number,
  parsers: Partial<ParquetParsers>,
  chunkBytes: (start: number, end: number) => Promise<ArrayBuffer> | ArrayBuffer,
  { generalOnly = false, exactInt64 = false }: SliceOptions = {},
): Promise<RowGroupSlices> {
  const tree = parquetSchema(metadata);
  const allParsers = { ...DEFAULT_PARSERS, ...parsers };
  const group = metadata.row_groups[index]!;
  const leaves = new Map<string, LeafCursor>();
  for (const chunk of group.columns) {
    const meta = chunk.meta_data;
    if (chunk.file_path) throw new Error('parquet file_path not supported');
    if (!meta) throw new Error('parquet column metadata is undefined');
    const { start, end } = columnChunkRange(meta);
    const bytes = await chunkBytes(start, end);
    leaves.set(
      meta.path_in_schema.join('.'),
      new LeafCursor(new Uint8Array(bytes), decoderFor(meta), { generalOnly, exactInt64 }),
    );
  }
  function decoderFor(meta: ColumnMetaData): ColumnDecoder {
    const schemaPath = getTreePath(tree, meta.path_in_schema);
    return {
      pathInSchema: meta.path_in_schema,
      type: meta.type,
      element: schemaPath[schemaPath.length - 1]!.element,
      schemaPath,
      codec: meta.codec,
      parsers: allParsers,
      compressors,
      utf8: false,
    };
  }
  const leafValues = (path: string, count: number): DecodedArray => {
    const leaf = leaves.get(path);
    if (!leaf) throw new Error(`parquet column ${path} has no column chunk`);
    return leaf.take(count);
  };
  return {
    read(count) {
      const columns = new Map<string, ArrayLike<unknown>>();
      let rows = Number.POSITIVE_INFINITY;
      for (const child of tree.children) {
        const name = child.element.name;
        let data: DecodedArray | undefined;
        if (child.children.length === 0) {
          data = leafValues(name, count);
        } else {
          const subcolumns = new Map<string, DecodedArray>();
          for (const path of leafPaths(child)) subcolumns.set(path, leafValues(path, count));
          assembleNested(subcolumns, child, allParsers);
          data = subcolumns.get(name);
        }
        if (!data) throw new Error(`parquet column ${name} was not assembled`);
        columns.set(name, data);
        rows = Math.min(rows, data.length);
      }
      for (const [name, data] of columns) {
        if (data.length !== rows) {
          throw new Error(`parquet column ${name} has ${data.length} rows where the others have ${rows}`);
        }
      }
      return { rows: Number.isFinite(rows) ? rows : 0, columns };
    },
  };
}

/**
 * The file bytes [start, end) of a column chunk: from its dictionary page, or its first data page when
 * it has none. A dictionary offset of 0 means none, as hyparquet reads it (some writers put 0 there).
 */
export function columnChunkRange(meta: ColumnMetaData): { start: number; end: number } {
  const start = Number(meta.dictionary_page_offset || meta.data_page_offset);
  return { start, end: start + Number(meta.total_compressed_size) };
}

function leafPaths(node: SchemaTree): string[] {
  return node.children.length === 0 ? [node.path.join('.')] : node.children.flatMap(leafPaths);
}

/** A page's levels and values, decoded compactly; values become JS values a slice at a time. */
interface Page {
  /** Levels (one per value slot, nulls included). */
  count: number;
  /** Definition levels, or undefined when the column has none or every value is defined. */
  definition: Uint8Array | Int32Array | undefined;
  /** Repetition levels, or undefined when the column is not repeated. */
  repetition: Uint8Array | Int32Array | undefined;
  /** Values [from, to) of the page's defined values, as hyparquet's `convert` gives them. */
  values(from: number, to: number): DecodedArray;
}

/** One leaf column chunk, read a page at a time and handed out a slice of rows at a time. */
class LeafCursor {
  private readonly reader: DataReader;
  private readonly maxDefinition: number;
  private readonly maxRepetition: number;
  /** A top-level column, not repeated: rows are taken without assembly (takeFlat). */
  private readonly flat: boolean;
  /** Signed INT64 values that convert() passes through: read as numbers where exact. */
  private readonly exactInt64: boolean;
  /** UTF-8 strings that convert() would decode with the default parser: decoded from the page. */
  private readonly text: boolean;
  /** An INT96 timestamp's text from its nanoseconds since the epoch, for INT96 columns convert() would parse. */
  private readonly int96: ((nanoseconds: bigint) => unknown) | undefined;
  private dictionary: DecodedArray | undefined;
  /** Pages read so far, the dictionary's included. */
  private pages = 0;
  private page: Page | undefined;
  private level = 0;
  private value = 0;

  constructor(
    bytes: Uint8Array,
    private readonly decoder: ColumnDecoder,
    options: SliceOptions,
  ) {
    this.reader = { view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset: 0 };
    this.maxDefinition = getMaxDefinitionLevel(decoder.schemaPath);
    this.maxRepetition = getMaxRepetitionLevel(decoder.schemaPath);
    const general = options.generalOnly ?? false;
    this.flat = !general && decoder.schemaPath.length === 2 && this.maxRepetition === 0;
    this.exactInt64 = (options.exactInt64 ?? false) && passesSignedInt64(decoder.element);
    this.text =
      !general &&
      decoder.type === 'BYTE_ARRAY' &&
      isPlainString(decoder.element) &&
      decoder.parsers.stringFromBytes === DEFAULT_PARSERS.stringFromBytes;
    this.int96 =
      decoder.type === 'INT96' && !decoder.element.converted_type
        ? (nanoseconds) => decoder.parsers.timestampFromNanoseconds(nanoseconds)
        : undefined;
  }

  /** The next `rows` rows of this leaf, assembled (lists, nulls) as hyparquet assembles a page. */
  take(rows: number): DecodedArray {
    try {
      return this.flat ? this.takeFlat(rows) : this.takeNested(rows);
    } catch (error) {
      throw new ParquetColumnError(this.decoder.pathInSchema.join('.'), `page ${this.pages}`, error);
    }
  }

  /**
   * A top-level column that is not repeated has one level per row and no lists to assemble: what
   * assembleLists makes of it is its values with a null where a row's value is undefined, so that is
   * made directly, without a definition level per value (most such pages have every value defined).
   */
  private takeFlat(rows: number): DecodedArray {
    const parts: DecodedArray[] = [];
    let taken = 0;
    while (taken < rows && this.nextPage()) {
      const page = this.page!;
      const to = Math.min(page.count, this.level + rows - taken);
      const { definition } = page;
      if (!definition) {
        parts.push(page.values(this.value, this.value + to - this.level));
        this.value += to - this.level;
      } else {
        let defined = 0;
        for (let at = this.level; at < to; at++) if (definition[at] === this.maxDefinition) defined++;
        const values = page.values(this.value, this.value + defined);
        const out = new Array<unknown>(to - this.level);
        let next = 0;
        for (let at = this.level; at < to; at++) {
          out[at - this.level] = definition[at] === this.maxDefinition ? values[next++] : null;
        }
        parts.push(out);
        this.value += defined;
      }
      taken += to - this.level;
      this.level = to;
    }
    if (parts.length === 1) return parts[0]!;
    return parts.flatMap((part) => Array.from(part as ArrayLike<unknown>));
  }

  private takeNested(rows: number): DecodedArray {
    const definition: number[] = [];
    const repetition: number[] = [];
    const parts: DecodedArray[] = [];
    let started = 0;
    while (this.nextPage()) {
      const page = this.page!;
      let at = this.level;
      let defined = 0;
      for (; at < page.count; at++) {
        if (!page.repetition || page.repetition[at] === 0) {
          if (started === rows) break;
          started += 1;
        }
        if (!page.definition || page.definition[at] === this.maxDefinition) defined += 1;
      }
      if (page.definition) for (let i = this.level; i < at; i++) definition.push(page.definition[i]!);
      else if (this.maxDefinition) for (let i = this.level; i < at; i++) definition.push(this.maxDefinition);
      if (page.repetition) for (let i = this.level; i < at; i++) repetition.push(page.repetition[i]!);
      parts.push(page.values(this.value, this.value + defined));
      this.level = at;
      this.value += defined;
      if (at < page.count) break;
    }
    if (started === 0) return [];
    const values =
      parts.length === 1 ? parts[0]! : parts.flatMap((part) => Array.from(part as ArrayLike<unknown>));
    return assembleLists([], definition, repetition, values, this.decoder.schemaPath);
  }

  /** True while the current page has levels left, reading pages (and the dictionary) as needed. */
  private nextPage(): boolean {
    const { reader } = this;
    while (!this.page || this.level >= this.page.count) {
      this.page = undefined;
      if (reader.offset >= reader.view.byteLength) return false;
      this.pages += 1;
      const header = checkedHeader(parquetHeader(reader));
      const start = reader.offset;
      reader.offset += header.compressed_page_size;
      if (reader.offset > reader.view.byteLength) {
        throw new Error(`its ${header.compressed_page_size} bytes run past the column chunk`);
      }
      const bytes = new Uint8Array(
        reader.view.buffer,
        reader.view.byteOffset + start,
        header.compressed_page_size,
      );
      // The checksum is optional (parquet-mr writes it, DuckDB and pyarrow do not); where a writer gave
      // one, a page that does not match is refused before any of its rows is made.
      if (header.crc !== undefined && crc32(bytes) !== header.crc) {
        throw new Error('its bytes do not match the checksum in its header');
      }
      if (header.type === 'DICTIONARY_PAGE') {
        this.dictionary = this.decodeDictionary(header, bytes);
        continue;
      }
      this.page = this.decodePage(header, bytes);
      this.level = 0;
      this.value = 0;
    }
    return true;
  }

  /** A dictionary page's values, converted as the values of a data page would be. */
  private decodeDictionary(header: PageHeader, compressed: Uint8Array): DecodedArray {
    const page = header.dictionary_page_header;
    if (!page) throw new Error('parquet dictionary page header is undefined');
    const { codec, type, element } = this.decoder;
    const bytes = decompressPage(compressed, Number(header.uncompressed_page_size), codec, compressors);
    const reader = { view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset: 0 };
    if (this.int96) return plainInt96(reader, page.num_values, this.int96)(0, page.num_values);
    return this.numbers(convert(readPlain(reader, type, page.num_values, element.type_length), this.decoder));
  }

  private decodePage(header: PageHeader, compressed: Uint8Array): Page {
    const { codec, schemaPath } = this.decoder;
    if (header.type === 'DATA_PAGE') {
      const page = header.data_page_header;
      if (!page) throw new Error('parquet data page header is undefined');
      const bytes = decompressPage(compressed, Number(header.uncompressed_page_size), codec, compressors);
      const reader = { view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset: 0 };
      const count = page.num_values;
      const repetition =
        schemaPath.length > 1 && this.maxRepetition ? levels(reader, this.maxRepetition, count) : undefined;
      const definition = this.maxDefinition ? levels(reader, this.maxDefinition, count) : undefined;
      return this.withValues(count, definition, repetition, page.encoding, reader);
    }
    if (header.type === 'DATA_PAGE_V2') {
      const page = header.data_page_header_v2;
      if (!page) throw new Error('parquet data page header v2 is undefined');
      const view = new DataView(compressed.buffer, compressed.byteOffset, compressed.byteLength);
      const count = page.num_values;
      const repetition = this.maxRepetition
        ? levels({ view, offset: 0 }, this.maxRepetition, count, page.repetition_levels_byte_length)
        : undefined;
      const levelBytes = page.repetition_levels_byte_length + page.definition_levels_byte_length;
      const definition = this.maxDefinition
        ? levels(
            { view, offset: page.repetition_levels_byte_length },
            this.maxDefinition,
            count,
            page.definition_levels_byte_length,
          )
        : undefined;
      let bytes = compressed.subarray(levelBytes);
      if (page.is_compressed !== false) {
        bytes = decompressPage(bytes, Number(header.uncompressed_page_size) - levelBytes, codec, compressors);
      }
      const reader = { view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset: 0 };
      return this.withValues(count, definition, repetition, page.encoding, reader);
    }
    throw new Error(`parquet unsupported page type: ${header.type}`);
  }

  private withValues(
    count: number,
    definition: Uint8Array | Int32Array | undefined,
    repetition: Uint8Array | Int32Array | undefined,
    encoding: string,
    reader: DataReader,
  ): Page {
    let defined = count;
    if (definition) {
      defined = 0;
      let highest = 0;
      for (let i = 0; i < count; i++) {
        const level = definition[i]!;
        if (level === this.maxDefinition) defined += 1;
        else if (level > highest) highest = level;
      }
      if (highest > this.maxDefinition) {
        throw new Error(`a definition level of ${highest} exceeds the column's ${this.maxDefinition}`);
      }
    }
    if (repetition) {
      let highest = 0;
      for (let i = 0; i < count; i++) if (repetition[i]! > highest) highest = repetition[i]!;
      if (highest > this.maxRepetition) {
        throw new Error(`a repetition level of ${highest} exceeds the column's ${this.maxRepetition}`);
      }
    }
    return {
      count,
      definition: defined === count ? undefined : definition,
      repetition,
      values: this.pageValues(encoding, reader, defined),
    };
  }

  /** The page's `count` values after its levels, decoded compactly, converted a slice at a time. */
  private pageValues(encoding: string, reader: DataReader, count: number): Page['values'] {
    const { decoder } = this;
    const { type } = decoder;
    const converted = (raw: (from: number, to: number) => DecodedArray) => (from: number, to: number) =>
      convert(raw(from, to), decoder);
    if (encoding === 'PLAIN') {
      if (this.int96) return plainInt96(reader, count, this.int96);
      if (type === 'BYTE_ARRAY') {
        return this.text ? plainStrings(reader, count) : converted(plainByteArrays(reader, count));
      }
      if (type === 'FIXED_LEN_BYTE_ARRAY') {
        const length = decoder.element.type_length;
        if (!length) throw new Error('parquet missing fixed length');
        const bytes = new Uint8Array(
          reader.view.buffer,
          reader.view.byteOffset + reader.offset,
          count * length,
        );
        return converted((from, to) => {
          const out = new Array<Uint8Array>(to - from);
          for (let i = from; i < to; i++) out[i - from] = bytes.subarray(i * length, (i + 1) * length);
          return out;
        });
      }
      return converted(this.slices(readPlain(reader, type, count, decoder.element.type_length)));
    }
    const { view } = reader;
    if (type === 'BOOLEAN' && encoding === 'RLE') {
      // V1 pages carry the run's byte length first; V2 pages (RLE booleans) too.
      const bits = new Uint8Array(count);
      readHybridRuns(reader, 1, bits);
      return converted((from, to) => Array.from(bits.subarray(from, to), (bit) => bit !== 0));
    }
    if (encoding === 'PLAIN_DICTIONARY' || encoding === 'RLE_DICTIONARY' || encoding === 'RLE') {
      const width = view.getUint8(reader.offset++);
      const indices = new Int32Array(count);
      if (width) readHybridRuns(reader, width, indices, view.byteLength - reader.offset);
      const dictionary = this.dictionary;
      if (!dictionary) throw new Error('parquet dictionary-encoded page without a dictionary');
      // Checked for the whole page now: its values become JS values a slice at a time, after the rows
      // before them are published, and an index past the dictionary would be an undefined value.
      let highest = 0;
      for (let i = 0; i < count; i++) if (indices[i]! > highest) highest = indices[i]!;
      if (count > 0 && highest >= dictionary.length) {
        throw new Error(
          `a dictionary index of ${highest} is past the dictionary's ${dictionary.length} values`,
        );
      }
      return (from, to) => {
        const out = new Array<unknown>(to - from);
        for (let i = from; i < to; i++) out[i - from] = dictionary[indices[i]!];
        return out;
      };
    }
    let whole: DecodedArray;
    if (encoding === 'BYTE_STREAM_SPLIT') {
      whole = byteStreamSplit(reader, count, type, decoder.element.type_length);
    } else if (encoding === 'DELTA_BINARY_PACKED') {
      whole = type === 'INT32' ? new Int32Array(count) : new BigInt64Array(count);
      deltaBinaryUnpack(reader, count, whole as Int32Array | BigInt64Array);
    } else if (encoding === 'DELTA_LENGTH_BYTE_ARRAY') {
      whole = new Array<Uint8Array>(count);
      deltaLengthByteArray(reader, count, whole as Uint8Array[]);
    } else if (encoding === 'DELTA_BYTE_ARRAY') {
      whole = new Array<Uint8Array>(count);
      deltaByteArray(reader, count, whole as Uint8Array[]);
    } else {
      throw new Error(`parquet unsupported encoding: ${encoding}`);
    }
    return converted(this.slices(whole));
  }

  /** Slices of a page's values; INT64 ones as numbers when this column reads them so and all fit. */
  private slices(values: DecodedArray): (from: number, to: number) => DecodedArray {
    if (this.exactInt64 && values instanceof BigInt64Array && allExact(values)) {
      return (from, to) => exactNumbers(values, from, to);
    }
    return (from, to) => values.slice(from, to);
  }

  /** A dictionary's INT64 values as numbers when this column reads them so and all of them fit. */
  private numbers(values: DecodedArray): DecodedArray {
    return this.exactInt64 && values instanceof BigInt64Array && allExact(values)
      ? exactNumbers(values, 0, values.length)
      : values;
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** The two 32-bit words of each value, low first (no bigint is made reading them). */
const words = (values: BigInt64Array) => new Int32Array(values.buffer, values.byteOffset, values.length * 2);

/** Whether every value is within +/-(2^53 - 1), where a number is exact (as for parquet-values). */
function allExact(values: BigInt64Array): boolean {
  if (!LITTLE_ENDIAN) return false;
  const word = words(values);
  for (let index = 1; index < word.length; index += 2) {
    const high = word[index]!;
    // Within [-2^53, 2^53 - 1], and not -2^53 itself.
    if (high < -0x200000 || high > 0x1fffff || (high === -0x200000 && word[index - 1] === 0)) return false;
  }
  return true;
}

/** Values [from, to) as numbers; allExact(values) must hold. */
function exactNumbers(values: BigInt64Array, from: number, to: number): Float64Array {
  const word = words(values);
  const out = new Float64Array(to - from);
  for (let index = from; index < to; index++) {
    out[index - from] = word[2 * index + 1]! * 4294967296 + (word[2 * index]! >>> 0);
  }
  return out;
}

/** INT64 without an annotation convert() acts on (none, or a signed 64-bit integer). */
function passesSignedInt64(element: SchemaElement): boolean {
  const logical = element.logical_type as { type?: string; isSigned?: boolean } | undefined;
  return (
    element.type === 'INT64' &&
    (element.converted_type === undefined || element.converted_type === 'INT_64') &&
    (logical === undefined || (logical.type === 'INTEGER' && logical.isSigned === true))
  );
}

/** A string column convert() decodes with parsers.stringFromBytes and nothing else. */
function isPlainString(element: SchemaElement): boolean {
  const logical = element.logical_type?.type;
  return (
    (element.converted_type === 'UTF8' && (logical === undefined || logical === 'STRING')) ||
    (element.converted_type === undefined && logical === 'STRING')
  );
}

/**
 * A page header whose sizes and counts are whole numbers. A corrupt header may lack some (its struct cut
 * short) or hold negative ones; an offset moved by a missing one is NaN, where DataView reads byte 0 again
 * and again, so the page's levels were read forever.
 */
function checkedHeader(header: PageHeader): PageHeader {
  const v2 = header.data_page_header_v2;
  const page = header.data_page_header ?? v2 ?? header.dictionary_page_header;
  const numbers = [
    header.compressed_page_size,
    header.uncompressed_page_size,
    ...(page ? [page.num_values] : []),
    ...(v2 ? [v2.definition_levels_byte_length, v2.repetition_levels_byte_length] : []),
  ];
  if (!numbers.every((value) => Number.isSafeInteger(value) && value >= 0)) {
    throw new Error('parquet page header is corrupt: a size or count is missing or negative');
  }
  return header;
}

/** `count` RLE/bit-packed levels up to `max`; `length` bytes of them, or (V1) a 4-byte length first. */
function levels(reader: DataReader, max: number, count: number, length?: number): Uint8Array | Int32Array {
  const out = max < 256 ? new Uint8Array(count) : new Int32Array(count);
  readHybridRuns(reader, 32 - Math.clz32(max), out, length);
  return out;
}

/** Julian day 2440588 is 1970-01-01. */
const UNIX_EPOCH_JULIAN_DAY = 2_440_588;

/**
 * PLAIN INT96 timestamps (Impala's and Spark's) as `toTimestamp` makes them of their nanoseconds since
 * the epoch, a slice at a time. Each is 8 bytes of nanoseconds of the day, little-endian and signed (Spark
 * writes negative ones, counted back from the day), then 4 bytes of Julian day. hyparquet joins the two
 * into one bigint with a bitwise or, which a negative nanosecond count overwrites, day and all.
 */
function plainInt96(
  reader: DataReader,
  count: number,
  toTimestamp: (nanoseconds: bigint) => unknown,
): (from: number, to: number) => unknown[] {
  const { view } = reader;
  const start = reader.offset;
  if (start + count * 12 > view.byteLength) throw new Error('parquet INT96 values run past the page');
  reader.offset += count * 12;
  return (from, to) => {
    const out = new Array<unknown>(to - from);
    for (let index = from; index < to; index++) {
      const at = start + index * 12;
      const days = view.getUint32(at + 8, true) - UNIX_EPOCH_JULIAN_DAY;
      out[index - from] = toTimestamp(BigInt(days) * 86_400_000_000_000n + view.getBigInt64(at, true));
    }
    return out;
  };
}

/** Where each PLAIN BYTE_ARRAY value starts in the page: value i is [starts[i], starts[i + 1] - 4). */
function byteArrayStarts(reader: DataReader, count: number): Int32Array {
  const { view } = reader;
  const starts = new Int32Array(count + 1);
  let offset = reader.offset;
  for (let i = 0; i < count; i++) {
    const length = view.getUint32(offset, true);
    starts[i] = offset + 4;
    offset += 4 + length;
  }
  starts[count] = offset + 4;
  if (offset > view.byteLength) throw new Error('parquet byte array values run past the page');
  return starts;
}

/** PLAIN BYTE_ARRAY values as offsets into the page; views of them are made a slice at a time. */
function plainByteArrays(reader: DataReader, count: number): (from: number, to: number) => Uint8Array[] {
  const { view } = reader;
  const starts = byteArrayStarts(reader, count);
  const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  return (from, to) => {
    const out = new Array<Uint8Array>(to - from);
    for (let i = from; i < to; i++) out[i - from] = bytes.subarray(starts[i]!, starts[i + 1]! - 4);
    return out;
  };
}

/**
 * PLAIN UTF-8 values as strings, decoded as hyparquet's default parser (a TextDecoder) decodes them,
 * a slice at a time, straight from the page: short ASCII values from their character codes, without
 * a view and a native call for each.
 */
function plainStrings(reader: DataReader, count: number): (from: number, to: number) => string[] {
  const { view } = reader;
  const starts = byteArrayStarts(reader, count);
  const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  return (from, to) => {
    const out = new Array<string>(to - from);
    for (let i = from; i < to; i++) out[i - from] = utf8Text(bytes, starts[i]!, starts[i + 1]! - 4);
    return out;
  };
}

const utf8 = new TextDecoder();
/** Scratch arrays of character codes, one per length up to SHORT_TEXT. */
const SHORT_TEXT = 32;
const codes = Array.from({ length: SHORT_TEXT + 1 }, (_, length) => new Array<number>(length).fill(0));

/** Bytes [start, end) as TextDecoder decodes them (ASCII is the same characters, and has no BOM). */
function utf8Text(bytes: Uint8Array, start: number, end: number): string {
  const length = end - start;
  if (length > SHORT_TEXT) return utf8.decode(bytes.subarray(start, end));
  const chars = codes[length]!;
  for (let index = 0; index < length; index++) {
    const code = bytes[start + index]!;
    if (code > 0x7f) return utf8.decode(bytes.subarray(start, end));
    chars[index] = code;
  }
  return String.fromCharCode.apply(null, chars);
}
