/**
 * Every TypeScript code block in README.md and docs/ compiles under
 * `--strict` against the package's own entries, as an application would
 * import them (`rtcpool`, `rtcpool/server`). A block is a complete module or
 * a fragment that declares what it uses (`declare const pool: Pool;`), so a
 * reader can always tell where each name comes from.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import ts from 'typescript';
import { afterAll, describe, expect, test } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const documents = [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];

interface Sample {
  document: string;
  line: number;
  code: string;
}

function samples(document: string): Sample[] {
  const found: Sample[] = [];
  const lines = readFileSync(join(root, document), 'utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(ts|typescript)\s*$/.test(lines[i] ?? '')) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end] !== '```') end++;
    found.push({ document, line: start + 1, code: lines.slice(start, end).join('\n') });
    i = end;
  }
  return found;
}

const all = documents.flatMap(samples);
// Inside the project, so that `ws`, `@roamhq/wrtc`, ... resolve from its node_modules as an application's would.
const folder = join(root, 'node_modules/.cache', `rtcpool-samples-${process.pid}`);
afterAll(() => rmSync(folder, { recursive: true, force: true }));

/** Compiles every sample in one program (the library's sources are checked once); returns the errors by sample. */
function compile(): Map<Sample, string[]> {
  mkdirSync(folder, { recursive: true });
  const files = new Map<string, Sample>();
  all.forEach((sample, index) => {
    const file = join(folder, `${sample.document.replace(/[/.]/g, '_')}_${index}.ts`);
    // `export {}` makes each sample its own module, so two samples may declare the same names.
    writeFileSync(file, `${sample.code}\nexport {};\n`);
    files.set(file, sample);
  });
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts', 'lib.dom.iterable.d.ts'],
    types: ['node'],
    typeRoots: [join(root, 'node_modules/@types')],
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    verbatimModuleSyntax: true,
    paths: {
      rtcpool: [join(root, 'src/index.ts')],
      'rtcpool/server': [join(root, 'src/server/index.ts')],
    },
  };
  const program = ts.createProgram([...files.keys()], options);
  const errors = new Map<Sample, string[]>(all.map((sample) => [sample, []]));
  for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
    const { file } = diagnostic;
    const sample = file && files.get(file.fileName);
    const text = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
    if (!file || !sample) {
      // An error in the library itself would show in every sample: report it against the first.
      const first = all[0];
      if (first) errors.get(first)?.push(`${file?.fileName ?? '?'}: ${text}`);
      continue;
    }
    const { line } = file.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
    errors.get(sample)?.push(`line ${sample.line + line}: ${text}`);
  }
  return errors;
}

describe('code samples in the docs', () => {
  test('there are samples to check', () => {
    expect(all.length).toBeGreaterThan(10);
  });

  test('each compiles under --strict against rtcpool and rtcpool/server', () => {
    const errors = compile();
    const failing = [...errors].filter(([, messages]) => messages.length > 0);
    expect(
      failing.map(([sample, messages]) => `${sample.document}:${sample.line}\n  ${messages.join('\n  ')}`),
    ).toEqual([]);
  }, 120_000);
});
