// A test API with files on, in a process of its own, so its memory can be measured apart from the client
// (files-stream.pg.test.ts forks it). Over IPC it sends { port, key } once listening, answers "rss" with
// { baseline, peak, now } in bytes (peak since the previous "rss"), and "close" cleans up and exits.
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { setupTestApi } from "../test-support.ts";

const t = await setupTestApi("files_rss", { files: { settings: { maxUploadBytes: 512 * 1024 * 1024 } } });
let peak = process.memoryUsage().rss;
const sampler = setInterval(() => {
  peak = Math.max(peak, process.memoryUsage().rss);
}, 5);
const server = serve({ fetch: t.app.fetch, port: 0, hostname: "127.0.0.1" }, (info: AddressInfo) => {
  process.send?.({ port: info.port, key: t.acme });
});
process.on("message", async (msg) => {
  if (msg === "rss") {
    const now = process.memoryUsage().rss;
    process.send?.({ peak: Math.max(peak, now), now });
    peak = now;
  } else if (msg === "close") {
    clearInterval(sampler);
    server.close();
    await t.close();
    process.exit(0);
  }
});
