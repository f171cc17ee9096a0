/** Reads what a gateway published: the local sink's `<dataDir>/events/<topic>.ndjson` files. */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CloudEvent } from '../../support/cloud-events.js';

export type { CloudEvent, DeadLetterData, FileSummaryData } from '../../support/cloud-events.js';

export async function readTopic<T = Record<string, unknown>>(
  dataDir: string,
  topic: string,
): Promise<Array<CloudEvent<T>>> {
  const path = join(dataDir, 'events', `${topic}.ndjson`);
  if (!existsSync(path)) return [];
  const text = await readFile(path, 'utf8');
  return text
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as CloudEvent<T>);
}

/** How many times each id occurs. */
export function idCounts(events: ReadonlyArray<{ id: string }>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { id } of events) counts.set(id, (counts.get(id) ?? 0) + 1);
  return counts;
}
