#!/usr/bin/env node
// Runs the built entry. A clone that was never built gets a line saying so, not a stack trace.
import('../dist/cli/main.js').catch((err) => {
  if (err?.code !== 'ERR_MODULE_NOT_FOUND') throw err;
  const missing = /Cannot find package/.test(err.message) ? 'its dependencies are not installed' : 'it is not built';
  process.stderr.write(`error: nowpipe cannot start: ${missing}\nhint: in a clone, run: npm install && npm run build\n`);
  process.exitCode = 1;
});
