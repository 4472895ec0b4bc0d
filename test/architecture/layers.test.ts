/**
 * The layers of docs/architecture.md, checked from the code's imports: who
 * may import whom, no circles between files or folders, and no file in src/
 * past 400 lines. The lint rule in biome.json guards machines/ at edit time;
 * this test guards every layer, type-only imports included (a type that
 * crosses a layer is a dependency all the same).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, test } from 'vitest';

const root = resolve(import.meta.dirname, '../..');

function sourceFiles(folder: string): string[] {
  return readdirSync(join(root, folder)).flatMap((name) => {
    const path = join(folder, name);
    if (statSync(join(root, path)).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

interface Module {
  file: string;
  /** Files of this tree it imports (relative to the root, `.ts`). */
  local: string[];
  /** Packages and Node built-ins it imports. */
  external: string[];
  lines: number;
}

function read(file: string): Module {
  const text = readFileSync(join(root, file), 'utf8');
  const { importedFiles } = ts.preProcessFile(text, true, true);
  const local: string[] = [];
  const external: string[] = [];
  for (const { fileName } of importedFiles) {
    if (fileName.startsWith('.'))
      local.push(relative(root, resolve(root, dirname(file), fileName)).replace(/\.js$/, '.ts'));
    else external.push(fileName);
  }
  return { file, local, external, lines: text.split('\n').length };
}

const modules = [...sourceFiles('machines'), ...sourceFiles('src')].map(read);
const byFile = new Map(modules.map((module) => [module.file, module]));

/** The layer a file belongs to: its folder under src/, or machines. */
function layer(file: string): string {
  if (file.startsWith('machines/')) return 'machines';
  const [, folder] = file.split('/');
  return folder && !folder.endsWith('.ts') ? `src/${folder}` : 'src';
}

const node = (name: string) => name.startsWith('node:') || builtinModules.includes(name);

/** What each layer may import: layers of this tree, and which packages. */
const rules: Record<string, { layers: string[]; external: (name: string) => boolean }> = {
  machines: { layers: ['machines'], external: (name) => name === 'xstate' },
  'src/shared': { layers: ['src/shared'], external: () => false },
  'src/protocol': { layers: ['src/protocol', 'src/shared'], external: () => false },
  'src/signalling': {
    layers: ['src/signalling', 'src/protocol', 'src/shared'],
    external: (name) => name === 'rxjs',
  },
  // The client runs in browsers: no Node built-ins, no server packages.
  src: {
    layers: ['src', 'machines', 'src/signalling', 'src/protocol', 'src/shared'],
    external: (name) => name === 'xstate' || name === 'rxjs',
  },
  'src/server': {
    layers: ['src/server', 'src/protocol', 'src/shared'],
    external: (name) => node(name) || ['ws', 'socket.io', 'ioredis', 'rxjs'].includes(name),
  },
  // The command sits on top: the server, and the client's browser build it serves.
  'src/cli': {
    layers: ['src/cli', 'src/server', 'src/protocol', 'src/shared'],
    external: node,
  },
};

describe('layers', () => {
  test('every file of src/ and machines/ belongs to a known layer', () => {
    expect(modules.length).toBeGreaterThan(30);
    expect(modules.map(({ file }) => layer(file)).filter((name) => !rules[name])).toEqual([]);
  });

  test('each layer imports only the layers and packages below it', () => {
    const broken: string[] = [];
    for (const { file, local, external } of modules) {
      const rule = rules[layer(file)];
      if (!rule) continue;
      for (const target of local) {
        if (!rule.layers.includes(layer(target))) broken.push(`${file} -> ${target}`);
        if (!byFile.has(target)) broken.push(`${file} -> ${target} (no such file)`);
      }
      for (const name of external) if (!rule.external(name)) broken.push(`${file} -> ${name}`);
    }
    expect(broken).toEqual([]);
  });

  test('no two files import each other, directly or around a circle', () => {
    expect(cycles(new Map(modules.map(({ file, local }) => [file, local])))).toEqual([]);
  });

  test('no two folders import each other, directly or around a circle', () => {
    const folders = new Map<string, string[]>();
    for (const { file, local } of modules) {
      const from = dirname(file);
      const edges = folders.get(from) ?? [];
      for (const target of local) if (dirname(target) !== from) edges.push(dirname(target));
      folders.set(from, edges);
    }
    expect(cycles(folders)).toEqual([]);
  });

  test('no file in src/ is longer than 400 lines (machines/ may be, where a machine reads best whole)', () => {
    const long = modules.filter(({ file, lines }) => file.startsWith('src/') && lines > 400);
    expect(long.map(({ file, lines }) => `${file}: ${lines}`)).toEqual([]);
  });
});

/** Every circle in a graph, each as the path that closes it. */
function cycles(graph: Map<string, string[]>): string[] {
  const found: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const path: string[] = [];
  const visit = (node: string) => {
    state.set(node, 'visiting');
    path.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'visiting') found.push([...path.slice(path.indexOf(next)), next].join(' -> '));
      else if (!state.has(next)) visit(next);
    }
    path.pop();
    state.set(node, 'done');
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return found;
}
