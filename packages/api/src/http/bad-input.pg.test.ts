// Invariant 9: malformed, oversized or wrongly typed requests get a problem+json 4xx, write no row and
// no stream entry, and leave the server healthy.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { countJobs, countStreamEntries, setupTestApi, type TestApi } from "../test-support.ts";

let t: TestApi;
beforeAll(async () => {
  t = await setupTestApi("badinput", { config: { bodyLimitBytes: 64 * 1024 } });
});
afterAll(async () => {
  await t?.close();
});

interface Case {
  name: string;
  path?: string;
  body?: string | Uint8Array;
  headers?: Record<string, string>;
  status: number;
  code: string;
}

const JSON_CT = { "content-type": "application/json" };
const valid = JSON.stringify({ payload: { text: "ok" } });

const corpus: Case[] = [
  {
    name: "truncated JSON",
    body: '{"payload": {"text": "asyn',
    headers: JSON_CT,
    status: 400,
    code: "malformed_json",
  },
  { name: "an empty body", body: "", headers: JSON_CT, status: 400, code: "malformed_json" },
  { name: "a bare string", body: '"payload"', headers: JSON_CT, status: 422, code: "validation_failed" },
  { name: "an array", body: "[]", headers: JSON_CT, status: 422, code: "validation_failed" },
  { name: "null", body: "null", headers: JSON_CT, status: 422, code: "validation_failed" },
  { name: "trailing garbage", body: `${valid}xyz`, headers: JSON_CT, status: 400, code: "malformed_json" },
  {
    name: "JSON with comments",
    body: '{/* c */"payload":1}',
    headers: JSON_CT,
    status: 400,
    code: "malformed_json",
  },
  { name: "a missing payload", body: "{}", headers: JSON_CT, status: 422, code: "validation_failed" },
  {
    name: "an unknown field",
    body: '{"payload":1,"owner":"x"}',
    headers: JSON_CT,
    status: 422,
    code: "validation_failed",
  },
  {
    name: "a prototype-pollution key",
    body: '{"payload":1,"__proto__":{"admin":true}}',
    headers: JSON_CT,
    status: 422,
    code: "validation_failed",
  },
  {
    name: "a numeric type",
    body: '{"payload":1,"type":42}',
    headers: JSON_CT,
    status: 422,
    code: "validation_failed",
  },
  {
    name: "a string priority",
    body: '{"payload":1,"priority":"high"}',
    headers: JSON_CT,
    status: 422,
    code: "validation_failed",
  },
  {
    name: "a negative priority beyond range",
    body: '{"payload":1,"priority":-1001}',
    headers: JSON_CT,
    status: 422,
    code: "validation_failed",
  },
  {
    name: "a fractional priority",
    body: '{"payload":1,"priority":1.5}',
    headers: JSON_CT,
    status: 422,
    code: "validation_failed",
  },
  {
    name: "a huge maxAttempts",
    body: '{"payload":1,"maxAttempts":1e308}',
    headers: JSON_CT,
    status: 422,
    code: "validation_failed",
  },
  {
    name: "zero maxAttempts",
    body: '{"payload":1,"maxAttempts":0}',
    headers: JSON_CT,
    status: 422,
    code: "validation_failed",
  },
  {
    name: "a negative delay",
    body: '{"payload":1,"delayMs":-1}',
    headers: JSON_CT,
    status: 422,
    code: "validation_failed",
  },
  {
    name: "a delay beyond a year",
    body: '{"payload":1,"delayMs":99999999999999}',
    headers: JSON_CT,
    status: 422,
    code: "validation_failed",
  },
  {
    name: "runAt and delayMs together",
    body: '{"payload":1,"delayMs":5,"runAt":"2030-01-01T00:00:00Z"}',
    headers: JSON_CT,
    status: 422,
    code: "validation_failed",
  },
  {
    name: "a runAt that is not a date",
    body: '{"payload":1,"runAt":"tomorrow"}',
    headers: JSON_CT,
    status: 422,
    code: "validation_failed",
  },
  {
    name: "a runAt far in the future",
    body: '{"payload":1,"runAt":"2999-01-01T00:00:00Z"}',
    headers: JSON_CT,
    status: 422,
    code: "validation_failed",
  },
  {
    name: "a timeout of 0",
    body: '{"payload":1,"timeoutMs":0}',
    headers: JSON_CT,
    status: 422,
    code: "validation_failed",
  },
  {
    name: "an upper-case queue",
    body: '{"payload":1,"queue":"Default"}',
    headers: JSON_CT,
    status: 422,
    code: "validation_failed",
  },
  {
    name: "a queue with a slash",
    body: '{"payload":1,"queue":"a/b"}',
    headers: JSON_CT,
    status: 422,
    code: "validation_failed",
  },
  {
    name: "a queue name of 64 characters",
    body: JSON.stringify({ payload: 1, queue: "q".repeat(64) }),
    headers: JSON_CT,
    status: 422,
    code: "validation_failed",
  },
  {
    name: "a type with a newline",
    body: '{"payload":1,"type":"a\\nb"}',
    headers: JSON_CT,
    status: 422,
    code: "validation_failed",
  },
  {
    name: "a NUL escape in the payload",
    body: '{"payload":{"t":"a\\u0000b"}}',
    headers: JSON_CT,
    status: 422,
    code: "validation_failed",
  },
  {
    name: "a NUL escape in a payload key",
    body: '{"payload":{"a\\u0000":1}}',
    headers: JSON_CT,
    status: 422,
    code: "validation_failed",
  },
  {
    name: "a lone high surrogate",
    body: '{"payload":"\\ud800"}',
    headers: JSON_CT,
    status: 422,
    code: "validation_failed",
  },
  {
    name: "a lone low surrogate",
    body: '{"payload":"x\\udc00y"}',
    headers: JSON_CT,
    status: 422,
    code: "validation_failed",
  },
  {
    name: "reversed surrogates",
    body: '{"payload":"\\udc00\\ud800"}',
    headers: JSON_CT,
    status: 422,
    code: "validation_failed",
  },
  {
    name: "a NUL in the queue",
    body: '{"payload":1,"queue":"a\\u0000"}',
    headers: JSON_CT,
    status: 422,
    code: "validation_failed",
  },
  {
    name: "a body over the limit",
    body: JSON.stringify({ payload: "x".repeat(70 * 1024) }),
    headers: JSON_CT,
    status: 413,
    code: "payload_too_large",
  },
  {
    name: "a lying Content-Length",
    body: valid,
    headers: { ...JSON_CT, "content-length": "99999999" },
    status: 413,
    code: "payload_too_large",
  },
  {
    name: "a text/plain body",
    body: valid,
    headers: { "content-type": "text/plain" },
    status: 415,
    code: "unsupported_media_type",
  },
  {
    name: "a form body",
    body: "payload=1",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    status: 415,
    code: "unsupported_media_type",
  },
  { name: "no content type", body: valid, headers: {}, status: 415, code: "unsupported_media_type" },
  {
    name: "invalid UTF-8 bytes in a key",
    body: new Uint8Array([0x7b, 0x22, 0x70, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]),
    headers: JSON_CT,
    status: 400,
    code: "malformed_json",
  },
  {
    name: "invalid UTF-8 bytes in a payload string (would be stored as U+FFFD)",
    // {"payload":"a\xff\xfeb"}
    body: new Uint8Array([...Buffer.from('{"payload":"a'), 0xff, 0xfe, ...Buffer.from('b"}')]),
    headers: JSON_CT,
    status: 400,
    code: "malformed_json",
  },
  {
    name: "deeply nested arrays",
    body: `{"payload":${"[".repeat(5000)}${"]".repeat(5000)}}`,
    headers: JSON_CT,
    status: 422,
    code: "validation_failed",
  },
  {
    name: "a batch with one bad item",
    path: "/v1/jobs/batch",
    body: JSON.stringify({ jobs: [{ payload: 1 }, { payload: 2, priority: "x" }] }),
    headers: JSON_CT,
    status: 422,
    code: "validation_failed",
  },
  {
    name: "a batch that is not an array",
    path: "/v1/jobs/batch",
    body: '{"jobs":{"0":{"payload":1}}}',
    headers: JSON_CT,
    status: 422,
    code: "validation_failed",
  },
  {
    name: "a batch item with a NUL",
    path: "/v1/jobs/batch",
    body: '{"jobs":[{"payload":1},{"payload":"\\u0000"}]}',
    headers: JSON_CT,
    status: 422,
    code: "validation_failed",
  },
];

describe("the bad-input corpus", () => {
  it.each(corpus)("rejects $name with $status and writes nothing", async (c) => {
    const rows = await countJobs(t.store);
    const entries = await countStreamEntries(t.prefix);
    const res = await t.request(c.path ?? "/v1/jobs", {
      method: "POST",
      headers: c.headers ?? {},
      ...(c.body !== undefined ? { body: c.body } : {}),
    });
    expect(res.status).toBe(c.status);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    const problem = (await res.json()) as { code: string; status: number; requestId: string; title: string };
    expect(problem.code).toBe(c.code);
    expect(problem.status).toBe(c.status);
    expect(problem.requestId).toBe(res.headers.get("x-request-id"));
    expect(await countJobs(t.store)).toBe(rows);
    expect(await countStreamEntries(t.prefix)).toBe(entries);
  });

  it("still answers a valid submit and /health after the corpus", async () => {
    expect((await t.request("/health", { key: null })).status).toBe(200);
    expect((await t.request("/v1/jobs", { method: "POST", json: { payload: { text: "ok" } } })).status).toBe(
      201,
    );
  });

  it("accepts valid unicode: emoji, surrogate-pair escapes and right-to-left text", async () => {
    const payload = { e: "🚀", escaped: "\ud83d\ude80", rtl: "שלום", zw: "a\u200db", bom: "\ufeffx" };
    const res = await t.request("/v1/jobs", {
      method: "POST",
      headers: JSON_CT,
      body: '{"payload":{"e":"🚀","escaped":"\\ud83d\\ude80","rtl":"שלום","zw":"a\\u200db","bom":"\\ufeffx"}}',
    });
    expect(res.status).toBe(201);
    const job = (await res.json()) as { id: string };
    expect((await t.store.getJob("acme", job.id))?.payload).toEqual(payload);
  });

  it("ignores a request id that could inject headers or log lines and issues its own", async () => {
    const res = await t.request("/v1/jobs", {
      method: "POST",
      json: { payload: 1 },
      headers: { "x-request-id": "abc def\tghi" },
    });
    expect(res.status).toBe(201);
    expect(res.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    const kept = await t.request("/health", { headers: { "x-request-id": "trace-123" } });
    expect(kept.headers.get("x-request-id")).toBe("trace-123");
  });

  it("does not reflect injected header values into the response", async () => {
    const res = await t.request("/v1/jobs", {
      method: "POST",
      json: { payload: 1 },
      headers: { "idempotency-key": "key%0d%0aSet-Cookie:%20x=1" },
    });
    expect(res.status).toBe(201);
    expect(res.headers.get("set-cookie")).toBeNull();
    const bad = await t.request("/v1/jobs/%0d%0aX-Evil:%201", { method: "GET" });
    expect(bad.status).toBe(422);
    expect(bad.headers.get("x-evil")).toBeNull();
  });

  it("answers an unknown route and a wrong method with a problem 404", async () => {
    const res = await t.request("/v1/nothing-here");
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    const wrong = await t.request("/v1/jobs", { method: "PUT", json: { payload: 1 } });
    expect(wrong.status).toBe(404);
  });
});
