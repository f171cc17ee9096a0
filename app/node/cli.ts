/**
 * The `dropgate` command: `serve` runs the gateway, `ingest <file> --dataset <name>` runs one local file
 * through the pipeline, `replay <objectKey>` re-ingests a landed object and `replay --prefix` every object
 * under a prefix. `ingest` and `replay` print one
 * JSON summary line and exit non-zero when the file is rejected (2) or ingestion fails (3); `backfill`
 * lists the bucket and ingests every object version the ledger never saw; `files` prints the load history
 * (a table, or JSON lines with `--json`) from the ledger; `schemas check` compares each dataset's schema
 * versions (and Dropgate's control schemas) under its compatibility mode and exits 1 on a break; `catalog`
 * writes the event catalog (Markdown and HTML); `ledger create-table` creates a dynamodb ledger's table
 * (for development).
 */
import { parseArgs } from 'node:util';
import { basename, join, relative, resolve, sep } from 'node:path';
import { mkdir, writeFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { createLedgerStorage, wireAdapters, wireLocalFilesStore } from './wire.js';
import { DropgateError } from '../../adapters/errors.js';
import { ingestFile, type IngestResult, type Progress } from '../../workers/ingest-file.js';
import { datasetVersionFor } from '../../workers/compiled-dataset.js';
import { createGateway, type Gateway } from '../gateway.js';
import { iconvTextDecoding } from './iconv-text-decoding.js';
import { createIngestPools } from './ingest-threads.js';
import { silentLogger } from '../logger.js';
import { createPinoLogger } from './pino-logger.js';
import { loadConfig, localCredentials, type LoadedConfig } from './load-config.js';
import { startGateway } from './start-gateway.js';
import { buildEventCatalog } from '../catalog/event-catalog.js';
import { catalogMarkdown } from '../catalog/catalog-markdown.js';
import { catalogHtml } from '../catalog/catalog-html.js';
import { checkDataset, formatFinding, type CompatibilityMode } from '../../schemas/compatibility.js';
import { CONTROL_COMPATIBILITY, CONTROL_NAMESPACE, CONTROL_SCHEMAS } from '../../schemas/control-schemas.js';
import { fileRow, type FileRow } from '../file-row.js';
import { MAX_HISTORY_LIMIT, parseHistoryFilters, type HistoryFilters } from '../history-query.js';

/**
 * What `ingest` and `replay` exit with: 0 done (or done before), 2 the file was rejected, 3 not done
 * (ingestion failed, or another process holds the file; trying again later may help), 4 no such object
 * (or it was replaced meanwhile); 1 is any other error (config, I/O) and 64 a usage error.
 */
const EXIT_CODES: Record<IngestResult['status'], number> = {
  ingested: 0,
  duplicate: 0,
  'in-progress': 3,
  rejected: 2,
  failed: 3,
  missing: 4,
  superseded: 4,
};

const USAGE = `usage:
  dropgate serve [--config <file>]
  dropgate ingest <file> --dataset <name> [--config <file>] [--force]
  dropgate replay <objectKey> [--config <file>]
  dropgate replay --prefix <prefix> [--since <RFC 3339 time>] [--until <RFC 3339 time>] [--dry-run] [--config <file>]
  dropgate backfill [--prefix <prefix>] [--since <RFC 3339 time>] [--dry-run] [--config <file>]
  dropgate files [--prefix <prefix>] [--dataset <name>] [--state <state>] [--since <RFC 3339 time>]
                 [--until <RFC 3339 time>] [--limit <rows, default 100>] [--json] [--config <file>]
  dropgate schemas check [--config <file>]
  dropgate catalog [--out <dir>] [--config <file>]
  dropgate ledger create-table [--config <file>]`;

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string' },
        dataset: { type: 'string' },
        force: { type: 'boolean', default: false },
        prefix: { type: 'string' },
        since: { type: 'string' },
        until: { type: 'string' },
        state: { type: 'string' },
        limit: { type: 'string' },
        json: { type: 'boolean', default: false },
        'dry-run': { type: 'boolean', default: false },
        out: { type: 'string', default: 'catalog' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    // An unknown option or a missing value: say which, then how to call it.
    process.stderr.write(`dropgate: ${(error as Error).message}\n`);
    return usage(64);
  }
  const { values, positionals } = parsed;
  const [command, target, ...extra] = positionals;
  if (values.help || !command) return usage(values.help ? 0 : 64);
  const config = await loadConfig({ configPath: values.config });
  switch (command) {
    case 'serve':
      return serve(config);
    case 'ingest':
      if (!target || extra.length > 0 || !values.dataset) return usage(64);
      return ingestLocalFile(config, target, values.dataset, values.force);
    case 'replay':
      if (values.prefix !== undefined) {
        if (target) return usage(64, 'give an object key or --prefix, not both');
        return replayPrefix(config, {
          prefix: values.prefix,
          ...(values.since === undefined ? {} : { since: values.since }),
          ...(values.until === undefined ? {} : { until: values.until }),
          dryRun: values['dry-run'],
        });
      }
      if (!target || extra.length > 0) return usage(64);
      return replay(config, target);
    case 'backfill':
      if (target) return usage(64);
      return backfillBucket(config, {
        prefix: values.prefix ?? '',
        ...(values.since === undefined ? {} : { since: values.since }),
        dryRun: values['dry-run'],
      });
    case 'files':
      if (target) return usage(64);
      return listFiles(config, values);
    case 'schemas':
      if (target !== 'check' || extra.length > 0) return usage(64);
      return checkSchemas(config);
    case 'catalog':
      if (target) return usage(64);
      return writeCatalog(config, resolve(values.out));
    case 'ledger':
      if (target !== 'create-table' || extra.length > 0) return usage(64);
      process.stdout.write(`${await createLedgerStorage(config.file)}\n`);
      return 0;
    default:
      return usage(64);
  }
}

async function serve(config: LoadedConfig): Promise<number> {
  const logger = createPinoLogger();
  const running = await startGateway(config, logger);
  const lines = [
    `Dropgate is listening on ${running.url}`,
    `  data directory: ${config.dataDir}`,
    `  config: ${config.path ?? 'embedded defaults'}; datasets: ${config.datasets.map((dataset) => dataset.name).join(', ')}`,
  ];
  if (running.printable.vendorKey)
    lines.push(`  vendor "${running.printable.vendor}" API key (local use): ${running.printable.vendorKey}`);
  if (running.printable.adminToken) lines.push(`  admin token (local use): ${running.printable.adminToken}`);
  process.stdout.write(`${lines.join('\n')}\n`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await running.close();
  return 0;
}

async function ingestLocalFile(
  config: LoadedConfig,
  file: string,
  datasetName: string,
  force: boolean,
): Promise<number> {
  const dataset = config.datasets.find((candidate) => candidate.name === datasetName);
  if (!dataset) {
    throw new DropgateError(
      'DATASET_UNKNOWN',
      `no dataset named "${datasetName}"; configured: ${config.datasets.map((d) => d.name).join(', ')}`,
    );
  }
  const path = resolve(file);
  const root = path.split(sep)[0] + sep;
  const { signingSecret } = await localCredentials(config);
  const adapters = await wireAdapters({
    file: config.file,
    dataDir: config.dataDir,
    publicUrl: 'http://localhost',
    signingSecret,
  });
  // The file is read where it lies, as an object of a "local-files" bucket keyed by its absolute path.
  const store = await wireLocalFilesStore({ root, dataDir: config.dataDir, signingSecret });
  const key = relative(root, path);
  if (!(await store.stat(key))) throw new DropgateError('OBJECT_NOT_FOUND', `no file at ${path}`);
  const pools = createIngestPools(config.file.ingestThreads);
  const result = await ingestFile(
    {
      store,
      sink: adapters.sink,
      ledger: adapters.ledger,
      controlTopic: config.file.controlTopic,
      owner: owner(),
      onProgress: progressReporter(basename(path)),
      textDecoding: iconvTextDecoding,
      segmentPool: pools.segmentPool,
      rowGroupPool: pools.rowGroupPool,
    },
    { dataset, key, mode: force ? 'replay' : 'notification' },
  ).finally(() => pools.close());
  await adapters.close();
  return report(result, key, dataset.name, datasetVersionFor(dataset, key).schemaVersion);
}

async function replay(config: LoadedConfig, key: string): Promise<number> {
  return withCliGateway(config, progressReporter(key), async (gateway) => {
    const dataset = gateway.datasetForKey(key);
    if (!dataset) throw new DropgateError('NO_DATASET_MATCHES', `no dataset's match pattern covers ${key}`);
    const result = await gateway.ingestNow(key, 'replay');
    return report(result, key, dataset.name, datasetVersionFor(dataset, key).schemaVersion);
  });
}

/**
 * `backfill`: records every listed object version the ledger never saw, step by step through the
 * listing, then ingests them here. Prints one JSON line with the totals; a recorded version that fails
 * stays in the ledger for a gateway's sweep to retry.
 */
function backfillBucket(
  config: LoadedConfig,
  request: { prefix: string; since?: string; dryRun: boolean },
): Promise<number> {
  return withCliGateway(config, undefined, async (gateway) => {
    const totals = { scanned: 0, recorded: 0, known: 0, unmatched: 0, older: 0 };
    let cursor: string | undefined;
    do {
      const step = await gateway.backfill({ ...request, ...(cursor ? { cursor } : {}) });
      for (const name of Object.keys(totals) as Array<keyof typeof totals>) totals[name] += step[name];
      cursor = step.cursor;
    } while (cursor);
    await gateway.idle();
    process.stdout.write(
      `${JSON.stringify({ prefix: request.prefix, dryRun: request.dryRun, ...totals })}\n`,
    );
    return 0;
  });
}

/** Rows `files` prints when `--limit` is not given. */
const DEFAULT_FILES_LIMIT = 100;

/**
 * `files`: the load history, newest first, read from the ledger in pages of up to MAX_HISTORY_LIMIT
 * until `--limit` rows are printed: a table for people, or one JSON object per line (`--json`), the rows
 * of `GET /admin/files`. Bad filters exit 64 naming the option.
 */
async function listFiles(
  config: LoadedConfig,
  options: Partial<Record<'prefix' | 'dataset' | 'state' | 'since' | 'until' | 'limit', string>> & {
    json?: boolean;
  },
): Promise<number> {
  let filters: HistoryFilters;
  let wanted = DEFAULT_FILES_LIMIT;
  try {
    const { limit, ...rest } = options;
    filters = parseHistoryFilters(
      { prefix: rest.prefix, dataset: rest.dataset, state: rest.state, since: rest.since, until: rest.until },
      (name) => `--${name}`,
    );
    if (limit !== undefined) {
      wanted = /^\d{1,9}$/.test(limit) ? Number(limit) : 0;
      if (wanted < 1)
        throw new DropgateError('BAD_REQUEST', 'invalid query: --limit: must be a whole number from 1 on');
    }
  } catch (error) {
    process.stderr.write(`dropgate: ${(error as Error).message}\n`);
    return usage(64);
  }
  return withCliGateway(config, undefined, async (gateway) => {
    const rows: FileRow[] = [];
    let cursor: string | undefined;
    do {
      const page = await gateway.history({
        ...filters,
        ...(cursor ? { cursor } : {}),
        limit: Math.min(MAX_HISTORY_LIMIT, wanted - rows.length),
      });
      for (const record of page.records.slice(0, wanted - rows.length)) {
        const row = fileRow(record);
        if (options.json) process.stdout.write(`${JSON.stringify(row)}\n`);
        rows.push(row);
      }
      cursor = page.cursor;
    } while (cursor && rows.length < wanted);
    const more = cursor ? `; more match: raise --limit (${wanted})` : '';
    if (options.json) {
      if (more) process.stderr.write(`dropgate: ${rows.length} files printed${more}\n`);
    } else {
      process.stdout.write(`${fileTable(rows)}${rows.length} file version(s)${more}\n`);
    }
    return 0;
  });
}

/** The rows as a plain-text table, columns padded to their widest cell; vendor text cannot reach the terminal raw. */
function fileTable(rows: FileRow[]): string {
  if (rows.length === 0) return '';
  const header = [
    'KEY',
    'VERSION',
    'DATASET',
    'STATE',
    'READ',
    'PUBLISHED',
    'REJECTED',
    'FIRST SEEN',
    'DURATION',
    'FIRST ERROR',
  ];
  const cells = rows.map((row) => {
    const [first] = row.firstErrors;
    const state = row.progress ? `${row.state} (${row.progress.rows} rows so far)` : row.state;
    const problem = first
      ? `line ${first.line} ${first.field}: ${first.reason}${row.firstErrors.length > 1 ? ` (+${row.firstErrors.length - 1} more)` : ''}`
      : row.error
        ? `${row.error.code}: ${row.error.message}`
        : '';
    return [
      row.key,
      row.version,
      row.dataset,
      state,
      String(row.rowsRead),
      String(row.rowsPublished),
      String(row.rowsRejected),
      row.firstSeenAt,
      row.durationMs === null ? '' : `${(row.durationMs / 1000).toFixed(1)}s`,
      problem,
    ].map(printable);
  });
  const widths = header.map((title, column) =>
    Math.max(title.length, ...cells.map((cell) => cell[column]!.length)),
  );
  const numeric = new Set([4, 5, 6, 8]);
  const line = (cell: string[]) =>
    cell
      .map((text, column) =>
        column === cell.length - 1
          ? text
          : numeric.has(column)
            ? text.padStart(widths[column]!)
            : text.padEnd(widths[column]!),
      )
      .join('  ')
      .trimEnd();
  return `${[header, ...cells].map(line).join('\n')}\n`;
}

/** Control characters (a key or a reason may hold an escape sequence) as visible `\u` escapes. */
function printable(text: string): string {
  return text.replace(
    // eslint-disable-next-line no-control-regex -- finding control characters is the point
    /[\u0000-\u001f\u007f-\u009f]/g,
    (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/**
 * `replay --prefix`: asks for a replay of every current version under the prefix (and in the time range),
 * step by step through the listing, then ingests them here. Prints one JSON line with the totals.
 */
function replayPrefix(
  config: LoadedConfig,
  request: { prefix: string; since?: string; until?: string; dryRun: boolean },
): Promise<number> {
  return withCliGateway(config, undefined, async (gateway) => {
    const totals = { scanned: 0, matched: 0, replayed: 0, new: 0 };
    const skipped = { noDataset: 0, outsideRange: 0, inProgress: 0 };
    let cursor: string | undefined;
    do {
      const step = await gateway.replayListing({ ...request, ...(cursor ? { cursor } : {}) });
      for (const name of Object.keys(totals) as Array<keyof typeof totals>) totals[name] += step[name];
      for (const name of Object.keys(skipped) as Array<keyof typeof skipped>)
        skipped[name] += step.skipped[name];
      cursor = step.cursor;
    } while (cursor);
    await gateway.idle();
    process.stdout.write(
      `${JSON.stringify({ prefix: request.prefix, dryRun: request.dryRun, ...totals, skipped })}\n`,
    );
    return 0;
  });
}

/**
 * Runs `use` with a gateway over the config's adapters in this process (no HTTP), then lets go of the
 * threads and adapters (the local ledger's lock among them), however `use` ended.
 */
async function withCliGateway(
  config: LoadedConfig,
  onProgress: ((progress: Progress) => void) | undefined,
  use: (gateway: Gateway) => Promise<number>,
): Promise<number> {
  const { signingSecret } = await localCredentials(config);
  const adapters = await wireAdapters({
    file: config.file,
    dataDir: config.dataDir,
    publicUrl: 'http://localhost',
    signingSecret,
  });
  const pools = createIngestPools(config.file.ingestThreads);
  try {
    const gateway = createGateway({
      ...adapters,
      datasets: config.datasets,
      controlTopic: config.file.controlTopic,
      owner: owner(),
      uploads: config.file.uploads,
      logger: silentLogger,
      ingest: {
        ...(onProgress ? { onProgress } : {}),
        textDecoding: iconvTextDecoding,
        segmentPool: pools.segmentPool,
        rowGroupPool: pools.rowGroupPool,
      },
    });
    return await use(gateway);
  } finally {
    await pools.close();
    await adapters.close();
  }
}

/**
 * `schemas check`: each dataset's versions under its declared compatibility mode. Prints one line per
 * dataset and one per finding; exits 1 when any version breaks its dataset's mode.
 */
function checkSchemas(config: LoadedConfig): number {
  let breaking = 0;
  for (const [index, dataset] of config.datasets.entries()) {
    const mode = config.file.datasets[index]!.compatibility;
    const versions = new Map(
      [...(dataset.versions?.values() ?? [dataset])].map((version) => [
        version.schemaVersion,
        version.schema,
      ]),
    );
    breaking += reportCheck(dataset.name, versions, mode);
  }
  for (const control of CONTROL_SCHEMAS) {
    const name = `${CONTROL_NAMESPACE}/${control.name}`;
    breaking += reportCheck(name, control.versions, CONTROL_COMPATIBILITY);
  }
  return breaking === 0 ? 0 : 1;
}

/**
 * `catalog`: the event catalog as `event-catalog.md` and a self-contained `event-catalog.html` in `out`.
 * An example the schema refuses (a pattern no generated value meets) is written with a note, and named on
 * stderr, without failing the command.
 */
async function writeCatalog(config: LoadedConfig, out: string): Promise<number> {
  const catalog = await buildEventCatalog(config.file, config.datasets);
  await mkdir(out, { recursive: true });
  const markdown = join(out, 'event-catalog.md');
  const html = join(out, 'event-catalog.html');
  await writeFile(markdown, catalogMarkdown(catalog));
  await writeFile(html, catalogHtml(catalog));
  for (const entry of catalog.entries) {
    for (const version of entry.versions) {
      if (version.exampleIssues.length > 0) {
        process.stderr.write(
          `dropgate: the example ${entry.eventType} v${version.version} event does not meet its schema: ${version.exampleIssues.join('; ')}\n`,
        );
      }
    }
  }
  const types = catalog.entries.map((entry) => entry.eventType).join(', ');
  process.stdout.write(`wrote ${markdown} and ${html}: ${catalog.entries.length} event types (${types})\n`);
  return 0;
}

/** Prints a dataset's verdict and its findings; returns how many there are. */
function reportCheck(name: string, versions: ReadonlyMap<number, unknown>, mode: CompatibilityMode): number {
  const findings = checkDataset(name, versions, mode);
  const names = [...versions.keys()]
    .sort((a, b) => a - b)
    .map((version) => `v${version}`)
    .join(', ');
  const verdict = findings.length === 0 ? 'compatible' : `${findings.length} breaking change(s)`;
  process.stdout.write(`${name} (${names}) under ${mode}: ${verdict}\n`);
  for (const finding of findings) process.stdout.write(`  ${formatFinding(finding, mode)}\n`);
  return findings.length;
}

function report(result: IngestResult, key: string, dataset: string, schemaVersion: number): number {
  if (process.stderr.isTTY) process.stderr.write('\n');
  const base = { dataset, schemaVersion };
  let line: Record<string, unknown>;
  switch (result.status) {
    case 'ingested':
    case 'rejected': {
      const { summary } = result;
      line = {
        objectKey: summary.objectKey,
        ...base,
        rowsRead: summary.rowsRead,
        rowsPublished: summary.rowsPublished,
        rowsRejected: summary.rowsRejected,
        state: result.status,
        ...(summary.error ? { error: summary.error } : {}),
      };
      break;
    }
    case 'duplicate':
    case 'in-progress': {
      const outcome = result.record.outcome;
      line = {
        objectKey: result.record.key,
        ...base,
        rowsRead: outcome?.rowsRead ?? 0,
        rowsPublished: outcome?.rowsPublished ?? 0,
        rowsRejected: outcome?.rowsRejected ?? 0,
        state: result.status,
        previousState: result.record.state,
      };
      break;
    }
    case 'failed':
      line = {
        objectKey: key,
        ...base,
        state: 'failed',
        error: { code: result.error.code, message: result.error.message },
      };
      break;
    default:
      line = { objectKey: result.key, ...base, state: result.status };
  }
  process.stdout.write(`${JSON.stringify(line)}\n`);
  return EXIT_CODES[result.status];
}

function progressReporter(name: string): ((progress: Progress) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  return ({ rowsRead, rowsPublished, rowsRejected }) =>
    process.stderr.write(
      `\r${name}: ${rowsRead} rows read, ${rowsPublished} published, ${rowsRejected} rejected`,
    );
}

function owner(): string {
  return `${hostname()}:${process.pid}:cli:${randomUUID().slice(0, 8)}`;
}

function usage(status: number, problem?: string): number {
  if (problem) process.stderr.write(`dropgate: ${problem}\n`);
  (status === 0 ? process.stdout : process.stderr).write(`${USAGE}\n`);
  return status;
}
