import { defineConfig } from 'vitest/config';

// Three projects, so each part of the suite starts only what it needs:
// - unit: pure logic, the pipeline's in-memory harness, the reader against a local HTTP
//   simulator. Starts nothing else; runs in seconds (`npx vitest run --project unit`).
// - e2e: the built CLI against the simulator, real files and local servers.
// - kafka: the Kafka sink against a real broker, started once by the global setup.
// `npm test` runs all three (CI too).
const shared = {
  testTimeout: 60_000,
  hookTimeout: 60_000,
};

export default defineConfig({
  test: {
    // End-to-end tests spawn the CLI and a simulator; two cores, so keep parallelism modest.
    maxWorkers: 2,
    reporters: ['default'],
    projects: [
      { test: { ...shared, name: 'unit', include: ['test/unit/**/*.test.ts', 'test/pipeline/**/*.test.ts', 'test/reader/**/*.test.ts'] } },
      { test: { ...shared, name: 'e2e', include: ['test/e2e/**/*.test.ts', 'test/file/**/*.test.ts'] } },
      { test: { ...shared, name: 'kafka', include: ['test/kafka/**/*.test.ts'], globalSetup: ['test/global-setup.ts'] } },
    ],
  },
});
