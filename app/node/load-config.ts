/**
 * Finds and validates the config on Node: `--config`, else `$DROPGATE_CONFIG`, else `./dropgate.config.json`,
 * else the embedded defaults (the example `orders` dataset, data under `./.dropgate`). Relative paths in
 * a config file resolve from the file's directory; the embedded schemas from the package.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAjvValidatorFactory } from '../../schemas/row-validator.js';
import { writeFileAtomic } from '../../adapters/local/durable-files.js';
import { DropgateError } from '../../adapters/errors.js';
import type { CompiledDataset } from '../../workers/ingest-file.js';
import type { Credentials } from '../auth.js';
import { iconvTextDecoding } from './iconv-text-decoding.js';
import {
  compileDatasets,
  configFileSchema,
  environmentSchema,
  parseOrExplain,
  type ConfigFile,
  type Environment,
} from '../config.js';

export interface LoadedConfig {
  /** The config file read, or undefined for the embedded defaults. */
  path: string | undefined;
  file: ConfigFile;
  dataDir: string;
  datasets: CompiledDataset[];
  environment: Environment;
}

export const packageRoot = findPackageRoot(dirname(fileURLToPath(import.meta.url)));

export const embeddedConfig = {
  dataDir: '.dropgate',
  datasets: [
    {
      name: 'orders',
      match: 'vendors/*/orders/**',
      schema: join(packageRoot, 'schemas/orders'),
      eventType: 'OrderReceived',
      topic: 'orders',
      deadLetterTopic: 'orders.dead-letter',
    },
  ],
};

export async function loadConfig(
  options: { configPath?: string; env?: Record<string, string | undefined>; cwd?: string } = {},
) {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const environment = parseOrExplain(environmentSchema, env, 'the environment');
  const named = options.configPath ?? environment.DROPGATE_CONFIG;
  const candidate = named ? resolve(cwd, named) : resolve(cwd, 'dropgate.config.json');
  const path = named || existsSync(candidate) ? candidate : undefined;

  let raw: unknown = embeddedConfig;
  if (path) {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      throw new DropgateError(
        'CONFIG_INVALID',
        `cannot read config file ${path}: ${(error as Error).message}`,
      );
    }
    try {
      // Editors on Windows save JSON with a byte order mark, which JSON.parse refuses.
      raw = JSON.parse(withoutBom(text));
    } catch (error) {
      throw new DropgateError(
        'CONFIG_INVALID',
        `config file ${path} is not valid JSON: ${(error as Error).message}`,
      );
    }
  }
  const base = path ? dirname(path) : cwd;
  const file = parseOrExplain(configFileSchema, raw, path ? `config file ${path}` : 'the embedded config');
  const at = (schemaPath: string) => (isAbsolute(schemaPath) ? schemaPath : resolve(base, schemaPath));
  const datasets = await compileDatasets(
    file.datasets,
    {
      read: async (schemaPath) => JSON.parse(withoutBom(await readFile(at(schemaPath), 'utf8'))),
      list: async (schemaPath) => {
        const found = await stat(at(schemaPath));
        return found.isDirectory() ? readdir(at(schemaPath)) : undefined;
      },
    },
    createAjvValidatorFactory(),
    iconvTextDecoding,
    file.schemaBaseUrl ? { schemaBaseUrl: file.schemaBaseUrl } : {},
  );
  // A key file is named like the schemas, relative to the config file.
  if (file.store.type === 'gcs' && file.store.keyFile) file.store.keyFile = at(file.store.keyFile);
  return { path, file, dataDir: resolve(base, file.dataDir), datasets, environment } satisfies LoadedConfig;
}

/**
 * Credentials from the environment; whichever is missing is generated once and kept in
 * `<dataDir>/local-credentials.json` (mode 0600), so a local gateway works with no setup.
 */
export async function localCredentials(
  config: LoadedConfig,
): Promise<{ credentials: Credentials; signingSecret: string; generated: string[] }> {
  const env = config.environment;
  const path = join(config.dataDir, 'local-credentials.json');
  await mkdir(config.dataDir, { recursive: true });
  let stored: { adminToken?: string; signingSecret?: string; vendor?: string; vendorKey?: string } = {};
  if (existsSync(path)) stored = JSON.parse(await readFile(path, 'utf8'));
  const generated: string[] = [];
  const fresh = (name: string) => {
    generated.push(name);
    return randomBytes(24).toString('base64url');
  };
  const adminToken = env.DROPGATE_ADMIN_TOKEN ?? (stored.adminToken ??= fresh('adminToken'));
  const signingSecret = env.DROPGATE_SIGNING_SECRET ?? (stored.signingSecret ??= fresh('signingSecret'));
  let vendorKeys = env.DROPGATE_VENDOR_KEYS;
  if (!vendorKeys) {
    stored.vendor ??= 'acme';
    stored.vendorKey ??= fresh('vendorKey');
    vendorKeys = new Map([[stored.vendorKey, stored.vendor]]);
  }
  if (generated.length > 0) {
    await writeFileAtomic(path, JSON.stringify(stored, null, 2));
    await chmod(path, 0o600);
  }
  return { credentials: { adminToken, vendorKeys }, signingSecret, generated };
}

function findPackageRoot(start: string): string {
  for (let directory = start; ; directory = dirname(directory)) {
    if (existsSync(join(directory, 'package.json')) && existsSync(join(directory, 'schemas')))
      return directory;
    if (dirname(directory) === directory) throw new Error(`cannot find the dropgate package above ${start}`);
  }
}

const withoutBom = (text: string) => (text.startsWith('\uFEFF') ? text.slice(1) : text);
