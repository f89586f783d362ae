// Errors that more than one file module raises (engine/src/files.ts, engine/src/file-uploads.ts).
import { AppError } from "@astraeus/core";

export function notFound(id: string): AppError {
  return new AppError("not_found", `file ${id} not found`);
}

/** A pending file deleted (or swept as abandoned) while its bytes were on their way. */
export function abandoned(id: string): AppError {
  return new AppError("conflict", `file ${id} was deleted or abandoned while it was being uploaded`, {
    fileId: id,
  });
}
