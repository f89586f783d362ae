// Uploads and downloads over a real socket: a client that drops mid-upload leaves nothing behind, and a
// 200 MB file goes through the API with the process's memory flat (figures printed for the record).
import { fork } from "node:child_process";
import { createHash } from "node:crypto";
import { readdir } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { connect } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { waitFor } from "@astraeus/db/testing";
import { type ServerType, serve } from "@hono/node-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setupTestApi, type TestApi } from "../test-support.ts";

const MB = 1024 * 1024;
let t: TestApi;
let server: ServerType;
let port: number;

beforeAll(async () => {
  t = await setupTestApi("files_stream", { files: { settings: { maxUploadBytes: 512 * MB } } });
  server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: t.app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s));
  });
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await t?.close();
});

async function rows(): Promise<{ state: string }[]> {
  return t.store.db.query<{ state: string }>("SELECT state::text FROM files WHERE tenant = 'acme'");
}

async function entries(dir: string): Promise<string[]> {
  return readdir(dir, { recursive: true }).catch(() => []);
}

describe("over a real socket", () => {
  it("a client that disconnects mid-upload leaves neither row nor object", async () => {
    const socket = connect(port, "127.0.0.1");
    await new Promise((r) => socket.once("connect", r));
    socket.write(
      "POST /v1/files?name=cut.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
        `Authorization: Bearer ${t.acme}\r\nContent-Type: application/octet-stream\r\n` +
        "Content-Length: 4000000\r\n\r\n",
    );
    socket.write(Buffer.alloc(1_000_000, 7));
    // The upload is under way (its pending row exists) when the client goes.
    await waitFor("the pending row", async () => (await rows()).some((r) => r.state === "pending"));
    socket.destroy();
    await waitFor("the row to go", async () => (await rows()).length === 0, 10_000);
    const root = t.filesRoot as string;
    expect(await entries(join(root, "files", "acme"))).toEqual([]);
    expect(await entries(join(root, ".tmp"))).toEqual([]);
  });

  it("streams a 200 MB upload and download through an API process whose memory stays flat", async () => {
    // The API runs in a child process, so what is measured is the server alone, not this test's client.
    const child = fork(fileURLToPath(new URL("../scripts/files-rss-server.ts", import.meta.url)), [], {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const replies: Record<string, number>[] = [];
    child.on("message", (m) => replies.push(m as Record<string, number>));
    const next = async () => {
      const n = replies.length;
      await waitFor("the API child", () => replies.length > n, 60_000);
      return replies[n] as Record<string, number>;
    };
    try {
      const { port: childPort, key } = (await waitFor(
        "the API child",
        () => replies[0],
        60_000,
      )) as unknown as {
        port: number;
        key: string;
      };
      const size = 200 * MB;
      const chunk = Buffer.alloc(MB);
      for (let i = 0; i < chunk.length; i++) chunk[i] = i % 251;
      const expected = createHash("sha256");
      for (let sent = 0; sent < size; sent += MB) expected.update(chunk);
      const sha256 = expected.digest("hex");

      child.send("rss");
      const baseline = (await next()).now as number;
      let sent = 0;
      const started = Date.now();
      const res = await fetch(`http://127.0.0.1:${childPort}/v1/files?name=big.bin&sha256=${sha256}`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/octet-stream" },
        body: new ReadableStream({
          pull(ctrl) {
            if (sent >= size) return ctrl.close();
            sent += MB;
            ctrl.enqueue(new Uint8Array(chunk));
          },
        }),
        duplex: "half",
      } as RequestInit);
      expect(res.status).toBe(201);
      const file = (await res.json()) as { id: string; size: number; sha256: string };
      expect(file).toMatchObject({ size, sha256 });
      const uploadMs = Date.now() - started;
      child.send("rss");
      const upload = (await next()).peak as number;

      const down = await fetch(`http://127.0.0.1:${childPort}/v1/files/${file.id}/content`, {
        headers: { authorization: `Bearer ${key}` },
      });
      const got = createHash("sha256");
      let received = 0;
      for await (const part of down.body as unknown as AsyncIterable<Uint8Array>) {
        got.update(part);
        received += part.length;
      }
      expect(received).toBe(size);
      expect(got.digest("hex")).toBe(sha256);
      child.send("rss");
      const download = (await next()).peak as number;
      console.log(
        `files: 200 MB through the API process: RSS ${Math.round(baseline / MB)} MB before, ` +
          `peak +${Math.round((upload - baseline) / MB)} MB while uploading (${uploadMs} ms), ` +
          `peak +${Math.round((download - baseline) / MB)} MB while downloading`,
      );
      // Holding the file anywhere would add its 200 MB; streaming costs a bounded few buffers.
      expect(upload - baseline).toBeLessThan(96 * MB);
      expect(download - baseline).toBeLessThan(96 * MB);
    } finally {
      child.send("close");
      await new Promise((r) => child.once("exit", r));
    }
  }, 180_000);
});
