// Turns a failure to read a source's file into a SourceError that names the file and says what to check.

import { SourceError, SourceErrorCode } from "../errors.ts";

/**
 * The error to throw for `error`, met while reading the file at `path` (`what` names its kind, e.g.
 * "replay file"). A file-system failure (an error with a syscall and a code such as ENOENT or EACCES)
 * becomes PULSE_SOURCE_FILE_UNREADABLE; anything else is a bug and is returned as it is.
 */
export function sourceFileError(error: unknown, what: string, path: string): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  if (typeof code !== "string" || !(error instanceof Error) || !("syscall" in error)) return error;
  return new SourceError(
    SourceErrorCode.fileUnreadable,
    `cannot read ${what} ${path} (${code}); check the path and that the file is readable`,
    { cause: error, details: { path }, location: { file: path } },
  );
}
