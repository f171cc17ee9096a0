/**
 * The core's boundary is enforced, not asserted: a module of the core (tsconfig.core.json's files) that
 * imports `fs` and uses `Buffer` and `process` fails the core's type-check, its lint and its bundle for
 * esbuild's neutral platform, each naming the file; the real core passes all three. The probe is never
 * written to disk: the compiler, ESLint and esbuild are handed its text as if it lay in the core.
 */
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import * as esbuild from 'esbuild';
import { ESLint } from 'eslint';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '../..');

const probe = [
  "import { readFileSync } from 'fs';",
  'export const probe = Buffer.from(readFileSync(process.argv[1]!));',
  '',
].join('\n');

/** Where the probe is placed: new modules in each core folder, and appended to a single-file member. */
const placements = [
  'workers/__boundary_probe.ts',
  'workers/csv/__boundary_probe.ts',
  'schemas/__boundary_probe.ts',
  'adapters/errors.ts',
  // The HTTP sinks Workers publish to the clouds with are held to the core's rules.
  'adapters/event-sink/sqs/sqs-http-event-sink.ts',
];

/** The probe's text at `path`: the module itself, or the existing module with the probe after it. */
function probed(path: string): string {
  const existing = path.includes('__boundary_probe') ? '' : readFileSync(join(root, path), 'utf8');
  return existing + probe;
}

const coreConfig = (() => {
  const path = join(root, 'tsconfig.core.json');
  const { config, error } = ts.readConfigFile(path, ts.sys.readFile);
  if (error) throw new Error(ts.flattenDiagnosticMessageText(error.messageText, '\n'));
  return ts.parseJsonConfigFileContent(config, ts.sys, root, undefined, path);
})();

/** The core's own modules, repo-relative: what tsconfig.core.json checks, declarations aside. */
const coreModules = coreConfig.fileNames
  .filter((file) => !/\.d\.c?ts$/.test(file))
  .map((file) => relative(root, file));

const sourceFiles = new Map<string, ts.SourceFile | undefined>();

/** Type-checks the core as tsconfig.core.json does, with `overrides` (repo-relative path -> text). */
function typeCheckCore(overrides: Map<string, string> = new Map()): string[] {
  const absolute = new Map([...overrides].map(([path, text]) => [join(root, path), text]));
  const host = ts.createCompilerHost(coreConfig.options);
  const { getSourceFile, fileExists, readFile } = host;
  host.fileExists = (file) => absolute.has(file) || fileExists(file);
  host.readFile = (file) => absolute.get(file) ?? readFile(file);
  host.getSourceFile = (file, language, ...rest) => {
    const text = absolute.get(file);
    if (text !== undefined) return ts.createSourceFile(file, text, language);
    // Parsed once for every check: the checks differ only in the probe.
    let parsed = sourceFiles.get(file);
    if (!parsed) sourceFiles.set(file, (parsed = getSourceFile(file, language, ...rest)));
    return parsed;
  };
  const rootNames = [...new Set([...coreConfig.fileNames, ...absolute.keys()])];
  const program = ts.createProgram({ rootNames, options: coreConfig.options, host });
  return ts.getPreEmitDiagnostics(program).map((diagnostic) => {
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, ' ');
    return diagnostic.file ? `${relative(root, diagnostic.file.fileName)}: ${message}` : message;
  });
}

const eslint = new ESLint({ cwd: root });

/** ESLint's errors for `text` linted as the file at `path`, as `path: rule`. */
async function lintAs(path: string, text: string): Promise<string[]> {
  const [result] = await eslint.lintText(text, { filePath: join(root, path) });
  return result!.messages.map((message) => `${relative(root, result!.filePath)}: ${message.ruleId}`);
}

/** Bundles like wrangler resolves packages for Workers, on esbuild's neutral platform: no Node polyfills. */
const neutral = {
  bundle: true,
  write: false,
  format: 'esm',
  platform: 'neutral',
  mainFields: ['browser', 'module', 'main'],
  conditions: ['workerd', 'worker', 'browser'],
  // The Worker's config and precompiled validators, which the Worker build generates (wrangler.toml).
  external: ['dropgate-worker-build'],
  logLevel: 'silent',
} satisfies esbuild.BuildOptions;

async function bundleErrors(options: esbuild.BuildOptions): Promise<string[]> {
  try {
    await esbuild.build({ ...neutral, ...options });
    return [];
  } catch (error) {
    return (error as esbuild.BuildFailure).errors.map(
      (message) => `${message.location?.file ?? '?'}: ${message.text}`,
    );
  }
}

describe('the core boundary', () => {
  it('is read from tsconfig.core.json: the pipeline, the schemas, the ports and their errors', () => {
    expect(coreModules).toEqual(
      expect.arrayContaining([
        'workers/ingest-file.ts',
        'workers/decode.ts',
        'workers/csv/csv-records.ts',
        'workers/parquet/parquet-row-source.ts',
        'schemas/row-validator.ts',
        'adapters/ports.ts',
        'adapters/errors.ts',
      ]),
    );
    expect(coreModules.filter((file) => file.startsWith('app/') || file.endsWith('.test.ts'))).toEqual([]);
  });

  it('the core type-checks without Node types, and a Node-only module in it does not', () => {
    expect(typeCheckCore()).toEqual([]);
    const errors = typeCheckCore(new Map(placements.map((path) => [path, probed(path)])));
    for (const path of placements) {
      const inPath = errors.filter((error) => error.startsWith(`${path}: `)).join('\n');
      expect(inPath).toContain("Cannot find module 'fs'");
      expect(inPath).toContain("Cannot find name 'Buffer'");
      expect(inPath).toContain("Cannot find name 'process'");
    }
    const elsewhere = errors.filter((error) => !placements.some((path) => error.startsWith(`${path}: `)));
    expect(elsewhere).toEqual([]);
    // Two whole-program type-checks: ~20 s on an idle 2-core machine, more while other suites run.
  }, 120_000);

  it('the core lints clean, and a Node-only module in it does not, wherever in the core it lies', async () => {
    const results = await eslint.lintFiles(coreModules.map((file) => join(root, file)));
    expect(results.length).toBe(coreModules.length);
    expect(results.flatMap((result) => result.messages)).toEqual([]);
    for (const path of placements) {
      expect(await lintAs(path, probed(path))).toEqual([
        `${path}: no-restricted-imports`,
        `${path}: no-restricted-globals`,
        `${path}: no-restricted-globals`,
      ]);
    }
    const nodeOnly = (await lintAs('app/node/__boundary_probe.ts', probe)).filter((error) =>
      /no-restricted/.test(error),
    );
    expect(nodeOnly, 'Node-only code in app/node is fine').toEqual([]);
  });

  it('every core module and the Workers entry bundle for the neutral platform; the probe does not', async () => {
    const entryPoints = [...coreModules, 'app/worker/index.ts'].map((file) => join(root, file));
    expect(await bundleErrors({ entryPoints, outdir: join(root, '.wrangler/neutral') })).toEqual([]);

    const errors = await bundleErrors({
      absWorkingDir: root,
      stdin: {
        contents: probe,
        loader: 'ts',
        resolveDir: join(root, 'workers'),
        sourcefile: '__boundary_probe.ts',
      },
    });
    expect(errors).toEqual([expect.stringMatching(/^workers\/__boundary_probe\.ts: Could not resolve "fs"/)]);
  });
});
