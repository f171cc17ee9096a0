/**
 * Rows to publishable blocks: validation, then each accepted row's event serialized and encoded, the
 * rejected ones kept as rejections. A block is the pipeline's unit of publishing and checkpointing; the
 * same builder runs inline or in a Node worker thread, whose blocks cross threads as transferable buffers.
 */
import type { FieldIssue, RowValidator } from '../schemas/row-validator.js';
import type { Rejection } from './envelope.js';
import { endOffsets } from './event-batch.js';
import type { ParsedRow } from './rows.js';

export interface RowBlock {
  /** Every data row up to and including `lastRow` is in this block or an earlier one. */
  lastRow: number;
  /** Data rows read into this block, rows a resume skips included. */
  rowsRead: number;
  /** Accepted rows' event bodies, back to back, each followed by a newline. */
  bytes: Uint8Array;
  /** `ends[i]` is the offset just past event i's newline. */
  ends: Uint32Array;
  /** The row of each event. */
  rows: Uint32Array;
  /** Rejected rows, in row order, with their raw record rendered. */
  rejections: Rejection[];
}

export interface RowBlockOptions {
  /** `rowEventHead` of the file. */
  head: string;
  validate: RowValidator;
  renderRaw: (raw: unknown) => unknown;
  /** Rows up to and including this one are already published (a resumed attempt) and are only counted. */
  skipThrough: number;
  /** Row the block starts after. */
  startRow: number;
}

const encoder = new TextEncoder();

export class RowBlockBuilder {
  private parts: string[] = [];
  private rows: number[] = [];
  private rejections: Rejection[] = [];
  private rowsRead = 0;
  private chars = 0;
  private lastRow: number;

  constructor(private readonly options: RowBlockOptions) {
    this.lastRow = options.startRow;
  }

  /** Events waiting in the block. */
  get events(): number {
    return this.parts.length;
  }

  /** Characters of event bodies waiting in the block. */
  get size(): number {
    return this.chars;
  }

  /**
   * Validates and serializes `rows`. Each step runs over the whole slice before the next starts, which
   * measured about 30% faster than taking each row through every step in turn.
   */
  add(rows: readonly ParsedRow[]): void {
    const { head, validate, skipThrough, renderRaw } = this.options;
    const accepted: ParsedRow[] = [];
    for (const parsed of rows) {
      this.rowsRead++;
      this.lastRow = parsed.row;
      if (parsed.row <= skipThrough) continue;
      const issues = rowIssues(validate, parsed);
      if (issues === null) accepted.push(parsed);
      else {
        this.rejections.push({ row: parsed.row, line: parsed.line, issues, raw: renderRaw(parsed.raw) });
      }
    }
    for (const { row, values } of accepted) {
      const part = `${head}${row}","rownumber":${row},"data":${JSON.stringify(values)}}\n`;
      this.parts.push(part);
      this.rows.push(row);
      this.chars += part.length;
    }
  }

  /** The block so far; the builder starts a new one after it. */
  take(): RowBlock {
    const bytes = encoder.encode(this.parts.join(''));
    const block: RowBlock = {
      lastRow: this.lastRow,
      rowsRead: this.rowsRead,
      bytes,
      ends: endOffsets(this.parts, bytes.length),
      rows: Uint32Array.from(this.rows),
      rejections: this.rejections,
    };
    this.parts = [];
    this.rows = [];
    this.rejections = [];
    this.rowsRead = 0;
    this.chars = 0;
    return block;
  }
}

/** Coercion problems plus schema problems of the other fields, so a dead letter lists every bad field. */
function rowIssues(validate: RowValidator, parsed: ParsedRow): FieldIssue[] | null {
  const schemaIssues = parsed.values ? validate(parsed.values) : null;
  if (parsed.issues.length === 0) return schemaIssues;
  const coerced = new Set(parsed.issues.map((issue) => issue.field));
  return [...parsed.issues, ...(schemaIssues ?? []).filter((issue) => !coerced.has(issue.field))];
}
