import type { LogFormat } from '../ui/reporter.js';

/**
 * The log format of this process, known before the configuration is read: an error about the
 * flags themselves (an unknown option, a bad value) must come out in the format asked for, so
 * `--log-format` is looked for in the command line first, then in the environment. The rc file's
 * `logFormat` is looked at only when such an error happens (logFormatFromRc): reading it costs
 * start-up time, and the export reads it anyway.
 */
export function logFormatFromArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): LogFormat | undefined {
  let found: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') break;
    if (a === '--log-format') found = argv[i + 1];
    else if (a.startsWith('--log-format=')) found = a.slice('--log-format='.length);
  }
  return asFormat(found) ?? asFormat(env.NOWPIPE_LOG_FORMAT);
}

/** `logFormat` (or `log-format`) in the rc file the command line names or the search finds; never throws. */
export async function logFormatFromRc(argv: readonly string[], cwd = process.cwd()): Promise<LogFormat | undefined> {
  try {
    const at = argv.findIndex((a) => a === '--config' || a.startsWith('--config='));
    const path = at < 0 ? undefined : argv[at]!.includes('=') ? argv[at]!.slice('--config='.length) : argv[at + 1];
    const { readRcFile, mapRcObject } = await import('../config/load.js');
    const { raw } = await readRcFile(path, cwd);
    return asFormat(mapRcObject(raw, 'rc file').values.logFormat);
  } catch {
    return undefined; // an rc file that cannot be read has its own error, said in the default format
  }
}

function asFormat(value: unknown): LogFormat | undefined {
  const v = typeof value === 'string' ? value.trim().toLowerCase() : undefined;
  return v === 'json' || v === 'human' ? v : undefined;
}
