// `node --import ./record-modules.mjs …`: writes every module the process loaded (URL, or path for
// CommonJS) to the file RECORD_MODULES_TO names when it exits. The tracing-off test looks for the SDK.
import { writeFileSync } from "node:fs";
import { createRequire, register } from "node:module";
import { MessageChannel } from "node:worker_threads";

const seen = new Set();
const { port1, port2 } = new MessageChannel();
port1.on("message", (url) => seen.add(url));
port1.unref();
register("./record-modules-hooks.mjs", {
  parentURL: import.meta.url,
  data: { port: port2 },
  transferList: [port2],
});
process.on("exit", () => {
  // CommonJS modules loaded by require() do not pass the ESM hooks: their cache lists them.
  for (const file of Object.keys(createRequire(import.meta.url).cache)) seen.add(file);
  writeFileSync(process.env.RECORD_MODULES_TO ?? "modules.txt", [...seen].join("\n"));
});
