// Modules the Workers bench uses that come without types.
// The module workers-bench.ts generates for the bench's Worker: each format's schema and precompiled validator.
declare module 'dropgate-bench-datasets' {
  import type { RowSchema } from '../schemas/dataset.js';
  const datasets: Record<'csv' | 'parquet', { schema: RowSchema; validate: (data: unknown) => boolean }>;
  export default datasets;
}

// `ws` (Miniflare's own WebSocket client, installed with it), as much as workers-bench.ts uses of it.
declare module 'ws' {
  export default class WebSocket {
    constructor(url: string);
    once(event: 'open' | 'error', listener: (error?: Error) => void): this;
    on(event: 'message', listener: (data: unknown) => void): this;
    send(data: string): void;
    close(): void;
  }
}
