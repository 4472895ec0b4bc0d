/**
 * Where the rtcpool package is on disk, and its version, for the command:
 * found at run time from this file's own location, so the answer is the
 * same whether it runs as the built `dist/cli.js` (installed, or linked as
 * `node_modules/.bin/rtcpool`) or as `src/cli/main.ts` under tsx.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface Manifest {
  name?: unknown;
  version?: unknown;
}

function readManifest(folder: string): Manifest | undefined {
  const file = join(folder, 'package.json');
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Manifest;
  } catch {
    return undefined;
  }
}

/**
 * The nearest folder above this file whose package.json names rtcpool. Not
 * a fixed `../..`: the bundler moves this code (into `dist/cli.js`, one
 * level down, or into a chunk), and the path must not depend on where.
 */
function findRoot(): string {
  let folder = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (readManifest(folder)?.name === 'rtcpool') return folder;
    const parent = dirname(folder);
    if (parent === folder) throw new Error('cannot find the rtcpool package.json above the command');
    folder = parent;
  }
}

/** The package's root folder: `demo/` and `dist/` are found from it. */
export const packageRoot: string = findRoot();

/** The version in the package's package.json. */
export function packageVersion(): string {
  const version = readManifest(packageRoot)?.version;
  if (typeof version !== 'string') throw new Error(`${join(packageRoot, 'package.json')} has no version`);
  return version;
}
