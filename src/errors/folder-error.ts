import { NowpipeError } from './nowpipe-error.js';

/** A folder could not be created; `reason` says why in words (and names the level that failed). */
export class FolderError extends NowpipeError {
  override readonly name = 'FolderError';
  readonly exitCode = 1 as const;
  readonly retriable = false;

  constructor(
    /** The folder that was asked for. */
    readonly path: string,
    readonly reason: string,
    /** The errno code behind it (EROFS, EACCES, ENOTDIR…), when there is one. */
    readonly code: string | undefined,
    options?: { cause?: unknown; hint?: string },
  ) {
    super(`cannot create the folder ${path}: ${reason}`, options);
  }
}
