import { rm } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers/cli.js';

let scratch: string | undefined;
afterEach(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
  scratch = undefined;
});

/** The headings of `--help`, in order. */
const headings = (help: string) => help.split('\n').filter((l) => /^[A-Z].*:$/.test(l));

describe('commands and help (built CLI)', () => {
  it('a misspelt command → exit 2 with a suggestion, not "too many arguments"', async () => {
    const res = await runCli(['chekc']);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/^error: unknown command 'chekc'\n\(Did you mean check\?\)/);
    expect(res.stderr).not.toContain('too many arguments');
    const after = await runCli(['--url', 'https://acme.service-now.com', 'dmeo']);
    expect(after.code).toBe(2);
    expect(after.stderr).toContain('(Did you mean demo?)');
  });

  it('nowpipe help, nowpipe help check, nowpipe help <unknown>', async () => {
    const root = await runCli(['help']);
    expect(root.code).toBe(0);
    expect(root.stdout).toMatch(/^Usage: nowpipe \[options\] \[command\]/);
    const check = await runCli(['help', 'check']);
    expect(check.code).toBe(0);
    expect(check.stdout).toMatch(/^Usage: nowpipe check \[options\]/);
    expect(check.stdout).toContain('--json');
    const unknown = await runCli(['help', 'chekc']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('(Did you mean check?)');
  });

  it('nowpipe with no arguments (no rc file, no SERVICENOW_URL) → a short usage pointing at demo, exit 2', async () => {
    scratch = await tempDir();
    const res = await runCli([], { cwd: scratch });
    expect(res.code).toBe(2);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(/^nowpipe exports a ServiceNow table/);
    expect(res.stderr).toMatch(/^Try it on a built-in simulated instance, no credentials needed:\n {2}nowpipe demo$/m);
    expect(res.stderr).not.toContain('error:');
    expect(res.stderr.split('\n').length).toBeLessThan(12);
  });

  it('with SERVICENOW_URL but no table, the missing setting is reported as before (exit 2)', async () => {
    scratch = await tempDir();
    const res = await runCli([], { cwd: scratch, env: { SERVICENOW_URL: 'https://acme.service-now.com' } });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/table/);
    expect(res.stderr).not.toMatch(/^nowpipe exports/);
  });

  it('--help: the commands first, options under the README headings, then examples and exit codes', async () => {
    const res = await runCli(['--help']);
    expect(res.code).toBe(0);
    expect(headings(res.stdout)).toEqual([
      'Commands:',
      'The instance:',
      'What to read:',
      'Where it goes:',
      'How it runs:',
      'Writing files (--sink file):',
      'Writing to Kafka (--sink kafka):',
      'Sending to a webhook (--sink http):',
      'Running many workers (--state kafka):',
      'Other:',
      'Examples:',
      'Exit codes:',
    ]);
    expect(res.stdout).toContain('\nDocumentation: https://github.com/nowpipe/nowpipe#readme\n');
    expect(res.stdout.trimEnd().split('\n\nExit codes:\n').at(-1)!.split('\n').filter((l) => /^ {2}\d/.test(l)).at(-1)).toMatch(/^ {2}130\/143\/129 /);
    const section = (name: string) => res.stdout.split(`\n${name}\n`)[1]!.split('\n\n')[0]!;
    expect(section('The instance:')).toMatch(/^ {2}--url <url>/);
    expect(section('What to read:')).toContain('--deletes');
    expect(section('How it runs:')).toContain('--config <file>');
    expect(section('Writing files (--sink file):')).toMatch(/^ {2}--output <dir>/);
    expect(section('Writing to Kafka (--sink kafka):')).toMatch(/--skip-oversized\s+with --sink kafka: an alias of --on-bad-row\s+skip/);
    expect(section('Sending to a webhook (--sink http):')).toMatch(/^ {2}--http-url <url>/);
    expect(section('Where it goes:')).toMatch(/--on-bad-row <policy>[\s\S]*--dead-letter <file>/);
    expect(section('Writing to Kafka (--sink kafka):')).toContain('--skip-oversized');
    expect(section('Running many workers (--state kafka):')).toMatch(/^ {2}--state <where>[\s\S]*--exactly-once[\s\S]*--group <name>/);
    expect(section('Exit codes:')).toMatch(/^ {2}0 [\s\S]*\n {2}1 [\s\S]*\n {2}2 [\s\S]*\n {2}130\/143\/129 /);
    expect(section('Examples:')).toContain('nowpipe demo');
  });

  it('demo --help does not offer the flags demo refuses', async () => {
    const res = await runCli(['demo', '--help']);
    expect(res.code).toBe(0);
    expect(res.stdout).not.toMatch(/^ {2}--url|^ {2}--config|^ {2}--password/m);
    expect(res.stdout).toMatch(/^ {2}--rows <n>/m);
  });
});
