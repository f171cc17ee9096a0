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
  SchemaTree,
} from 'hyparquet/src/types.js';
import { assembleLists, assembleNested } from 'hyparquet/src/assemble.js';
import { parquetHeader, readPage } from 'hyparquet/src/column.js';
import { DEFAULT_PARSERS, convert } from 'hyparquet/src/convert.js';
import { decompressPage } from 'hyparquet/src/datapage.js';
import { deltaBinaryUnpack, deltaByteArray, deltaLengthByteArray } from 'hyparquet/src/delta.js';
import { byteStreamSplit } from 'hyparquet/src/encoding.js';
import { readPlain } from 'hyparquet/src/plain.js';
import { getMaxDefinitionLevel, getMaxRepetitionLevel, getTreePath } from 'hyparquet/src/schema.js';
import { compressors } from './compressors.js';
import { readHybridRuns } from './rle-hybrid.js';

/** The next rows of a row group, as top-level columns by name; `read(count)` returns fewer at its end. */
export interface RowGroupSlices {
  read(count: number): { rows: number; columns: Map<string, ArrayLike<unknown>> };
}

/**
 * Opens a row group from its column chunks' bytes (`chunkBytes(start, end)` returns file bytes
 * [start, end)). `metadata` decides the values as hyparquet's `parquetRead` would with the same
 * `parsers` and `utf8: false`.
 */
export async function openRowGroupSlices(
  metadata: FileMetaData,
  index: number,
  parsers: Partial<ParquetParsers>,
  chunkBytes: (start: number, end: number) => Promise<ArrayBuffer> | ArrayBuffer,
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
    leaves.set(meta.path_in_schema.join('.'), new LeafCursor(new Uint8Array(bytes), decoderFor(meta)));
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
  private dictionary: DecodedArray | undefined;
  private page: Page | undefined;
  private level = 0;
  private value = 0;

  constructor(
    bytes: Uint8Array,
    private readonly decoder: ColumnDecoder,
  ) {
    this.reader = { view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset: 0 };
    this.maxDefinition = getMaxDefinitionLevel(decoder.schemaPath);
    this.maxRepetition = getMaxRepetitionLevel(decoder.schemaPath);
  }

  /** The next `rows` rows of this leaf, assembled (lists, nulls) as hyparquet assembles a page. */
  take(rows: number): DecodedArray {
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
      const header = checkedHeader(parquetHeader(reader));
      if (header.type === 'DICTIONARY_PAGE') {
        const { data } = readPage(reader, header, this.decoder, undefined, undefined, 0);
        if (data) this.dictionary = convert(data, this.decoder);
        continue;
      }
      const start = reader.offset;
      reader.offset += header.compressed_page_size;
      const bytes = new Uint8Array(
        reader.view.buffer,
        reader.view.byteOffset + start,
        header.compressed_page_size,
      );
      this.page = this.decodePage(header, bytes);
      this.level = 0;
      this.value = 0;
    }
    return true;
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
      for (let i = 0; i < count; i++) if (definition[i] === this.maxDefinition) defined += 1;
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
      if (type === 'BYTE_ARRAY') return converted(plainByteArrays(reader, count));
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
      const plain = readPlain(reader, type, count, decoder.element.type_length);
      return converted((from, to) => plain.slice(from, to));
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
      return (from, to) => {
        const dictionary = this.dictionary;
        if (!dictionary) throw new Error('parquet dictionary-encoded page without a dictionary');
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
    return converted((from, to) => whole.slice(from, to));
  }
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

/** PLAIN BYTE_ARRAY values as offsets into the page; views of them are made a slice at a time. */
function plainByteArrays(reader: DataReader, count: number): (from: number, to: number) => Uint8Array[] {
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
  const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  return (from, to) => {
    const out = new Array<Uint8Array>(to - from);
    for (let i = from; i < to; i++) out[i - from] = bytes.subarray(starts[i]!, starts[i + 1]! - 4);
    return out;
  };
}
