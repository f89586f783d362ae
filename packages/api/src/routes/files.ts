// Files: streamed uploads, two-step (presigned) uploads, metadata, listing, content with Range, delete.
// Upload bodies are streamed into the object store as they arrive, never held whole (see engine/files.ts).
import { Readable } from "node:stream";
import {
  ContentTypeSchema,
  FileContentParams,
  ListFilesParams,
  type Scope,
  UploadFileParams,
} from "@astraeus/contract";
import { AppError, issuesFromZod } from "@astraeus/core";
import type { FileService } from "@astraeus/engine";
import { contentDisposition } from "@astraeus/storage";
import { createRoute, z } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import { jsonBody } from "../http/body.ts";
import type { ApiApp, ApiEnv } from "../http/env.ts";
import { header } from "../http/headers.ts";
import { nextPageLink } from "../http/paging.ts";
import { parseRange } from "../http/range.ts";
import {
  CreatedUploadDoc,
  CreateUploadRequestDoc,
  FileDoc,
  FileIdParamDoc,
  FilePageDoc,
  json,
  oa,
  problems,
  SECURITY,
} from "../openapi.ts";
import { EdgeError } from "../problem.ts";
import type { RouteDeps } from "./deps.ts";
import { decodeCursor, encodeCursor } from "./jobs.ts";

/** 403 unless the key holds one of `scopes` (workers read inputs and write outputs with their own key). */
function requireAnyScope(...scopes: Scope[]): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const held = c.get("principal").scopes;
    if (!scopes.some((s) => held.has(s))) {
      throw new AppError("forbidden", `this API key lacks the "${scopes.join('" or "')}" scope`, {
        requiredScope: scopes.join(" or "),
      });
    }
    await next();
  };
}

function parse<T extends z.ZodType>(schema: T, value: unknown, where: string): z.output<T> {
  const r = schema.safeParse(value);
  if (!r.success) {
    throw new AppError("validation_failed", `the request ${where} is invalid`, {
      issues: issuesFromZod(r.error.issues),
    });
  }
  return r.data;
}

function contentTypeOf(c: Context<ApiEnv>): string {
  const given = header(c, "content-type");
  if (given === undefined || given === "") return "application/octet-stream";
  const r = ContentTypeSchema.safeParse(given);
  if (!r.success) {
    throw new AppError("validation_failed", "the request headers are invalid", {
      issues: [{ path: "content-type", message: "a media type such as text/plain" }],
    });
  }
  return r.data;
}

/** The request body as a Node stream (an absent body is an empty file). */
function bodyStream(c: Context<ApiEnv>): Readable {
  const raw = c.req.raw.body;
  return raw ? Readable.fromWeb(raw as never) : Readable.from([]);
}

const read = requireAnyScope("jobs:read", "worker");
const write = requireAnyScope("jobs:write", "worker");

const BinaryBody = z.string().openapi({ format: "binary", description: "The file's bytes" });

export function fileRoutes(app: ApiApp, deps: RouteDeps): void {
  const files = (): FileService => {
    const f = deps.engine.files;
    if (!f) throw new AppError("unavailable", "files are not configured on this server (FILES_STORE)");
    return f;
  };
  const body = jsonBody(deps.config.bodyLimitBytes);

  app.openAPIRegistry.registerPath(
    createRoute({
      method: "post",
      path: "/v1/files",
      tags: ["files"],
      summary: "Upload a file (the body is the bytes, streamed)",
      description:
        "The body is stored as it arrives and measured on the way: over FILES_MAX_UPLOAD_BYTES is 413, " +
        "a `size` or `sha256` that differs from what arrived is 422, and nothing is kept in either case. " +
        "The request's Content-Type is the file's. HTTP workers store a job's output with `jobId` and `leaseToken`.",
      security: SECURITY,
      request: {
        query: oa(UploadFileParams, {}),
        body: { required: true, content: { "application/octet-stream": { schema: BinaryBody } } },
      },
      responses: {
        201: { ...json(FileDoc, "Stored and ready"), headers: { Location: { schema: { type: "string" } } } },
        ...problems(401, 403, 409, 413, 422, 429, 503),
      },
    }),
  );
  app.post("/v1/files", write, async (c) => {
    const svc = files();
    const q = parse(UploadFileParams, c.req.query(), "query string");
    const limit = svc.settings.maxUploadBytes;
    const declared = header(c, "content-length");
    if (declared !== undefined && Number(declared) > limit) {
      throw new AppError("payload_too_large", `the file exceeds ${limit} bytes`, { limit });
    }
    const tenant = c.get("principal").tenant;
    if (q.jobId !== undefined && !(await svc.repo.jobLeaseHeld(tenant, q.jobId, q.leaseToken ?? ""))) {
      throw new AppError(
        "lease_lost",
        "the lease is no longer held: the job was reclaimed, finished or cancelled",
        {
          lost: [q.jobId],
        },
      );
    }
    const file = await svc.upload(tenant, bodyStream(c), {
      name: q.name ?? "file",
      contentType: contentTypeOf(c),
      expectedSize: q.size,
      expectedSha256: q.sha256,
      jobId: q.jobId,
    });
    return c.json(file, 201, { Location: `/v1/files/${file.id}` });
  });

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/files/uploads",
      tags: ["files"],
      summary: "Start an upload sent elsewhere: a presigned PUT straight to the bucket",
      description:
        "PUT the bytes to `upload.url` with `upload.headers` (a presigned URL on S3; on the local store a path " +
        "on this API, sent with your key), then POST `complete`: the size and SHA-256 are checked and the file " +
        "becomes ready. Until then it is `pending` and cannot be read or attached.",
      security: SECURITY,
      middleware: [write, body] as const,
      request: {
        body: { required: true, content: { "application/json": { schema: CreateUploadRequestDoc } } },
      },
      responses: {
        201: json(CreatedUploadDoc, "The pending file and where to send its bytes"),
        ...problems(400, 401, 403, 413, 415, 422, 429, 503),
      },
    }),
    async (c) => {
      const req = c.req.valid("json");
      const up = await files().createUpload(c.get("principal").tenant, {
        name: req.name,
        contentType: req.contentType ?? "application/octet-stream",
        size: req.size,
        sha256: req.sha256,
      });
      return c.json(
        {
          file: up.file,
          upload: {
            method: up.method,
            url: up.url ?? `/v1/files/${up.file.id}/content`,
            headers: up.headers,
            expiresAt: up.expiresAt,
          },
          complete: `/v1/files/${up.file.id}/complete`,
        },
        201,
      );
    },
  );

  app.openAPIRegistry.registerPath(
    createRoute({
      method: "put",
      path: "/v1/files/{id}/content",
      tags: ["files"],
      summary: "Send the bytes of a started upload through the API",
      description:
        "For uploads started with POST /v1/files/uploads; more bytes than declared is 422, a declared size " +
        "over FILES_MAX_UPLOAD_BYTES 413 (bytes through the API are bounded as POST /v1/files bounds them).",
      security: SECURITY,
      request: {
        params: FileIdParamDoc,
        body: { required: true, content: { "application/octet-stream": { schema: BinaryBody } } },
      },
      responses: {
        204: { description: "Stored; POST complete next" },
        ...problems(401, 403, 404, 409, 413, 422, 429, 503),
      },
    }),
  );
  app.put("/v1/files/:id/content", write, async (c) => {
    const { id } = parse(FileIdParamDoc, c.req.param(), "path");
    await files().writeUpload(c.get("principal").tenant, id, bodyStream(c));
    return c.body(null, 204);
  });

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/files/{id}/complete",
      tags: ["files"],
      summary: "Finish an upload: size and SHA-256 are checked, then the file is ready",
      description:
        "The uploaded bytes are moved from the upload's staging key into the file's own and checked there, " +
        "so a PUT after completion cannot change a ready file. 409 `upload_incomplete` when no bytes arrived, " +
        "`conflict` while another completion of the file runs; 422 `size_mismatch` / `checksum_mismatch` " +
        "when they differ from what was declared (the bytes are deleted; PUT them again while the URL lasts).",
      security: SECURITY,
      middleware: [write] as const,
      request: { params: FileIdParamDoc },
      responses: { 200: json(FileDoc, "The file, ready"), ...problems(401, 403, 404, 409, 422, 429, 503) },
    }),
    async (c) =>
      c.json(await files().completeUpload(c.get("principal").tenant, c.req.valid("param").id), 200),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/files",
      tags: ["files"],
      summary: "List files, newest first",
      description:
        "Keyset pagination like /v1/jobs. `jobId` lists a job's inputs and outputs (`role` narrows). " +
        "`jobId` with `role=input` is 410 `file_missing` (`fileIds` names them) when an input the job was " +
        "submitted with has since been deleted: the job cannot run on what it was given.",
      security: SECURITY,
      middleware: [read] as const,
      request: { query: oa(ListFilesParams, {}) },
      responses: {
        200: json(FilePageDoc, "One page of files"),
        ...problems(401, 403, 410, 422, 429, 503),
      },
    }),
    async (c) => {
      const { cursor, ...filters } = c.req.valid("query");
      const page = await files().list(c.get("principal").tenant, {
        ...filters,
        ...(cursor !== undefined ? { cursor: decodeCursor(cursor) } : {}),
      });
      const nextCursor = page.nextCursor === null ? null : encodeCursor(page.nextCursor);
      const next = nextPageLink("/v1/files", filters, nextCursor);
      if (next !== null) c.header("Link", `<${next}>; rel="next"`);
      return c.json({ files: page.files, nextCursor, next }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/files/{id}",
      tags: ["files"],
      summary: "Get a file's metadata",
      security: SECURITY,
      middleware: [read] as const,
      request: { params: FileIdParamDoc },
      responses: { 200: json(FileDoc, "The file"), ...problems(401, 403, 404, 422, 429, 503) },
    }),
    async (c) => c.json(await files().get(c.get("principal").tenant, c.req.valid("param").id), 200),
  );

  app.openAPIRegistry.registerPath(
    createRoute({
      method: "get",
      path: "/v1/files/{id}/content",
      tags: ["files"],
      summary: "Download a file (Range honoured), or a 302 to a short-lived presigned URL",
      description:
        "On S3 with FILES_DOWNLOAD_REDIRECT the answer is a 302 to a presigned URL (`redirect=false` streams " +
        "through the API instead). A single `Range: bytes=…` gives 206 with Content-Range; one past the end 416.",
      security: SECURITY,
      request: { params: FileIdParamDoc, query: oa(FileContentParams, {}) },
      responses: {
        200: { description: "The bytes", content: { "application/octet-stream": { schema: BinaryBody } } },
        206: {
          description: "The requested range",
          content: { "application/octet-stream": { schema: BinaryBody } },
        },
        302: { description: "Download from the presigned URL in Location" },
        ...problems(401, 403, 404, 409, 416, 422, 429, 503),
      },
    }),
  );
  app.get("/v1/files/:id/content", read, async (c) => {
    const svc = files();
    const { id } = parse(FileIdParamDoc, c.req.param(), "path");
    const q = parse(FileContentParams, c.req.query(), "query string");
    const tenant = c.get("principal").tenant;
    if (q.redirect !== "false") {
      const presigned = await svc.downloadUrl(tenant, id);
      if (presigned) return c.body(null, 302, { Location: presigned.url, "Cache-Control": "no-store" });
    }
    const meta = await svc.get(tenant, id);
    const size = meta.size ?? 0;
    const range = meta.state === "ready" ? parseRange(header(c, "range"), size) : { kind: "whole" as const };
    if (range.kind === "unsatisfiable") {
      c.header("Content-Range", `bytes */${size}`);
      throw new EdgeError("range_not_satisfiable", `the range is outside the file's ${size} bytes`);
    }
    const { file, body: stream } = await svc.open(tenant, id, range.kind === "range" ? range : undefined);
    const headers: Record<string, string> = {
      "Content-Type": file.contentType,
      "Content-Disposition": contentDisposition(file.name),
      "Accept-Ranges": "bytes",
      ETag: `"${file.sha256}"`,
      "Cache-Control": "private, no-store",
    };
    let status = 200;
    if (range.kind === "range") {
      status = 206;
      headers["Content-Range"] = `bytes ${range.start}-${range.end}/${size}`;
      headers["Content-Length"] = String(range.end - range.start + 1);
    } else {
      headers["Content-Length"] = String(size);
    }
    if (c.req.method === "HEAD") {
      // Hono answers HEAD with this handler and drops the body unread: the object's descriptor (or the
      // store's pooled connection, on S3) would stay held, so it is released here.
      stream.destroy();
      return new Response(null, { status, headers });
    }
    return new Response(Readable.toWeb(stream) as ReadableStream, { status, headers });
  });

  app.openapi(
    createRoute({
      method: "delete",
      path: "/v1/files/{id}",
      tags: ["files"],
      summary: "Delete a file (row and bytes)",
      description: "409 while a queued or running job has it as an input (`jobIds` names them).",
      security: SECURITY,
      middleware: [requireAnyScope("jobs:write")] as const,
      request: { params: FileIdParamDoc },
      responses: { 204: { description: "Deleted" }, ...problems(401, 403, 404, 409, 422, 429, 503) },
    }),
    async (c) => {
      await files().delete(c.get("principal").tenant, c.req.valid("param").id);
      return c.body(null, 204);
    },
  );
}
