// Bundles the CLI into dist/cli/ (after tsc has emitted dist/ file by file): one file for the
// entry and its eager imports, chunks for what loads on demand (commands, sinks, the simulator),
// and the Kafka producer's worker as an entry of its own beside them (it is started by URL).
// Why: loading ~150 small modules, each resolved, read and compiled apart, was most of
// nowpipe's start-up (Node 20 keeps no compile cache); see BENCHMARKS.md, "Start-up".
// kafkajs stays in node_modules: kafkajs-speedups.ts patches its modules there by path.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const out = resolve(root, 'dist/cli');
// tsc's per-file output of src/cli is replaced by the bundle; the rest of dist/ stays (tests,
// benchmarks and the simulator's standalone entry import those files).
rmSync(out, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: { main: 'src/cli/main.ts', 'producer-worker': 'src/kafka/producer-worker.ts' },
  outdir: out,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // ESM builds first: jsonc-parser's UMD build requires its own files by computed paths.
  mainFields: ['module', 'main'],
  chunkNames: 'chunk-[hash]',
  external: ['kafkajs', 'typescript'],
  // CommonJS dependencies call require(): give the ESM bundle one.
  banner: { js: "import { createRequire as __nowpipeRequire } from 'node:module'; const require = __nowpipeRequire(import.meta.url);" },
  legalComments: 'none',
  logLevel: 'warning',
});
