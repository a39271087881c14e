import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors/index.js';

const base = { url: 'https://acme.service-now.com', table: 'incident' };

function problems(flags: Record<string, unknown>): string {
  try {
    resolveConfig({ flags: { ...base, ...flags } });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('file sink settings', () => {
  it('has data-lake defaults', () => {
    const { config } = resolveConfig({ flags: { ...base, sink: 'file', output: '/data' } });
    expect(config).toMatchObject({ output: '/data', compress: 'none', fileMaxRows: 1_000_000, fileMaxBytes: 128 * 1024 * 1024, fileMaxAge: 300 });
  });

  it('takes the flags as strings, as the command line gives them', () => {
    const { config } = resolveConfig({ flags: { ...base, sink: 'file', output: 'out', fileMaxRows: '500', fileMaxBytes: '65536', fileMaxAge: '30', compress: 'gzip' } });
    expect(config).toMatchObject({ fileMaxRows: 500, fileMaxBytes: 65536, fileMaxAge: 30, compress: 'gzip' });
  });

  it('needs --output with --sink file', () => {
    expect(problems({ sink: 'file' })).toContain('--output: required with --sink file: the folder to write the files to (--output <dir>)');
  });

  it('reports every bad limit at once', () => {
    const msg = problems({ sink: 'file', output: 'out', fileMaxRows: '0', fileMaxBytes: '10', fileMaxAge: '0', compress: 'zip' });
    for (const flag of ['--file-max-rows', '--file-max-bytes', '--file-max-age', '--compress']) expect(msg).toContain(`${flag}:`);
  });
});
