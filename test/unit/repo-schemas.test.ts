/**
 * The repository's own schemas pass `dropgate schemas check`: every dataset folder under schemas/, under
 * the mode the example config declares for it (BACKWARD when it declares none), and Dropgate's control
 * schemas under schemas/_dropgate/, each file of which the registry serves.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkDataset, formatFinding, type CompatibilityMode } from '../../schemas/compatibility.js';
import { versionOfSchemaFile } from '../../schemas/schema-versions.js';
import { CONTROL_NAMESPACE, CONTROL_SCHEMAS } from '../../schemas/control-schemas.js';

const root = join(import.meta.dirname, '../..');
const example = JSON.parse(readFileSync(join(root, 'dropgate.example.config.json'), 'utf8')) as {
  datasets: Array<{ name: string; compatibility?: CompatibilityMode }>;
};
const folders = readdirSync(join(root, 'schemas')).filter(
  (name) => name !== CONTROL_NAMESPACE && statSync(join(root, 'schemas', name)).isDirectory(),
);
const controlFolder = join(root, 'schemas', CONTROL_NAMESPACE);

describe('the repository’s schemas', () => {
  it('include a dataset with more than one version, so the check below compares something', () => {
    const counts = folders.map(
      (folder) =>
        readdirSync(join(root, 'schemas', folder)).filter((name) => versionOfSchemaFile(name)).length,
    );
    expect(Math.max(...counts)).toBeGreaterThan(1);
  });

  it.each(folders)('%s: every version is compatible under its declared mode', (folder) => {
    const versions = new Map<number, unknown>();
    for (const name of readdirSync(join(root, 'schemas', folder))) {
      const version = versionOfSchemaFile(name);
      if (version !== undefined)
        versions.set(version, JSON.parse(readFileSync(join(root, 'schemas', folder, name), 'utf8')));
    }
    const mode = example.datasets.find((dataset) => dataset.name === folder)?.compatibility ?? 'BACKWARD';
    expect(checkDataset(folder, versions, mode).map((finding) => formatFinding(finding, mode))).toEqual([]);
  });

  it('control schemas: the registry serves every file under schemas/_dropgate, each version compatible both ways', () => {
    const files = readdirSync(controlFolder).flatMap((name) =>
      readdirSync(join(controlFolder, name)).map((file) => `${name}/${file}`),
    );
    const served = CONTROL_SCHEMAS.flatMap((schema) =>
      [...schema.versions.keys()].map((version) => `${schema.name}/v${version}.json`),
    );
    expect(served.sort()).toEqual(files.sort());
    for (const schema of CONTROL_SCHEMAS) {
      for (const [version, content] of schema.versions) {
        const path = join(controlFolder, schema.name, `v${version}.json`);
        expect(content, path).toEqual(JSON.parse(readFileSync(path, 'utf8')));
      }
      const findings = checkDataset(schema.name, schema.versions, 'FULL_TRANSITIVE');
      expect(findings.map((finding) => formatFinding(finding, 'FULL_TRANSITIVE'))).toEqual([]);
    }
  });
});
