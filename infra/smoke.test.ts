import { once } from "node:events";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { SEED_JOB, smoke } from "./smoke.ts";

interface FakeApi {
  url: string;
  server: Server;
  submitted: unknown[];
  auth: string[];
}

async function body(req: IncomingMessage): Promise<string> {
  let s = "";
  for await (const c of req) s += String(c);
  return s;
}

/** A loopback stand-in for the deployed API: health flaps, then the job walks to `final`. */
async function fakeApi(opts: { unhealthyFirst: number; states: string[] }): Promise<FakeApi> {
  const submitted: unknown[] = [];
  const auth: string[] = [];
  let health = 0;
  let polls = 0;
  const server = createServer(async (req, res) => {
    const send = (status: number, payload: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(payload));
    };
    if (req.url === "/health") return send(health++ < opts.unhealthyFirst ? 503 : 200, { ok: true });
    auth.push(String(req.headers.authorization));
    if (req.method === "POST" && req.url === "/v1/jobs") {
      submitted.push(JSON.parse(await body(req)));
      return send(201, { id: "job-1", state: "queued" });
    }
    if (req.method === "GET" && req.url === "/v1/jobs/job-1") {
      const state = opts.states[Math.min(polls++, opts.states.length - 1)];
      return send(200, { id: "job-1", state, error: state === "dead" ? { message: "boom" } : null });
    }
    send(404, {});
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, server, submitted, auth };
}

describe("post-deploy smoke test", () => {
  let api: FakeApi | undefined;
  afterEach(() => {
    api?.server.closeAllConnections();
    api?.server.close();
  });

  it("waits for /health, submits the seed job with the bearer key and waits for succeeded", async () => {
    api = await fakeApi({ unhealthyFirst: 2, states: ["queued", "running", "succeeded"] });
    const lines: string[] = [];
    const r = await smoke({ baseUrl: `${api.url}/`, apiKey: "k-123", pollMs: 5, log: (l) => lines.push(l) });
    expect(r.jobId).toBe("job-1");
    expect(api.submitted).toEqual([SEED_JOB]);
    expect(api.submitted).toEqual([{ payload: { text: "asynchronous cloud workload" } }]);
    expect(new Set(api.auth)).toEqual(new Set(["Bearer k-123"]));
    expect(lines).toEqual([
      "health: ok",
      "submitted: job-1",
      "state: queued",
      "state: running",
      "state: succeeded",
    ]);
  });

  it("fails when the job dies", async () => {
    api = await fakeApi({ unhealthyFirst: 0, states: ["running", "dead"] });
    await expect(smoke({ baseUrl: api.url, apiKey: "k", pollMs: 5, log: () => {} })).rejects.toThrow(
      /ended dead.*boom/,
    );
  });

  it("fails at the deadline when the API never becomes healthy", async () => {
    api = await fakeApi({ unhealthyFirst: 1_000, states: [] });
    await expect(
      smoke({ baseUrl: api.url, apiKey: "k", pollMs: 5, timeoutMs: 100, log: () => {} }),
    ).rejects.toThrow(/health never succeeded.*503/);
  });
});
