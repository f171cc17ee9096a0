/**
 * The part of papaparse the core calls, for the core's type-check (tsconfig.core.json maps `papaparse`
 * here): @types/papaparse references Node's types, which the core is checked without. The rest of the
 * repo, and the same core files, are still checked against @types/papaparse (tsconfig.json).
 */
declare namespace Papa {
  interface UnparseConfig {
    delimiter?: string;
    quoteChar?: string;
    newline?: string;
  }
  function unparse(data: unknown[][], config?: UnparseConfig): string;
}
export = Papa;
