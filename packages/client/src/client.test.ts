// The client against a small real HTTP server on 127.0.0.1 that answers from a script per test.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createClient } from "./client.ts";
import { ApiError, WaitTimeoutError } from "./errors.ts";
import { parseSse } from "./sse.ts";

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;
let handlers: Handler[] = [];
let seen: { method: string; url: string; headers: IncomingMessage["headers"]; body: string; at: number }[] =
  [];
let server: Server;
let url: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => {
      body += c.toString();
    });
    req.on("end", () => {
      seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body, at: Date.now() });
      const h = handlers.shift();
      if (h) h(req, res, body);
      else {
        res.writeHead(500).end("no handler");
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});
beforeEach(() => {
  handlers = [];
  seen = [];
});

const JOB = {
  id: "01900000-0000-7000-8000-000000000001",
  tenant: "t",
  queue: "default",
  type: "echo",
  payload: 1,
  priority: 0,
  state: "queued",
  attempt: 0,
  maxAttempts: 3,
  runAt: "2026-01-01T00:00:00.000Z",
  timeoutMs: 1000,
  idempotencyKey: null,
  cancelRequested: false,
  workerId: null,
  leaseExpiresAt: null,
  result: null,
  lastError: null,
  createdAt: "2026-01-01T00:00:00.000Z",
  startedAt: null,
  finishedAt: null,
  updatedAt: "2026-01-01T00:00:00.000Z",
};

const json =
  (status: number, body: unknown, headers: Record<string, string> = {}): Handler =>
  (_req, res) => {
    res.writeHead(status, {
      "content-type": status >= 400 ? "application/problem+json" : "application/json",
      ...headers,
    });
    res.end(JSON.stringify(body));
  };
const problem = (status: number, code: string, headers: Record<string, string> = {}) =>
  json(
    status,
    { type: "about:blank", title: code, status, detail: `a ${code}`, code, requestId: "req-1" },
    headers,
  );

const fast = { retries: 3, baseMs: 1, maxMs: 5 };

describe("requests", () => {
  it("sends the key as a bearer token and JSON bodies", async () => {
    handlers.push(json(201, JOB));
    const c = createClient({ url: `${url}/`, apiKey: "ast_k" });
    const r = await c.submit({ payload: 1 }, { idempotencyKey: "k1" });
    expect(r).toEqual({ job: JOB, replayed: false });
    expect(seen[0]).toMatchObject({ method: "POST", url: "/v1/jobs", body: '{"payload":1}' });
    expect(seen[0]?.headers.authorization).toBe("Bearer ast_k");
    expect(seen[0]?.headers["content-type"]).toBe("application/json");
    expect(seen[0]?.headers["idempotency-key"]).toBe("k1");
  });

  it("calls every webhook route with its method, path and body, and pages through endpoints", async () => {
    const id = "01900000-0000-7000-8000-00000000000a";
    const d = "01900000-0000-7000-8000-00000000000d";
    const c = createClient({ url, apiKey: "ast_k", retry: fast });
    const answer = { id };
    handlers.push(
      json(201, { ...answer, secret: "whsec_x" }),
      json(200, { webhooks: [answer], nextCursor: "c1", next: "/v1/webhooks?cursor=c1" }),
      json(200, { webhooks: [{ id: "second" }], nextCursor: null, next: null }),
      ...Array.from({ length: 8 }, () => json(200, answer)),
    );
    expect(await c.webhooks.create({ url: "https://h.example/in", events: ["*"] })).toMatchObject({
      secret: "whsec_x",
    });
    const all: string[] = [];
    for await (const w of c.webhooks.listAll()) all.push(w.id);
    expect(all).toEqual([id, "second"]);
    await c.webhooks.get(id);
    await c.webhooks.update(id, { enabled: true });
    await c.webhooks.rotateSecret(id, { overlapSeconds: 60 });
    await c.webhooks.test(id);
    await c.webhooks.deliveries(id, { status: "failed", limit: 10 });
    await c.webhooks.delivery(id, d);
    await c.webhooks.redeliver(id, d);
    await c.webhooks.delete(id);
    expect(seen.map((r) => `${r.method} ${r.url} ${r.body}`)).toEqual([
      'POST /v1/webhooks {"url":"https://h.example/in","events":["*"]}',
      "GET /v1/webhooks ",
      "GET /v1/webhooks?cursor=c1 ",
      `GET /v1/webhooks/${id} `,
      `PATCH /v1/webhooks/${id} {"enabled":true}`,
      `POST /v1/webhooks/${id}/rotate-secret {"overlapSeconds":60}`,
      `POST /v1/webhooks/${id}/test `,
      `GET /v1/webhooks/${id}/deliveries?status=failed&limit=10 `,
      `GET /v1/webhooks/${id}/deliveries/${d} `,
      `POST /v1/webhooks/${id}/deliveries/${d}/redeliver `,
      `DELETE /v1/webhooks/${id} `,
    ]);
  });

  it("reports a replay from the Idempotent-Replayed header", async () => {
    handlers.push(json(200, JOB, { "idempotent-replayed": "true" }));
    expect((await createClient({ url }).submit({ payload: 1 }, { idempotencyKey: "k" })).replayed).toBe(true);
  });

  it("throws ApiError with the problem's code, issues and request id", async () => {
    handlers.push(
      json(422, {
        type: "x",
        title: "Validation failed",
        status: 422,
        detail: "bad",
        code: "validation_failed",
        requestId: "r-9",
        issues: [{ path: "priority", message: "too big" }],
      }),
    );
    const err = await createClient({ url })
      .submit({ payload: 1 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 422, code: "validation_failed", requestId: "r-9" });
    expect((err as ApiError).issues).toEqual([{ path: "priority", message: "too big" }]);
  });

  it("keeps the status when an error body is not a problem document", async () => {
    handlers.push((_q, res) =>
      res.writeHead(502, { "content-type": "text/html" }).end("<h1>bad gateway</h1>"),
    );
    const err = (await createClient({ url })
      .get("x")
      .catch((e: unknown) => e)) as ApiError;
    expect(err.code).toBe("http_502");
  });

  it("encodes list filters in the query string", async () => {
    handlers.push(json(200, { jobs: [], nextCursor: null, next: null }));
    await createClient({ url }).list({ state: "dead", queue: "q", limit: 5 });
    expect(seen[0]?.url).toBe("/v1/jobs?state=dead&queue=q&limit=5");
  });
});

const SCHEDULE = {
  id: "01900000-0000-7000-8000-0000000000aa",
  tenant: "t",
  name: "nightly",
  cron: "0 3 * * *",
  timezone: "UTC",
  intervalMs: null,
  job: { type: "echo", queue: "default", payload: 1, priority: 0, maxAttempts: 3, timeoutMs: 1000 },
  enabled: true,
  overlap: "allow",
  missedRuns: "none",
  nextFireTimes: ["2026-01-02T03:00:00.000Z"],
  lastRun: null,
  createdAt: "2026-01-01T00:00:00.000Z",
  updatedAt: "2026-01-01T00:00:00.000Z",
};

describe("schedules", () => {
  it("creates, reads, changes, pauses, resumes and deletes with the right methods and bodies", async () => {
    const c = createClient({ url });
    handlers.push(json(201, SCHEDULE), json(200, SCHEDULE), json(200, SCHEDULE), json(200, SCHEDULE));
    handlers.push(json(200, SCHEDULE), json(200, SCHEDULE));
    await c.createSchedule({ name: "nightly", cron: "0 3 * * *", job: { payload: 1 } });
    await c.getSchedule(SCHEDULE.id);
    await c.updateSchedule(SCHEDULE.id, { overlap: "skip" });
    await c.pauseSchedule(SCHEDULE.id);
    await c.resumeSchedule(SCHEDULE.id);
    expect(await c.deleteSchedule(SCHEDULE.id)).toEqual(SCHEDULE);
    const path = `/v1/schedules/${SCHEDULE.id}`;
    expect(seen.map((r) => [r.method, r.url, r.body])).toEqual([
      ["POST", "/v1/schedules", '{"name":"nightly","cron":"0 3 * * *","job":{"payload":1}}'],
      ["GET", path, ""],
      ["PATCH", path, '{"overlap":"skip"}'],
      ["PATCH", path, '{"enabled":false}'],
      ["PATCH", path, '{"enabled":true}'],
      ["DELETE", path, ""],
    ]);
  });

  it("retries a change on 503 (it sets absolute values), but not a create", async () => {
    handlers.push(problem(503, "unavailable"), json(200, SCHEDULE));
    await createClient({ url, retry: fast }).pauseSchedule(SCHEDULE.id);
    expect(seen).toHaveLength(2);
    handlers = [problem(503, "unavailable"), json(201, SCHEDULE)];
    seen = [];
    const err = await createClient({ url, retry: fast })
      .createSchedule({ name: "n", intervalMs: 1000, job: { payload: 1 } })
      .catch((e: unknown) => e);
    expect((err as ApiError).status).toBe(503);
    expect(seen).toHaveLength(1);
  });

  it("finds a schedule by name and lists every page", async () => {
    const c = createClient({ url });
    handlers.push(json(200, { schedules: [SCHEDULE], nextCursor: null, next: null }));
    expect(await c.findSchedule("nightly")).toEqual(SCHEDULE);
    handlers.push(json(200, { schedules: [], nextCursor: null, next: null }));
    expect(await c.findSchedule("nothing")).toBeNull();
    handlers.push(
      json(200, { schedules: [SCHEDULE], nextCursor: "bmlnaHRseQ", next: "/v1/schedules?cursor=bmlnaHRseQ" }),
      json(200, { schedules: [{ ...SCHEDULE, name: "other" }], nextCursor: null, next: null }),
    );
    const names: string[] = [];
    for await (const s of c.listAllSchedules()) names.push(s.name);
    expect(names).toEqual(["nightly", "other"]);
    expect(seen.map((r) => r.url)).toEqual([
      "/v1/schedules?name=nightly",
      "/v1/schedules?name=nothing",
      "/v1/schedules",
      "/v1/schedules?cursor=bmlnaHRseQ",
    ]);
  });
});

describe("retries", () => {
  it("retries 429 after Retry-After, even for a plain submit", async () => {
    handlers.push(problem(429, "rate_limited", { "retry-after": "1" }), json(201, JOB));
    const started = Date.now();
    const r = await createClient({ url, retry: fast }).submit({ payload: 1 });
    expect(r.job.id).toBe(JOB.id);
    expect(seen).toHaveLength(2);
    expect((seen[1]?.at ?? 0) - started).toBeGreaterThanOrEqual(950);
  });

  it("retries 503 for reads and idempotent writes but not for a plain submit", async () => {
    handlers.push(problem(503, "unavailable"), json(200, JOB));
    expect((await createClient({ url, retry: fast }).get(JOB.id)).id).toBe(JOB.id);
    handlers.push(problem(503, "unavailable"), json(201, JOB));
    expect(
      (await createClient({ url, retry: fast }).submit({ payload: 1 }, { idempotencyKey: "k" })).job.id,
    ).toBe(JOB.id);
    handlers = [problem(503, "unavailable"), json(201, JOB)];
    seen = [];
    const err = await createClient({ url, retry: fast })
      .submit({ payload: 1 })
      .catch((e: unknown) => e);
    expect((err as ApiError).status).toBe(503);
    expect(seen).toHaveLength(1);
  });

  it("gives up after the configured retries", async () => {
    handlers.push(...Array.from({ length: 5 }, () => problem(429, "rate_limited", { "retry-after": "0" })));
    const err = await createClient({ url, retry: { retries: 2, baseMs: 1 } })
      .get("x")
      .catch((e: unknown) => e);
    expect((err as ApiError).status).toBe(429);
    expect(seen).toHaveLength(3);
  });

  it("does not retry other errors", async () => {
    handlers.push(problem(409, "invalid_state"), json(200, JOB));
    await expect(createClient({ url, retry: fast }).retry("x")).rejects.toMatchObject({ status: 409 });
    expect(seen).toHaveLength(1);
  });

  it("retries a read when the connection fails", async () => {
    handlers.push((req) => req.socket.destroy(), json(200, JOB));
    expect((await createClient({ url, retry: fast }).get(JOB.id)).id).toBe(JOB.id);
    expect(seen).toHaveLength(2);
  });
});

describe("events", () => {
  const event = (id: string) => ({
    id,
    jobId: JOB.id,
    kind: "progress",
    fromState: null,
    toState: null,
    attempt: 1,
    data: null,
    at: "t",
  });

  it("allEvents follows the pages, yielding each page before asking for the next", async () => {
    handlers.push(
      json(200, { events: [event("1"), event("2")], next: `/v1/jobs/${JOB.id}/events?after=2` }),
      json(200, { events: [event("3")], next: null }),
    );
    const it = createClient({ url }).allEvents(JOB.id, "0");
    expect((await it.next()).value).toMatchObject({ id: "1" });
    expect(seen.map((s) => s.url)).toEqual([`/v1/jobs/${JOB.id}/events?after=0`]);
    const rest: string[] = [];
    for await (const e of it) rest.push(e.id);
    expect(rest).toEqual(["2", "3"]);
    expect(seen.map((s) => s.url)).toEqual([
      `/v1/jobs/${JOB.id}/events?after=0`,
      `/v1/jobs/${JOB.id}/events?after=2`,
    ]);
  });
});

describe("batch submit", () => {
  it("sends the caller's Idempotency-Key and reports a replay", async () => {
    handlers.push(json(200, { jobs: [JOB] }, { "idempotent-replayed": "true" }));
    const r = await createClient({ url }).submitBatch([{ payload: 1 }], { idempotencyKey: "b-1" });
    expect(r).toEqual({ jobs: [JOB], replayed: true });
    expect(seen[0]).toMatchObject({
      method: "POST",
      url: "/v1/jobs/batch",
      body: '{"jobs":[{"payload":1}]}',
    });
    expect(seen[0]?.headers["idempotency-key"]).toBe("b-1");
  });

  it("makes up one key per batch and sends it again on every retry of that batch", async () => {
    handlers.push(
      (req) => req.socket.destroy(),
      problem(503, "unavailable"),
      json(201, { jobs: [JOB] }),
      json(201, { jobs: [JOB] }),
    );
    const c = createClient({ url, retry: fast });
    expect(await c.submitBatch([{ payload: 1 }])).toEqual({ jobs: [JOB], replayed: false });
    await c.submitBatch([{ payload: 1 }]);
    const keys = seen.map((s) => s.headers["idempotency-key"]);
    expect(keys).toHaveLength(4);
    expect(keys[0]).toMatch(/^[\x21-\x7e]{1,255}$/);
    expect(keys[1]).toBe(keys[0]);
    expect(keys[2]).toBe(keys[0]);
    // The next logical batch gets a key of its own.
    expect(keys[3]).not.toBe(keys[0]);
  });
});

function sse(chunks: string[], delayMs = 0): Handler {
  return (_req, res) => {
    res.writeHead(200, { "content-type": "text/event-stream" });
    let i = 0;
    const next = () => {
      if (i >= chunks.length) return void res.end();
      res.write(chunks[i++]);
      setTimeout(next, delayMs);
    };
    next();
  };
}

const ev = (id: string, kind: string, to: string | null) =>
  `id: ${id}\ndata: ${JSON.stringify({ id, jobId: JOB.id, kind, fromState: null, toState: to, attempt: 0, data: null, at: "t" })}\n\n`;

describe("streams", () => {
  it("waitFor follows the SSE stream to the end and reports each event", async () => {
    const done = { ...JOB, state: "succeeded" };
    handlers.push(
      sse(
        [
          "retry: 1000\n\n",
          ev("1", "submitted", "queued"),
          ": keep-alive\n\n",
          ev("2", "claimed", "running"),
          ev("3", "succeeded", "succeeded"),
          `event: end\ndata: ${JSON.stringify(done)}\n\n`,
        ],
        5,
      ),
    );
    const kinds: string[] = [];
    const job = await createClient({ url }).waitFor(JOB.id, { onEvent: (e) => kinds.push(e.kind) });
    expect(job.state).toBe("succeeded");
    expect(kinds).toEqual(["submitted", "claimed", "succeeded"]);
    expect(seen[0]?.headers.accept).toBe("text/event-stream");
  });

  it("resumes a dropped stream with Last-Event-ID", async () => {
    const done = { ...JOB, state: "dead" };
    handlers.push(
      sse([ev("7", "submitted", "queued")]),
      sse([ev("8", "dead", "dead"), `event: end\ndata: ${JSON.stringify(done)}\n\n`]),
    );
    const kinds: string[] = [];
    const job = await createClient({ url, retry: fast }).waitFor(JOB.id, {
      onEvent: (e) => kinds.push(e.kind),
    });
    expect(job.state).toBe("dead");
    expect(kinds).toEqual(["submitted", "dead"]);
    expect(seen[1]?.headers["last-event-id"]).toBe("7");
  });

  it("gives up on a stream the server keeps ending with an error event, naming the code and request id", async () => {
    const error = `event: error\ndata: {"code":"internal","requestId":"r-1"}\n\n`;
    // Resumed after event 1, the server fails again each time without sending anything new.
    handlers.push(sse([ev("1", "submitted", "queued"), error]), sse([error]), sse([error]));
    const err = await createClient({ url, retry: { ...fast, retries: 2 } })
      .waitFor(JOB.id)
      .catch((e: unknown) => e);
    expect(String(err)).toContain("code internal, request id r-1");
    expect(seen).toHaveLength(3);
  });

  it("waitFor times out with WaitTimeoutError", async () => {
    handlers.push(sse([ev("1", "submitted", "queued"), ": a\n\n", ": b\n\n", ": c\n\n"], 200));
    const err = await createClient({ url })
      .waitFor(JOB.id, { timeoutMs: 150 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WaitTimeoutError);
  });
});

describe("parseSse", () => {
  async function parse(chunks: string[]) {
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (const ch of chunks) c.enqueue(new TextEncoder().encode(ch));
        c.close();
      },
    });
    const out = [];
    for await (const m of parseSse(stream)) out.push(m);
    return out;
  }

  it("handles CRLF split across chunks, multi-line data, comments and events without data", async () => {
    const msgs = await parse([
      "id: 1\r",
      "\ndata: a\r\ndata: b\r\n\r\n",
      ": comment\n",
      "event: ping\n\n",
      "event: end\ndata:x\n\n",
    ]);
    expect(msgs).toEqual([
      { event: "message", data: "a\nb", id: "1" },
      { event: "end", data: "x", id: undefined },
    ]);
  });

  it("decodes UTF-8 split inside a character", async () => {
    const bytes = new TextEncoder().encode("data: 🚀\n\n");
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(bytes.slice(0, 8));
        c.enqueue(bytes.slice(8));
        c.close();
      },
    });
    const out = [];
    for await (const m of parseSse(stream)) out.push(m.data);
    expect(out).toEqual(["🚀"]);
  });
});

describe("queue control", () => {
  const RESULT = {
    operation: "retry",
    queue: "emails",
    tenant: "t",
    dryRun: false,
    changed: 3,
    limit: 1000,
    limitReached: false,
  };

  it("changes settings with PATCH, retried after a 503 like a read", async () => {
    handlers.push(problem(503, "unavailable"), json(200, { queue: "emails" }));
    await createClient({ url, retry: fast }).pauseQueue("emails");
    expect(seen.map((s) => [s.method, s.url, s.body])).toEqual([
      ["PATCH", "/v1/queues/emails", '{"paused":true}'],
      ["PATCH", "/v1/queues/emails", '{"paused":true}'],
    ]);
  });

  it("sends each bulk operation to its route with its filter, and does not repeat one after a 503", async () => {
    const c = createClient({ url, retry: fast });
    handlers.push(json(200, RESULT));
    expect(await c.retryQueueJobs("emails", { state: ["dead", "cancelled"], limit: 10 })).toEqual(RESULT);
    handlers.push(json(200, RESULT), json(200, RESULT), json(200, RESULT));
    await c.cancelQueueJobs("emails", { type: "mail.send" });
    await c.promoteQueueJobs("emails");
    await c.purgeQueueJobs("emails", { tenant: "*" });
    expect(seen.map((s) => [s.method, s.url, s.body])).toEqual([
      ["POST", "/v1/queues/emails/retry", '{"state":["dead","cancelled"],"limit":10}'],
      ["POST", "/v1/queues/emails/cancel", '{"type":"mail.send"}'],
      ["POST", "/v1/queues/emails/promote", "{}"],
      ["POST", "/v1/queues/emails/purge", '{"tenant":"*"}'],
    ]);

    seen = [];
    handlers = [problem(503, "unavailable"), json(200, RESULT)];
    const err = await c.cancelQueueJobs("emails").catch((e: unknown) => e);
    expect((err as ApiError).status).toBe(503);
    expect(seen).toHaveLength(1);
    // A dry run changes nothing, so it is repeated.
    handlers = [problem(503, "unavailable"), json(200, { ...RESULT, dryRun: true })];
    expect((await c.cancelQueueJobs("emails", { dryRun: true })).dryRun).toBe(true);
  });
});
