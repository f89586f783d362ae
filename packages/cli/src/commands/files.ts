// files put|get|ls|rm, and the uploads behind `submit --attach`: streamed both ways, with a progress bar on
// a terminal (docs/files.md).
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { rm, stat } from "node:fs/promises";
import { basename } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { FileInfo } from "@astraeus/client";
import { Option } from "commander";
import { type CommandModule, integer } from "../command.ts";
import { type Ctx, emit, emitLine } from "../context.ts";
import { ago, fields, StatusLine, table } from "../format.ts";
import { EXIT, UsageError } from "../io.ts";

const UNITS = ["B", "kB", "MB", "GB", "TB"];

/** 1234567 → "1.2 MB" (powers of 1000, as download tools print them). */
export function bytes(n: number): string {
  let v = n;
  let u = 0;
  while (v >= 1000 && u < UNITS.length - 1) {
    v /= 1000;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${UNITS[u]}`;
}

/** `[#####.....] 12.0 MB/200.0 MB 6%  45.3 MB/s`, or without a total `12.0 MB  45.3 MB/s`. */
export function transferBar(done: number, total: number | undefined, perSec: number, width = 30): string {
  const rate = `${bytes(Math.round(perSec))}/s`;
  if (total === undefined || total === 0) return `${bytes(done)}  ${rate}`;
  const frac = Math.min(1, done / total);
  const filled = Math.round(frac * width);
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${bytes(done)}/${bytes(total)} ${Math.floor(frac * 100)}%  ${rate}`;
}

/** Progress of one transfer on stderr: redrawn in place on a terminal (at most 10 times a second), else silent. */
function progress(ctx: Ctx, label: string): { update(done: number, total?: number): void; end(): void } {
  if (!ctx.io.interactive || ctx.json) return { update() {}, end() {} };
  const line = new StatusLine((s) => ctx.io.stderr.write(s));
  const started = Date.now();
  let last = 0;
  let done = 0;
  let total: number | undefined;
  const draw = () => {
    const secs = Math.max(0.001, (Date.now() - started) / 1000);
    return `${label} ${transferBar(done, total, done / secs)}`;
  };
  return {
    update(d, t) {
      done = d;
      total = t ?? total;
      if (Date.now() - last < 100) return;
      last = Date.now();
      line.draw(draw());
    },
    end() {
      line.end(draw());
    },
  };
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

export interface PutOptions {
  name?: string;
  contentType?: string;
  /** Send the bytes straight to the store (a presigned upload) instead of through the API. */
  direct?: boolean;
}

/**
 * Uploads the file at `path`, streamed from disk, and checks the server measured what was read (the
 * SHA-256 is computed on the way, or, for a direct upload, declared first).
 */
export async function putFile(ctx: Ctx, path: string, o: PutOptions = {}): Promise<FileInfo> {
  let size: number;
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new UsageError(`${path} is not a file`);
    size = s.size;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`cannot read ${path}: ${(err as Error).message}`);
  }
  const name = o.name ?? basename(path);
  const bar = progress(ctx, `↑ ${name}`);
  const common = {
    name,
    size,
    ...(o.contentType ? { contentType: o.contentType } : {}),
    onProgress: (sent: number, total: number | undefined) => bar.update(sent, total),
  };
  let file: FileInfo;
  try {
    if (o.direct) {
      file = await ctx.client.files.uploadDirect(createReadStream(path), {
        ...common,
        sha256: await sha256Of(path),
      });
    } else {
      const hash = createHash("sha256");
      const tap = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          hash.update(chunk);
          cb(null, chunk);
        },
      });
      file = await ctx.client.files.upload(createReadStream(path).pipe(tap), common);
      const local = hash.digest("hex");
      if (file.sha256 !== local) {
        throw new Error(`the server stored ${file.sha256} but ${path} hashes to ${local}; upload it again`);
      }
    }
  } finally {
    bar.end();
  }
  return file;
}

function fileFields(f: FileInfo): string {
  return fields([
    ["id", f.id],
    ["name", f.name],
    ["type", f.contentType],
    ["state", f.state],
    ["size", f.size === null ? null : `${bytes(f.size)} (${f.size} bytes)`],
    ["sha256", f.sha256],
    ["job", f.jobId],
    ["created", `${f.createdAt} (${ago(f.createdAt)})`],
    ["expires", `${f.expiresAt} (${ago(f.expiresAt)})`],
  ]);
}

const HEADERS = ["NAME", "SIZE", "TYPE", "STATE", "CREATED", "ID"];
const row = (f: FileInfo) => [
  f.name,
  f.size === null ? "-" : bytes(f.size),
  f.contentType,
  f.state,
  ago(f.createdAt),
  f.id,
];

export const fileCommands: CommandModule = (program, cli) => {
  const files = program
    .command("files")
    .summary("job input and output files: put, get, ls, rm")
    .description(
      "files in object storage that jobs read (submit --attach, or the submission's files) and write (their outputs); see docs/files.md",
    );

  files
    .command("put")
    .description("upload files (streamed, with a progress bar on a terminal); prints their ids")
    .argument("<paths...>", "files to upload")
    .option("--name <name>", "the stored name (default: the file's base name; one path only)")
    .option("--content-type <type>", "media type (default application/octet-stream)")
    .option(
      "--direct",
      "send the bytes straight to the bucket (a presigned upload) instead of through the API",
    )
    .action(
      cli.action<PutOptions>(async (ctx, { args, opts }) => {
        // A variadic argument arrives as one array.
        const paths = args.flat();
        if (opts.name !== undefined && paths.length > 1) throw new UsageError("--name goes with one path");
        const stored: FileInfo[] = [];
        for (const path of paths) {
          const f = await putFile(ctx, path, opts);
          stored.push(f);
          if (ctx.json) continue;
          ctx.io.stdout.write(`${f.id}  ${f.name}  ${bytes(f.size ?? 0)}  sha256 ${f.sha256}\n`);
        }
        if (ctx.json) emit(ctx, "", stored.length === 1 ? stored[0] : stored);
        return EXIT.ok;
      }),
    );

  files
    .command("get")
    .description("download a file (streamed, with a progress bar on a terminal)")
    .argument("<id>", "file id")
    .option("-o, --output <path>", "where to write it; - for stdout (default: its name, in this folder)")
    .option("--info", "print its metadata instead of downloading it")
    .action(
      cli.action<{ output?: string; info?: boolean }>(async (ctx, { args: [id], opts }) => {
        const file = await ctx.client.files.get(id ?? "");
        if (opts.info) {
          emit(ctx, fileFields(file), file);
          return EXIT.ok;
        }
        const res = await ctx.client.files.download(file.id);
        if (!res.body) throw new Error("the download has no body");
        const total = Number(res.headers.get("content-length") ?? file.size ?? 0) || undefined;
        const bar = progress(ctx, `↓ ${file.name}`);
        let done = 0;
        const hash = createHash("sha256");
        const count = new Transform({
          transform(chunk: Buffer, _enc, cb) {
            done += chunk.length;
            hash.update(chunk);
            bar.update(done, total);
            cb(null, chunk);
          },
        });
        const path = opts.output === "-" ? null : (opts.output ?? basename(file.name));
        const source = Readable.fromWeb(res.body as never);
        try {
          if (path === null) {
            source.once("error", (err) => count.destroy(err));
            for await (const chunk of source.pipe(count)) ctx.io.stdout.write(chunk as unknown as string);
          } else {
            await pipeline(source, count, createWriteStream(path, { flags: "wx" }));
          }
        } catch (err) {
          // Never leave half a file that looks like the whole one.
          if (path !== null && (err as { code?: string }).code !== "EEXIST") await rm(path, { force: true });
          if ((err as { code?: string }).code === "EEXIST") throw new UsageError(`${path} exists; pass -o`);
          throw err;
        } finally {
          bar.end();
        }
        const got = hash.digest("hex");
        if (got !== file.sha256) {
          if (path !== null) await rm(path, { force: true });
          throw new Error(`downloaded bytes hash to ${got}, not the file's ${file.sha256}`);
        }
        if (path !== null) {
          const summary = { ...file, path };
          emit(ctx, `${path}  ${bytes(done)}  sha256 ${got}\n`, summary);
        }
        return EXIT.ok;
      }),
    );

  files
    .command("ls")
    .description("list files, newest first")
    .option("--job <id>", "only the files of this job (its inputs and outputs)")
    .addOption(new Option("--role <role>", "with --job: inputs or outputs only").choices(["input", "output"]))
    .option("--limit <n>", "files per page, 1..500 (default 50)", integer(1, 500))
    .addOption(new Option("--all", "every page (NDJSON with --json)").conflicts("limit"))
    .action(
      cli.action<{ job?: string; role?: "input" | "output"; limit?: number; all?: boolean }>(
        async (ctx, { opts }) => {
          if (opts.role !== undefined && opts.job === undefined)
            throw new UsageError("--role goes with --job");
          const query = {
            ...(opts.job !== undefined ? { jobId: opts.job } : {}),
            ...(opts.role !== undefined ? { role: opts.role } : {}),
          };
          if (opts.all) {
            const all: FileInfo[] = [];
            for await (const f of ctx.client.files.listAll(query)) {
              if (ctx.json) emitLine(ctx, f);
              else all.push(f);
            }
            if (!ctx.json) ctx.io.stdout.write(table(HEADERS, all.map(row)));
            return EXIT.ok;
          }
          const page = await ctx.client.files.list({
            ...query,
            ...(opts.limit !== undefined ? { limit: opts.limit } : {}),
          });
          const more = page.nextCursor ? "more: astraeus files ls --all\n" : "";
          emit(ctx, table(HEADERS, page.files.map(row)) + more, page.files);
          return EXIT.ok;
        },
      ),
    );

  files
    .command("rm")
    .description("delete files (refused while a queued or running job reads one)")
    .argument("<ids...>", "file ids")
    .action(
      cli.action(async (ctx, { args }) => {
        const ids = args.flat();
        for (const id of ids) {
          await ctx.client.files.delete(id);
          if (!ctx.json) ctx.io.stdout.write(`deleted ${id}\n`);
        }
        if (ctx.json) emit(ctx, "", { deleted: ids });
        return EXIT.ok;
      }),
    );
};
