import { expect } from 'vitest';
import { ConfigError } from '../../src/errors/index.js';

/** The problems of the ConfigError that `fn` throws; fails the test when it throws none or another error. */
export function configProblems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}
