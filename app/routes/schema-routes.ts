/**
 * The schema registry, served without credentials: `GET /schemas` lists datasets and their versions and
 * Dropgate's own control schemas, `GET /schemas/<dataset>/v<N>` and `GET /schemas/_dropgate/<name>/v<N>`
 * answer one version's JSON Schema, so every event's `dataschema` resolves.
 * Schemas are the contract consumers read events by; they hold no data and no secrets.
 */
import { Hono } from 'hono';
import { DropgateError } from '../../adapters/errors.js';
import { dataschemaUri } from '../../schemas/dataset.js';
import { versionOfSchemaFile } from '../../schemas/schema-versions.js';
import { CONTROL_NAMESPACE, CONTROL_SCHEMAS, controlDataschemaUri } from '../../schemas/control-schemas.js';
import type { CompiledDataset } from '../../workers/compiled-dataset.js';
import type { AppDependencies, AppEnv } from '../app-env.js';

/** Versions may be corrected before consumers rely on them; five minutes bounds a stale copy. */
const CACHE_CONTROL = 'public, max-age=300';

export function schemaRoutes({ gateway }: AppDependencies): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  const versionsOf = (dataset: CompiledDataset) =>
    [...(dataset.versions?.values() ?? [dataset])].sort((a, b) => a.schemaVersion - b.schemaVersion);

  // Every dataset shares the config's base URL.
  const schemaBaseUrl = gateway.datasets[0]?.schemaBaseUrl;
  const control = CONTROL_SCHEMAS.map((schema) => ({
    name: `${CONTROL_NAMESPACE}/${schema.name}`,
    eventTypes: schema.eventTypes,
    versions: [...schema.versions.keys()].map((version) => {
      const path = `/schemas/${CONTROL_NAMESPACE}/${schema.name}/v${version}`;
      return {
        version,
        dataschema: controlDataschemaUri(schema.name, schemaBaseUrl, version),
        path,
      };
    }),
  }));

  routes.get('/schemas', (context) => {
    context.header('cache-control', CACHE_CONTROL);
    return context.json({
      control,
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

  routes.get(`/schemas/${CONTROL_NAMESPACE}/:name/:version`, (context) => {
    const name = context.req.param('name');
    const version = versionOfSchemaFile(`${context.req.param('version')}.json`);
    const schema = CONTROL_SCHEMAS.find((candidate) => candidate.name === name);
    const found = version === undefined ? undefined : schema?.versions.get(version);
    if (!found) {
      throw new DropgateError(
        'NOT_FOUND',
        schema
          ? `control schema ${CONTROL_NAMESPACE}/${name} has no version ${context.req.param('version')}`
          : `no control schema named "${CONTROL_NAMESPACE}/${name}"`,
      );
    }
    context.header('cache-control', CACHE_CONTROL);
    return context.body(JSON.stringify(found, null, 2), 200, { 'content-type': 'application/schema+json' });
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
