import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { and, fromPromise, not, setup } from 'xstate';
import { diagrams, docStatus, replaceBlock, toMermaid, updateDocs } from '../../scripts/diagram.js';

describe('committed diagrams', () => {
  it('match what the machines generate', async () => {
    for (const status of await docStatus()) {
      expect(status.current, `${path.relative(process.cwd(), status.file)} is stale: run \`npm run diagram\``).toBe(
        status.expected,
      );
    }
  });

  it('cover the negotiation machine', () => {
    expect(diagrams.map((d) => d.name)).toContain('negotiation');
  });
});

const tiny = setup({
  actors: { fetchUser: fromPromise(async () => 'ada') },
  guards: { isReady: () => true, isAdmin: () => false },
  delays: { patience: 500 },
}).createMachine({
  id: 'tiny',
  initial: 'idle',
  on: { reset: '.idle', log: { actions: () => undefined } },
  states: {
    idle: {
      description: 'Nothing asked yet; waiting for {go}.',
      on: {
        go: [{ guard: 'isReady', target: 'loading' }, { target: 'done' }],
        poke: { actions: () => undefined },
        ignored: {},
      },
      after: { patience: 'loading', 1000: 'done' },
    },
    loading: {
      initial: 'first step',
      invoke: { src: 'fetchUser', onDone: 'done', onError: 'idle' },
      states: {
        'first step': { always: { guard: not('isAdmin'), target: 'state' } },
        // A key that is also a Mermaid keyword.
        state: { on: { 'tick.tock': { guard: and(['isReady', 'isAdmin']), target: 'first step' } } },
      },
    },
    done: {
      type: 'final',
      // Wrapped naively, the first row would end in a colon, which Mermaid rejects.
      description: 'Reached once the user is known or the wait ends, and so: nothing more happens here.',
    },
  },
});

/** The statement forms toMermaid emits; anything else would be a bug (or a Mermaid syntax error). */
const statement = [
  /^stateDiagram-v2$/,
  /^\[\*\] --> \w+$/,
  /^\w+ --> \[\*\]$/,
  /^\w+ --> \w+ : [^;{}\n]+[^:]$/,
  /^\w+$/,
  /^state "[^"]+" as \w+( \{)?$/,
  /^state \w+ \{$/,
  /^\}$/,
  /^--$/,
  /^\w+ : [^;{}\n]+[^:]$/,
  /^note right of \w+$/,
  /^end note$/,
  /^%% .*$/,
  /^classDef \w+ [^;]+$/,
  /^class \w+ \w+$/,
];

describe('toMermaid', () => {
  const diagram = toMermaid(tiny);
  const lines = diagram.trimEnd().split('\n');

  it('emits only known statements, and the same text every time', () => {
    let inNote = false;
    for (const raw of lines) {
      const line = raw.trim();
      if (inNote) {
        inNote = line !== 'end note';
        continue;
      }
      expect(
        statement.some((form) => form.test(line)),
        `unexpected line: ${raw}`,
      ).toBe(true);
      inNote = line.startsWith('note ');
    }
    expect(toMermaid(tiny)).toBe(diagram);
  });

  it('draws initial states, guarded transitions and their fallback', () => {
    expect(lines[1]).toBe('  [*] --> idle');
    expect(diagram).toContain('idle --> loading : go [isReady]\n');
    expect(diagram).toContain('idle --> done : go [else]\n');
  });

  it('labels delays, eventless transitions and invoked actors', () => {
    expect(diagram).toContain('idle --> loading : after patience\n');
    expect(diagram).toContain('idle --> done : after 1000ms\n');
    expect(diagram).toContain('loading --> done : done: fetchUser\n');
    expect(diagram).toContain('loading --> idle : error: fetchUser\n');
    expect(diagram).not.toContain('xstate.');
  });

  it('nests compound states, with safe ids and the keys as labels', () => {
    expect(diagram).toContain(
      [
        '  state loading {',
        '    [*] --> first_step',
        '    state "first step" as first_step',
        '    state "state" as state_state',
        '    first_step --> state_state : always [not isAdmin]',
        '    state_state --> first_step : tick.tock [isReady and isAdmin]',
        '  }',
      ].join('\n'),
    );
  });

  it('ends final states, and describes states with their targetless transitions', () => {
    expect(diagram).toContain('  done --> [*]\n');
    expect(diagram).toContain(
      '  done : Reached once the user is known or the wait ends, and\n  done : so: nothing more happens here.\n',
    );
    expect(diagram).toContain('  state "idle" as idle\n  idle : Nothing asked yet, waiting for (go).\n');
    expect(diagram).toContain('  idle : internal: poke\n  idle : ignores: ignored\n');
  });

  it('draws machine-wide transitions once, from an "any state" box', () => {
    expect(diagram).toContain('  state "any state" as tiny_any\n  tiny_any : internal: log\n');
    expect(diagram).toContain('  tiny_any --> idle : reset\n');
    expect(diagram.match(/ : reset$/gm)).toHaveLength(1);
  });

  it('splits the regions of a parallel state', () => {
    const parallel = setup({}).createMachine({
      id: 'both',
      type: 'parallel',
      states: {
        left: { initial: 'a', states: { a: { on: { flip: 'b' } }, b: {} } },
        right: { initial: 'c', states: { c: {} } },
      },
    });
    expect(toMermaid(parallel)).toBe(
      [
        'stateDiagram-v2',
        '  [*] --> both',
        '  state both {',
        '    state left {',
        '      [*] --> a',
        '      a',
        '      b',
        '      a --> b : flip',
        '    }',
        '    --',
        '    state right {',
        '      [*] --> c',
        '      c',
        '    }',
        '  }',
        '',
      ].join('\n'),
    );
  });
});

describe('updateDocs', () => {
  it('reports a stale block under --check and rewrites it otherwise', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'diagram-'));
    try {
      const file = path.join(root, 'tiny.md');
      const before = '# Tiny\n\n<!-- diagram:tiny:start -->\nold\n<!-- diagram:tiny:end -->\n\nAfter.\n';
      await writeFile(file, before);
      const targets = [{ name: 'tiny', machine: tiny, file: 'tiny.md' }];

      const [checked] = await updateDocs({ check: true, targets, root });
      expect(checked?.stale).toBe(true);
      expect(await readFile(file, 'utf8')).toBe(before);

      await updateDocs({ targets, root });
      const after = await readFile(file, 'utf8');
      expect(after).toBe(replaceBlock(before, 'tiny', toMermaid(tiny)));
      expect(after).toMatch(/^# Tiny\n\n<!-- diagram:tiny:start -->\n```mermaid\nstateDiagram-v2\n/);
      expect(after.endsWith('```\n<!-- diagram:tiny:end -->\n\nAfter.\n')).toBe(true);
      expect((await updateDocs({ check: true, targets, root }))[0]?.stale).toBe(false);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('refuses a file without the markers', () => {
    expect(() => replaceBlock('# nothing here\n', 'tiny', 'stateDiagram-v2\n')).toThrow(/diagram:tiny:start/);
  });
});
