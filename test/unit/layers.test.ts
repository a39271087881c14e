// The folders of src/ form layers: a folder may import from itself and from folders below it,
// never from one above. This reads every import of every file under src/ (static, `export …
// from`, and dynamic `import()`), so it holds for files added later as much as for today's.
//
// The layers, lowest first:
//   errors      the error classes everything throws, redaction, the version
//   fsutil      small file-system helpers (may not exist yet)
//   servicenow  the instance: HTTP client, reader, query, time
//   login       `nowpipe login`: the authorization-code flow (PKCE, the local redirect
//               listener, the browser) and the credentials file of stored refresh tokens
//   kafka       the Kafka client the Kafka sink and the Kafka state store share: connection
//               settings, errors, logs, the producer thread (transactions too), reading a topic;
//               it knows nothing of checkpoints or sinks, so both can use it
//   checkpoint  the saved position (in a file, or in a Kafka topic through kafka/)
//   sinks       stdout, files, Kafka; each sink takes its own options type and tells people
//               things through its own narrow shape (SinkNotices), so it knows nothing of the
//               config or the terminal
//   pipeline    the export engine: it takes options of its own and emits events, so it
//               knows nothing of the config or the terminal
//   group       many processes sharing the tables (--group): a Kafka consumer group decides
//               which member runs which table; it runs tables with the pipeline, so it sits
//               above it, and like it knows nothing of the config or the terminal
//   metrics     Prometheus metrics and /healthz: subscribes to the pipeline's events and is
//               handed the HTTP client's requests, with options of its own (no config, no terminal)
//   ui          the terminal: reporter, outage log, the view that subscribes to the events
//   config      the settings schema and its rules
//   cli         commands, flags, exit codes; puts the components together (and maps the config
//               onto each component's options, e.g. cli/kafka-settings.ts)
//
// Two folders stand apart from the line:
//   config      imports only errors and servicenow (time parsing, query rules), and the stored
//               logins (login/store, read as --password-file is): it validates settings and
//               never builds a component, so no component's code runs to parse a flag.
//   sim         the simulated instance is a stand-alone server: it imports only
//               servicenow/time, and only cli (the demo command) imports it.
//
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

const LAYERS = ['errors', 'fsutil', 'servicenow', 'login', 'kafka', 'checkpoint', 'sinks', 'pipeline', 'group', 'metrics', 'ui', 'config', 'cli'] as const;

/** Folders whose imports are limited to a list (a path prefix under src/), whatever their place. */
const ONLY: Record<string, string[]> = {
  config: ['errors/', 'servicenow/', 'login/store.'],
  sim: ['servicenow/time.'],
};

/** Folders that only the named folders may import. */
const IMPORTED_ONLY_BY: Record<string, string[]> = { sim: ['cli'] };

const SRC = resolve(import.meta.dirname, '../../src');

/** Every relative module specifier of a TypeScript file (comments left out). */
function importsOf(code: string): string[] {
  const text = code.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const found: string[] = [];
  const patterns = [
    /\b(?:import|export)\s+(?:type\s+)?[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const p of patterns) for (const m of text.matchAll(p)) if (m[1]!.startsWith('.')) found.push(m[1]!);
  return found;
}

/** The folder of src/ a path (relative to src/, with /) lies in; '' for a file directly in src/. */
const folderOf = (path: string) => (path.includes('/') ? path.slice(0, path.indexOf('/')) : '');

/** Why `from` (a file under src/) may not import `to` (the imported path under src/), or undefined. */
function violation(from: string, to: string): string | undefined {
  const a = folderOf(from);
  const b = folderOf(to);
  if (a === '' || b === '') return `${from} → ${to}: every file belongs in a folder of src/`;
  if (a === b) return undefined;
  for (const f of [a, b]) {
    if (!(LAYERS as readonly string[]).includes(f) && !(f in ONLY)) return `src/${f}/ has no place in the layers: add it to LAYERS in test/unit/layers.test.ts`;
  }
  if (IMPORTED_ONLY_BY[b] && !IMPORTED_ONLY_BY[b].includes(a)) return `${from} imports ${to}: only ${IMPORTED_ONLY_BY[b].join(', ')} may import src/${b}/`;
  const only = ONLY[a];
  if (only) return only.some((p) => to.startsWith(p)) ? undefined : `${from} imports ${to}: src/${a}/ may import only ${only.join(', ')}`;
  const ia = LAYERS.indexOf(a as (typeof LAYERS)[number]);
  const ib = LAYERS.indexOf(b as (typeof LAYERS)[number]);
  return ib > ia ? `${from} imports ${to}: ${a} is below ${b}, so it may not import from it` : undefined;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return /\.(ts|mts|cts|js|mjs)$/.test(e.name) && !e.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Every import of src/ that crosses a folder, as [importer, imported] relative to src/. */
function crossings(): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const file of sourceFiles(SRC)) {
    const from = relative(SRC, file).split(sep).join('/');
    for (const spec of importsOf(readFileSync(file, 'utf8'))) {
      const to = relative(SRC, resolve(dirname(file), spec)).split(sep).join('/');
      if (to.startsWith('..')) continue; // outside src/ (none today): not a layer question
      if (folderOf(from) !== folderOf(to)) out.push([from, to]);
    }
  }
  return out;
}

describe('layers of src/', () => {
  it('no folder imports from a folder above it', () => {
    const all = crossings();
    // The scan must see the imports it judges: cli alone imports a dozen folders' files.
    expect(all.length).toBeGreaterThan(20);
    expect(all.map(([from, to]) => violation(from, to)).filter((v) => v !== undefined)).toEqual([]);
  });

  it('the rule itself: downwards is fine; upwards, config → sinks, sim → anything but time, and unknown folders are not', () => {
    expect(violation('cli/components.ts', 'sinks/kafka/index.js')).toBeUndefined();
    expect(violation('sinks/kafka/index.ts', 'errors/index.js')).toBeUndefined();
    expect(violation('config/schema.ts', 'servicenow/time.js')).toBeUndefined();
    expect(violation('sim/server.ts', 'servicenow/time.js')).toBeUndefined();
    expect(violation('cli/commands/demo.ts', 'sim/index.js')).toBeUndefined();
    expect(violation('sinks/kafka/settings.ts', 'config/schema.js')).toMatch(/sinks is below config/);
    expect(violation('servicenow/client.ts', 'ui/reporter.js')).toMatch(/servicenow is below ui/);
    expect(violation('metrics/run-metrics.ts', 'pipeline/events.js')).toBeUndefined();
    expect(violation('pipeline/run.ts', 'metrics/index.js')).toMatch(/pipeline is below metrics/);
    expect(violation('config/schema.ts', 'sinks/kafka/validate.js')).toMatch(/src\/config\/ may import only/);
    expect(violation('sim/server.ts', 'servicenow/query.js')).toMatch(/src\/sim\/ may import only/);
    expect(violation('pipeline/export.ts', 'sim/index.js')).toMatch(/only cli may import src\/sim\//);
    expect(violation('cli/main.ts', 'webhook/index.js')).toMatch(/src\/webhook\/ has no place/);
    // The Kafka client sits below both of its users; the group runner above the pipeline.
    expect(violation('checkpoint/kafka/store.ts', 'kafka/tail.js')).toBeUndefined();
    expect(violation('sinks/kafka/index.ts', 'kafka/client.js')).toBeUndefined();
    expect(violation('kafka/transactions.ts', 'checkpoint/progress.js')).toMatch(/kafka is below checkpoint/);
    expect(violation('group/run.ts', 'pipeline/table-run.js')).toBeUndefined();
    expect(violation('pipeline/run.ts', 'group/run.js')).toMatch(/pipeline is below group/);
  });

  it('finds static, re-exported, side-effect and dynamic imports, and skips comments and packages', () => {
    const code = [
      "import { a } from '../config/schema.js';",
      "import type { B } from '../ui/reporter.js';",
      "export { c } from './c.js';",
      "import '../sinks/side.js';",
      "const { K } = await import('../sinks/kafka/index.js');",
      "import {\n  d,\n  e,\n} from '../errors/index.js';",
      "import kafkajs from 'kafkajs';",
      "// import { x } from '../config/commented.js';",
    ].join('\n');
    expect(importsOf(code).sort()).toEqual(['../config/schema.js', '../errors/index.js', '../sinks/kafka/index.js', '../sinks/side.js', '../ui/reporter.js', './c.js']);
  });
});
