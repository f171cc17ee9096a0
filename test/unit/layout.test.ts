/**
 * The architecture as `ls` shows it, checked on the import graph of the product's own modules: imports
 * point down (entries -> app -> workers -> ports), nothing imports in a cycle, and only the one wiring
 * module of each runtime turns config into concrete adapters.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, test } from 'vitest';

const root = join(import.meta.dirname, '../..');
const FOLDERS = ['app', 'adapters', 'workers', 'schemas'];
const IMPORT =
  /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g;

function sources(folder: string): string[] {
  return readdirSync(join(root, folder)).flatMap((name) => {
    const path = join(folder, name);
    if (statSync(join(root, path)).isDirectory()) return sources(path);
    return /\.ts$/.test(name) && !/\.(test|d)\.ts$/.test(name) ? [path] : [];
  });
}

/** Every module of ours each module imports, as repo-relative `.ts` paths. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of FOLDERS.flatMap(sources)) {
    const text = readFileSync(join(root, file), 'utf8');
    const targets: string[] = [];
    for (const match of text.matchAll(IMPORT)) {
      const specifier = (match[1] ?? match[2])!;
      if (specifier.endsWith('.json')) continue;
      targets.push(normalize(join(dirname(file), specifier)).replace(/\.js$/, '.ts'));
    }
    graph.set(file, targets);
  }
  return graph;
}

const graph = importGraph();
const edges = [...graph].flatMap(([from, targets]) => targets.map((to) => ({ from, to })));
const under = (path: string, folder: string) => !relative(folder, path).startsWith('..');

describe('layout', () => {
  test('the graph is read: every import of ours resolves to a module', () => {
    expect(graph.size).toBeGreaterThan(50);
    const unresolved = edges.filter(({ to }) => !graph.has(to));
    expect(unresolved).toEqual([]);
  });

  test('the ports and their errors import nothing of ours but each other', () => {
    const bottom = ['adapters/ports.ts', 'adapters/errors.ts'];
    const upward = edges.filter(({ from, to }) => bottom.includes(from) && !bottom.includes(to));
    expect(upward).toEqual([]);
  });

  test('no import runs from adapters/ or schemas/ up into workers/ or app/', () => {
    const upward = edges.filter(
      ({ from, to }) =>
        (under(from, 'adapters') || under(from, 'schemas')) && (under(to, 'workers') || under(to, 'app')),
    );
    expect(upward).toEqual([]);
  });

  test('the pipeline never imports an adapter, only the ports, their errors and the backoff', () => {
    const concrete = edges.filter(
      ({ from, to }) =>
        under(from, 'workers') &&
        under(to, 'adapters') &&
        !['adapters/ports.ts', 'adapters/errors.ts', 'adapters/retry.ts'].includes(to),
    );
    expect(concrete).toEqual([]);
  });

  test('no import cycles', () => {
    // Tarjan's strongly connected components: any component of more than one module is a cycle.
    const index = new Map<string, number>();
    const low = new Map<string, number>();
    const stack: string[] = [];
    const onStack = new Set<string>();
    const cycles: string[][] = [];
    let counter = 0;
    const visit = (node: string) => {
      index.set(node, counter);
      low.set(node, counter++);
      stack.push(node);
      onStack.add(node);
      for (const next of graph.get(node) ?? []) {
        if (!index.has(next)) {
          visit(next);
          low.set(node, Math.min(low.get(node)!, low.get(next)!));
        } else if (onStack.has(next)) {
          low.set(node, Math.min(low.get(node)!, index.get(next)!));
        }
      }
      if (low.get(node) === index.get(node)) {
        const component: string[] = [];
        let member: string;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          component.push(member);
        } while (member !== node);
        if (component.length > 1) cycles.push(component.sort());
      }
    };
    for (const node of graph.keys()) if (!index.has(node)) visit(node);
    expect(cycles).toEqual([]);
  });

  test('only a runtime wiring module (app/<runtime>/wire.ts) imports concrete adapters', () => {
    // Concrete adapters live in adapters/<kind>/<name>/; shared rules beside them (ledger-rules.ts) do not count.
    const concrete = (path: string) => /^adapters\/[^/]+\/[^/]+\//.test(path);
    const wiring = edges.filter(
      ({ from, to }) => concrete(to) && !concrete(from) && !/^app\/[^/]+\/wire\.ts$/.test(from),
    );
    expect(wiring).toEqual([]);
  });
});
