import { describe, expect, it } from "vitest";
import { AppError, ERROR_CODES, isAppError, UnrecoverableError } from "./errors.ts";

describe("AppError", () => {
  it("maps each code to its HTTP status", () => {
    expect(new AppError("validation_failed", "x").status).toBe(422);
    expect(new AppError("payload_too_large", "x").status).toBe(413);
    expect(new AppError("not_found", "x").status).toBe(404);
    expect(new AppError("idempotency_conflict", "x").status).toBe(409);
    for (const [code, status] of Object.entries(ERROR_CODES)) {
      expect(new AppError(code as keyof typeof ERROR_CODES, "x").status).toBe(status);
    }
  });

  it("carries its issues and is recognised by isAppError, optionally by code", () => {
    const err = new AppError("validation_failed", "bad", { issues: [{ path: "queue", message: "no" }] });
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe("AppError");
    expect(err.details.issues).toEqual([{ path: "queue", message: "no" }]);
    expect(isAppError(err)).toBe(true);
    expect(isAppError(err, "validation_failed")).toBe(true);
    expect(isAppError(err, "not_found")).toBe(false);
    expect(isAppError(new Error("plain"))).toBe(false);
    expect(isAppError(new UnrecoverableError("stop"))).toBe(false);
  });
});
