import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { submitAdmission } from "./admission.ts";
import type { ApiEnv } from "./env.ts";

/** An app whose submit handler waits until released, so requests stay in flight as long as the test wants. */
function held(maxInFlight: number) {
  const admission = submitAdmission({ maxInFlight, retryAfterSeconds: 1 });
  const releases: (() => void)[] = [];
  const app = new Hono<ApiEnv>();
  app.use("*", async (c, next) => {
    c.set("requestId", "req-1");
    await next();
  });
  app.use("/v1/jobs", admission.middleware);
  app.post("/v1/jobs", async (c) => {
    await new Promise<void>((resolve) => releases.push(resolve));
    return c.json({ ok: true }, 201);
  });
  app.get("/v1/jobs", (c) => c.json({ listed: true }));
  return { app, admission, releases };
}

describe("submit admission", () => {
  it("answers 503 problem+json with Retry-After past the limit, and admits again once a slot frees", async () => {
    const { app, admission, releases } = held(2);
    const first = app.request("/v1/jobs", { method: "POST" });
    const second = app.request("/v1/jobs", { method: "POST" });
    await expect.poll(() => admission.inFlight()).toBe(2);

    const shed = await app.request("/v1/jobs", { method: "POST" });
    expect(shed.status).toBe(503);
    expect(shed.headers.get("retry-after")).toBe("1");
    expect(shed.headers.get("content-type")).toBe("application/problem+json");
    expect(await shed.json()).toMatchObject({ status: 503, code: "unavailable", requestId: "req-1" });
    expect(admission.shed()).toBe(1);

    // Reads are never counted or shed.
    expect((await app.request("/v1/jobs")).status).toBe(200);

    releases.shift()?.();
    expect((await first).status).toBe(201);
    expect(admission.inFlight()).toBe(1);
    const third = app.request("/v1/jobs", { method: "POST" });
    await expect.poll(() => admission.inFlight()).toBe(2);
    for (const r of releases.splice(0)) r();
    expect((await second).status).toBe(201);
    expect((await third).status).toBe(201);
    expect(admission.inFlight()).toBe(0);
  });

  it("frees the slot when the handler throws", async () => {
    const admission = submitAdmission({ maxInFlight: 1, retryAfterSeconds: 1 });
    const app = new Hono<ApiEnv>();
    app.use("/v1/jobs", admission.middleware);
    app.post("/v1/jobs", () => {
      throw new Error("boom");
    });
    expect((await app.request("/v1/jobs", { method: "POST" })).status).toBe(500);
    expect(admission.inFlight()).toBe(0);
  });

  it("limits nothing at 0", async () => {
    const { app, admission, releases } = held(0);
    const pending = [1, 2, 3].map(() => app.request("/v1/jobs", { method: "POST" }));
    await expect.poll(() => releases.length).toBe(3);
    for (const r of releases.splice(0)) r();
    expect((await Promise.all(pending)).map((r) => r.status)).toEqual([201, 201, 201]);
    expect(admission.shed()).toBe(0);
  });
});
