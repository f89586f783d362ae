// Files through the typed client: `client.files.upload(...)`, `.download(id)`, `.list()`, … (docs/files.md).
import type {
  CreatedUpload,
  CreateUploadRequest,
  FileInfo,
  FilePage,
  FileRef,
  Job,
  ListFilesParams,
} from "@astraeus/contract";
import type { AstraeusClient, CallOptions } from "./client.ts";
import { errorFrom } from "./errors.ts";

/** What an upload reads from: bytes in memory, a Blob, or a stream (read once, never buffered whole). */
export type UploadSource =
  | Uint8Array
  | string
  | Blob
  | ReadableStream<Uint8Array>
  | AsyncIterable<Uint8Array>;

export interface UploadOptions {
  /** The file's name (metadata only). */
  name: string;
  /** Default "application/octet-stream". */
  contentType?: string;
  /** Declared size: the server refuses (422) other bytes. Needed for presigned uploads. */
  size?: number;
  /** Declared SHA-256 (lower-case hex): the server refuses (422) other bytes and keeps nothing. */
  sha256?: string;
  /** Called as bytes go out: bytes sent so far, and the total when known. */
  onProgress?: (sent: number, total: number | undefined) => void;
  signal?: AbortSignal;
}

export interface DownloadOptions {
  /** Bytes `start`..`end`, inclusive (answered 206). */
  range?: { start: number; end?: number };
  /** Stream through the API even where a presigned redirect is possible. Default false. */
  noRedirect?: boolean;
  signal?: AbortSignal;
}

function sizeOf(source: UploadSource): number | undefined {
  if (typeof source === "string") return new TextEncoder().encode(source).length;
  if (source instanceof Uint8Array) return source.byteLength;
  if (source instanceof Blob) return source.size;
  return undefined;
}

async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  // Large buffers go in slices, so progress moves while they are sent.
  for (let i = 0; i < bytes.byteLength; i += 256 * 1024) yield bytes.subarray(i, i + 256 * 1024);
}

/** The source as a stream that reports progress (a stream is read once; bytes in memory are sent as is). */
function withProgress(
  source: UploadSource,
  opts: UploadOptions,
): Uint8Array | string | Blob | ReadableStream<Uint8Array> {
  const total = opts.size ?? sizeOf(source);
  if (!opts.onProgress) {
    if (source instanceof ReadableStream || typeof source === "string" || source instanceof Uint8Array)
      return source;
    if (source instanceof Blob) return source;
  }
  const input: AsyncIterable<Uint8Array> =
    typeof source === "string" || source instanceof Uint8Array
      ? once(typeof source === "string" ? new TextEncoder().encode(source) : source)
      : source instanceof Blob
        ? (source.stream() as unknown as AsyncIterable<Uint8Array>)
        : (source as AsyncIterable<Uint8Array>);
  const it = input[Symbol.asyncIterator]();
  let sent = 0;
  opts.onProgress?.(0, total);
  return new ReadableStream<Uint8Array>({
    async pull(ctrl) {
      const { done, value } = await it.next();
      if (done) {
        ctrl.close();
        return;
      }
      sent += value.byteLength;
      opts.onProgress?.(sent, total);
      ctrl.enqueue(value);
    },
    async cancel(reason) {
      await it.return?.(reason);
    },
  });
}

export class FilesApi {
  constructor(
    private readonly client: AstraeusClient,
    private readonly fetchFn: typeof fetch,
  ) {}

  /** Uploads through the API, streamed: `POST /v1/files`. The file is ready when this resolves. */
  async upload(source: UploadSource, opts: UploadOptions): Promise<FileInfo> {
    const q = new URLSearchParams({ name: opts.name });
    if (opts.size !== undefined) q.set("size", String(opts.size));
    if (opts.sha256 !== undefined) q.set("sha256", opts.sha256);
    const res = await this.client.raw(`/v1/files?${q}`, {
      method: "POST",
      rawBody: withProgress(source, opts),
      contentType: opts.contentType ?? "application/octet-stream",
      timeoutMs: 0,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    return (await res.json()) as FileInfo;
  }

  /** Starts a presigned upload (`POST /v1/files/uploads`): the bytes go to `upload.url`, then `complete`. */
  async createUpload(req: CreateUploadRequest): Promise<CreatedUpload> {
    const res = await this.client.raw("/v1/files/uploads", { method: "POST", body: req });
    return (await res.json()) as CreatedUpload;
  }

  /**
   * Sends the bytes of a started upload: to the presigned URL as it is (no API key), or, when the URL is a
   * path on the API (the local store), through the API with the key.
   */
  async sendUpload(created: CreatedUpload, source: UploadSource, opts: UploadOptions): Promise<void> {
    const body = withProgress(source, { ...opts, size: opts.size ?? created.file.size ?? undefined });
    const { url, headers } = created.upload;
    if (url.startsWith("/")) {
      await this.client.raw(url, {
        method: "PUT",
        rawBody: body,
        contentType: headers["content-type"] ?? "application/octet-stream",
        timeoutMs: 0,
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      return;
    }
    const res = await this.fetchFn(url, {
      method: "PUT",
      headers,
      body,
      ...(body instanceof ReadableStream ? { duplex: "half" } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    } as RequestInit);
    if (!res.ok) throw await errorFrom(res);
    await res.body?.cancel().catch(() => {});
  }

  /** Checks what an upload stored (size, SHA-256) and makes the file ready. */
  async complete(id: string): Promise<FileInfo> {
    const res = await this.client.raw(`/v1/files/${encodeURIComponent(id)}/complete`, {
      method: "POST",
      idempotent: true,
      timeoutMs: 0,
    });
    return (await res.json()) as FileInfo;
  }

  /** A presigned upload from start to ready: createUpload, sendUpload, complete. Needs `size`. */
  async uploadDirect(source: UploadSource, opts: UploadOptions & { size: number }): Promise<FileInfo> {
    const created = await this.createUpload({
      name: opts.name,
      size: opts.size,
      ...(opts.contentType ? { contentType: opts.contentType } : {}),
      ...(opts.sha256 ? { sha256: opts.sha256 } : {}),
    });
    await this.sendUpload(created, source, opts);
    return this.complete(created.file.id);
  }

  get(id: string): Promise<FileInfo> {
    return this.json(`/v1/files/${encodeURIComponent(id)}`);
  }

  list(query: ListFilesParams = {}): Promise<FilePage> {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null) params.set(k, String(v));
    const qs = params.toString();
    return this.json(`/v1/files${qs ? `?${qs}` : ""}`);
  }

  /** Every file matching the filters, page by page. */
  async *listAll(query: Omit<ListFilesParams, "cursor"> = {}): AsyncGenerator<FileInfo> {
    let cursor: string | null | undefined;
    do {
      const page = await this.list({ ...query, ...(cursor ? { cursor } : {}) });
      yield* page.files;
      cursor = page.nextCursor;
    } while (cursor);
  }

  async delete(id: string): Promise<void> {
    const res = await this.client.raw(`/v1/files/${encodeURIComponent(id)}`, { method: "DELETE" });
    await res.body?.cancel().catch(() => {});
  }

  /**
   * The file's bytes as a response to read (`res.body`). A presigned redirect is followed without the API
   * key (a presigned URL carries its own signature), sending the Range again.
   */
  async download(id: string, opts: DownloadOptions = {}): Promise<Response> {
    const headers: Record<string, string> = {};
    if (opts.range) headers.range = `bytes=${opts.range.start}-${opts.range.end ?? ""}`;
    const call: CallOptions = {
      headers,
      redirect: "manual",
      timeoutMs: 0,
      ...(opts.signal ? { signal: opts.signal } : {}),
    };
    const q = opts.noRedirect ? "?redirect=false" : "";
    const res = await this.client.raw(`/v1/files/${encodeURIComponent(id)}/content${q}`, call);
    const location = res.status >= 300 && res.status < 400 ? res.headers.get("location") : null;
    if (location === null) return res;
    await res.body?.cancel().catch(() => {});
    const direct = await this.fetchFn(location, { headers, ...(opts.signal ? { signal: opts.signal } : {}) });
    if (!direct.ok) throw await errorFrom(direct);
    return direct;
  }

  /**
   * A finished job's result, with an oversized one (stored as a file, `{ resultFile }`) read back. Other
   * results come back as they are.
   */
  async resultOf(job: Pick<Job, "result">): Promise<unknown> {
    const r = job.result as { resultFile?: FileRef } | null;
    if (!r || typeof r !== "object" || Array.isArray(r) || !r.resultFile) return job.result;
    const res = await this.download(r.resultFile.id);
    return JSON.parse(await res.text());
  }

  private async json<T>(path: string): Promise<T> {
    const res = await this.client.raw(path);
    return (await res.json()) as T;
  }
}
