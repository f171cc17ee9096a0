/**
 * The schema registry, served without credentials: `GET /schemas` lists datasets and their versions,
 * `GET /schemas/<dataset>/v<N>` answers one version's JSON Schema, so every event's `dataschema` resolves.
 * Schemas are the contract consumers read events by; they hold no data and no secrets.
 */
import { Hono } from 'hono';
import { DropgateError } from '../../adapters/errors.js';
import { dataschemaUri } from '../../schemas/dataset.js';
import { versionOfSchemaFile } from '../../schemas/schema-versions.js';
import type { CompiledDataset } from '../../workers/compiled-dataset.js';
import type { AppDependencies, AppEnv } from '../app-env.js';

/** Versions may be corrected before consumers rely on them; five minutes bounds a stale copy. */
const CACHE_CONTROL = 'public, max-age=300';

export function schemaRoutes({ gateway }: AppDependencies): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  const versionsOf = (dataset: CompiledDataset) =>
    [...(dataset.versions?.values() ?? [dataset])].sort((a, b) => a.schemaVersion - b.schemaVersion);

  routes.get('/schemas', (context) => {
    context.header('cache-control', CACHE_CONTROL);
    return context.json({
      datasets: gateway.datasets.map((dataset) => ({
        name: dataset.name,
        eventType: dataset.eventType,
        topic: dataset.topic,
        deadLetterTopic: dataset.deadLetterTopic,
        defaultVersion: dataset.schemaVersion,
        versions: versionsOf(dataset).map((version) => ({
          version: version.schemaVersion,
          retired: dataset.retired?.includes(version.schemaVersion) ?? false,
          dataschema: dataschemaUri(version),
          path: `/schemas/${dataset.name}/v${version.schemaVersion}`,
        })),
      })),
    });
  });

  routes.get('/schemas/:dataset/:version', (context) => {
    const name = context.req.param('dataset');
    const version = versionOfSchemaFile(`${context.req.param('version')}.json`);
    const dataset = gateway.datasets.find((candidate) => candidate.name === name);
    const found = dataset && versionsOf(dataset).find((each) => each.schemaVersion === version);
    if (!found) {
      throw new DropgateError(
        'NOT_FOUND',
        dataset
          ? `dataset ${dataset.name} has no schema version ${context.req.param('version')}`
          : `no dataset named "${name}"`,
      );
    }
    context.header('cache-control', CACHE_CONTROL);
    return context.body(JSON.stringify(found.schema, null, 2), 200, {
      'content-type': 'application/schema+json',
    });
  });

  return routes;
}
