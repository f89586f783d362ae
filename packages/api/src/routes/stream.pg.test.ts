import { parseSse, type SseMessage } from "@astraeus/client";
import type { Job, JobEvent } from "@astraeus/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setupTestApi, type TestApi } from "../test-support.ts";

let t: TestApi;
beforeAll(async () => {
  t = await setupTestApi("stream");
});
afterAll(async () => {
  await t?.close();
});

async function submit(queue: string): Promise<Job> {
  const res = await t.request("/v1/jobs", {
    method: "POST",
    json: { queue, type: "echo", payload: { queue } },
  });
  return (await res.json()) as Job;
}

/** Reads the whole stream (it ends by itself after a terminal state) with an overall deadline. */
async function readStream(res: Response, timeoutMs = 10_000): Promise<SseMessage[]> {
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), timeoutMs);
  const out: SseMessage[] = [];
  try {
    if (!res.body) throw new Error("no body");
    for await (const m of parseSse(res.body, ctrl.signal)) out.push(m);
  } finally {
    clearTimeout(timer);
  }
  if (ctrl.signal.aborted) throw new Error(`stream did not end within ${timeoutMs} ms`);
  return out;
}

async function runToSuccess(queue: string, jobId: string): Promise<void> {
  const [c] = await t.engine.claim("acme", { queues: [queue], limit: 1, workerId: "w" });
  expect(c?.id).toBe(jobId);
  await t.engine.complete("acme", { id: jobId, leaseToken: c?.leaseToken ?? "" }, { done: true });
}

describe("GET /v1/jobs/{id}/stream", () => {
  it("delivers every transition of a job in order and closes after the terminal one", async () => {
    const job = await submit("sse-a");
    const res = await t.request(`/v1/jobs/${job.id}/stream`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const reading = readStream(res);
    // The transitions happen while the stream is open.
    const [claimed] = await t.engine.claim("acme", { queues: ["sse-a"], limit: 1, workerId: "w" });
    await t.engine.fail("acme", {
      id: job.id,
      leaseToken: claimed?.leaseToken ?? "",
      error: { message: "once" },
    });
    await t.store.db.query("UPDATE jobs SET run_at = now() WHERE id = $1", [job.id]);
    await runToSuccess("sse-a", job.id);
    const messages = await reading;

    const events = messages.filter((m) => m.event === "message").map((m) => JSON.parse(m.data) as JobEvent);
    expect(events.map((e) => e.kind)).toEqual(["submitted", "claimed", "failed", "claimed", "succeeded"]);
    expect(messages.filter((m) => m.event === "message").map((m) => m.id)).toEqual(events.map((e) => e.id));
    // Ids sort as (number, then `.1` for a claim or `.2` for a success read back from the job's record):
    // the stream's order.
    const position = (id: string) => {
      const [n, sub = "0"] = id.split(".");
      return BigInt(n ?? "0") * 3n + BigInt(sub);
    };
    const ids = events.map((e) => position(e.id));
    expect([...ids].sort((a, b) => (a < b ? -1 : 1))).toEqual(ids);
    expect(events.filter((e) => e.kind === "claimed").every((e) => /^\d+\.1$/.test(e.id))).toBe(true);
    expect(events.at(-1)?.id).toMatch(/^\d+\.2$/);
    const stored = (await (await t.request(`/v1/jobs/${job.id}/events`)).json()) as { events: JobEvent[] };
    expect(events).toEqual(stored.events);
    const end = messages.at(-1);
    expect(end?.event).toBe("end");
    expect((JSON.parse(end?.data ?? "{}") as Job).state).toBe("succeeded");
  });

  it("resumes after Last-Event-ID without repeating earlier events", async () => {
    const job = await submit("sse-b");
    await runToSuccess("sse-b", job.id);
    const all = (await (await t.request(`/v1/jobs/${job.id}/events`)).json()) as { events: JobEvent[] };
    const first = all.events[0]?.id ?? "";
    const res = await t.request(`/v1/jobs/${job.id}/stream`, { headers: { "last-event-id": first } });
    const messages = await readStream(res);
    const kinds = messages
      .filter((m) => m.event === "message")
      .map((m) => (JSON.parse(m.data) as JobEvent).kind);
    expect(kinds).toEqual(["claimed", "succeeded"]);
    expect(messages.at(-1)?.event).toBe("end");
  });

  it("closes at once for a finished job resumed after its last event", async () => {
    const job = await submit("sse-c");
    await t.request(`/v1/jobs/${job.id}/cancel`, { method: "POST" });
    const all = (await (await t.request(`/v1/jobs/${job.id}/events`)).json()) as { events: JobEvent[] };
    const last = all.events.at(-1)?.id ?? "";
    const messages = await readStream(
      await t.request(`/v1/jobs/${job.id}/stream?lastEventId=${last}`),
      5_000,
    );
    expect(messages.map((m) => m.event)).toEqual(["end"]);
  });

  it("answers 404 for another tenant's job and 422 for a malformed Last-Event-ID", async () => {
    const job = await submit("sse-d");
    expect((await t.request(`/v1/jobs/${job.id}/stream`, { key: t.globex })).status).toBe(404);
    const bad = await t.request(`/v1/jobs/${job.id}/stream`, { headers: { "last-event-id": "abc" } });
    expect(bad.status).toBe(422);
    // 19 digits, but past Postgres's bigint: refused up front instead of failing the stream's query.
    const huge = "9999999999999999999";
    expect(
      (await t.request(`/v1/jobs/${job.id}/stream`, { headers: { "last-event-id": huge } })).status,
    ).toBe(422);
    expect((await t.request(`/v1/jobs/${job.id}/stream?lastEventId=${huge}`)).status).toBe(422);
  });

  it("ends a stream that fails mid-way with an error event that carries no internals", async () => {
    const job = await submit("sse-fail");
    const events = t.engine.events.bind(t.engine);
    let calls = 0;
    // Fault injection into the engine: the second poll fails as a lost database connection would.
    t.engine.events = async (...args) => {
      if (++calls === 2) throw new Error("connect ECONNREFUSED 10.0.0.7:5432 (secret internals)");
      return events(...args);
    };
    try {
      const res = await t.request(`/v1/jobs/${job.id}/stream`);
      expect(res.status).toBe(200);
      const messages = await readStream(res);
      const error = messages.find((m) => m.event === "error");
      expect(error).toBeDefined();
      expect(JSON.parse(error?.data ?? "{}")).toEqual({ code: "internal", requestId: expect.any(String) });
      expect(messages.map((m) => m.data).join("\n")).not.toContain("ECONNREFUSED");
    } finally {
      t.engine.events = events;
    }
  });

  it("ends open streams when the server shuts down", async () => {
    const local = await setupTestApi("stream_shutdown");
    try {
      const res = await local.request("/v1/jobs", { method: "POST", json: { payload: 1 } });
      const job = (await res.json()) as Job;
      const stream = await local.request(`/v1/jobs/${job.id}/stream`);
      if (!stream.body) throw new Error("no body");
      const guard = new AbortController();
      const timer = setTimeout(() => guard.abort(), 5_000);
      const it = parseSse(stream.body, guard.signal);
      const first = await it.next();
      expect((JSON.parse(first.value?.data ?? "{}") as JobEvent).kind).toBe("submitted");
      local.shutdown.abort();
      const rest: SseMessage[] = [];
      for await (const m of it) rest.push(m);
      clearTimeout(timer);
      expect(guard.signal.aborted).toBe(false);
      expect(rest).toEqual([]);
    } finally {
      await local.close();
    }
  });
});
