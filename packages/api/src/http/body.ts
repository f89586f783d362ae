// Reads a JSON request body once, enforcing the size limit and rejecting text Postgres cannot store,
// before the route's schema validation parses it (the parsed text is handed over through Hono's body cache).
import { AppError, findUnstorableText } from "@astraeus/core";
import type { Context, MiddlewareHandler } from "hono";
import { EdgeError } from "../problem.ts";
import type { ApiEnv } from "./env.ts";
import { header } from "./headers.ts";

/** Deepest nesting accepted (Postgres jsonb and recursive validators have stack limits well above it). */
export const MAX_JSON_DEPTH = 64;

const JSON_MEDIA_RE = /^application\/([\w.-]+\+)?json$/i;

// Postgres jsonb and text reject NUL and unpaired UTF-16 surrogates (a 500 if they got that far). Raw
// lone surrogates cannot survive UTF-8 decoding, so only their \u escapes and escaped NULs need a look.
const SUSPECT_RE = /\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})/;

function tooLarge(limit: number): AppError {
  return new AppError("payload_too_large", `the request body exceeds ${limit} bytes`, { limit });
}

async function readLimited(c: Context, limit: number): Promise<string> {
  const declared = header(c, "content-length");
  if (declared !== undefined) {
    const n = Number(declared);
    if (!Number.isSafeInteger(n) || n < 0) throw new EdgeError("bad_request", "invalid Content-Length");
    if (n > limit) throw tooLarge(limit);
    return decodeUtf8(new Uint8Array(await c.req.raw.arrayBuffer()));
  }
  // Chunked: count while reading so an endless body cannot exhaust memory.
  const body = c.req.raw.body;
  if (!body) return "";
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  return decodeUtf8(Buffer.concat(chunks));
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Invalid UTF-8 is a 400: a lenient decoder would store U+FFFD in its place without a word. */
function decodeUtf8(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new EdgeError("malformed_json", "the request body is not valid UTF-8");
  }
}

/** Deepest nesting of arrays and objects in JSON text (strings skipped); stops counting past `limit`. */
export function jsonDepthExceeds(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 92 /* \ */) i++;
      else if (ch === 34 /* " */) inString = false;
    } else if (ch === 34) inString = true;
    else if (ch === 123 /* { */ || ch === 91 /* [ */) {
      if (++depth > limit) return true;
    } else if (ch === 125 || ch === 93) depth--;
  }
  return false;
}

/**
 * Route middleware for JSON bodies: 415 for another media type, 413 above `limit` bytes, 400 for
 * malformed JSON, 422 for nesting deeper than MAX_JSON_DEPTH or NUL / lone surrogates anywhere.
 */
export function jsonBody(limit: number): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const type = header(c, "content-type");
    const media = type?.split(";")[0]?.trim() ?? "";
    if (!JSON_MEDIA_RE.test(media)) {
      throw new EdgeError("unsupported_media_type", "send the body as application/json");
    }
    const text = await readLimited(c, limit);
    // Depth first: a body of a million '[' costs JSON.parse a noticeable share of a second and this scan
    // almost nothing, so an over-deep body is refused (422) before it is parsed, even if it is also
    // malformed further on.
    if (jsonDepthExceeds(text, MAX_JSON_DEPTH)) {
      throw new AppError("validation_failed", `JSON nests deeper than ${MAX_JSON_DEPTH} levels`, {
        issues: [{ path: "", message: `nesting deeper than ${MAX_JSON_DEPTH} levels` }],
      });
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new EdgeError("malformed_json", "the request body is not valid JSON");
    }
    if (SUSPECT_RE.test(text)) {
      const path = findUnstorableText(parsed);
      if (path !== null) {
        throw new AppError("validation_failed", "text must not contain NUL or unpaired surrogates", {
          issues: [{ path, message: "contains NUL (\\u0000) or an unpaired UTF-16 surrogate" }],
        });
      }
    }
    c.set("body", parsed);
    // Routes validated by @hono/zod-openapi read the body again through c.req.json(), from this cache.
    // (Hono's types call the cache entry a string; at run time it holds the promise its readers await.)
    (c.req.bodyCache as { text?: Promise<string> }).text = Promise.resolve(text);
    await next();
  };
}
