/** The part of parquetjs-lite 0.8 (no types of its own) the tests use: its writer, as a second writer. */
declare module 'parquetjs-lite' {
  interface FieldDefinition {
    type?: string;
    optional?: boolean;
    repeated?: boolean;
    compression?: string;
    fields?: Record<string, FieldDefinition>;
  }
  interface ParquetWriter {
    appendRow(row: Record<string, unknown>): Promise<void>;
    close(): Promise<void>;
  }
  const parquet: {
    ParquetSchema: new (fields: Record<string, FieldDefinition>) => object;
    ParquetWriter: {
      openFile(
        schema: object,
        path: string,
        options?: { rowGroupSize?: number; pageSize?: number; useDataPageV2?: boolean },
      ): Promise<ParquetWriter>;
    };
  };
  export default parquet;
}
