/** Object stores that behave as a real one can at its worst: slow reads. */
import type { ObjectStore } from '../../../adapters/ports.js';

/** `store` with its reads replaced by `read` and `readRange` where given; everything else passes through. */
function overriding(
  store: ObjectStore,
  reads: Partial<Pick<ObjectStore, 'read' | 'readRange'>>,
): ObjectStore {
  return {
    bucket: store.bucket,
    source: store.source,
    stat: (key) => store.stat(key),
    read: reads.read ?? ((key, version) => store.read(key, version)),
    readRange: reads.readRange ?? ((key, version, start, end) => store.readRange(key, version, start, end)),
    createUploadUrl: (request) => store.createUploadUrl(request),
    list: (prefix, options) => store.list(prefix, options),
  };
}

/** A store whose reads arrive in small chunks with a pause between them, like a slow network read. */
export function withSlowReads(store: ObjectStore, pauseMs: number): ObjectStore {
  return overriding(store, {
    async read(key, version) {
      return (await store.read(key, version)).pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          async transform(chunk, controller) {
            await new Promise((resolve) => setTimeout(resolve, pauseMs));
            controller.enqueue(chunk);
          },
        }),
      );
    },
  });
}
