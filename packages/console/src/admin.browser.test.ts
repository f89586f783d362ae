// The console's dead letters and API keys, and what a key's scopes leave out, in headless Chromium
// against a real API, worker, Postgres and Redis. One browser for the whole file.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seriousA11yViolations, signIn, unreachableByKeyboard, watch } from "./testing/browser.ts";
import { ADMIN_KEY, type Harness, startHarness, upstreamJob } from "./testing/harness.ts";

const upstream = { up: false };
let h: Harness;
beforeAll(async () => {
  h = await startHarness("admin", { jobs: [upstreamJob(upstream)] });
});
afterAll(async () => {
  await h?.close();
});

const POLL = { timeout: 15_000, interval: 100 };

describe("the console's dead letters and keys", () => {
  it("groups dead jobs by queue and error code and retries one, then a whole group with one bulk retry", async (ctx) => {
    const { page } = await h.page();
    const { violations } = watch(page, ctx);
    // Every request the page makes to retry something: one-job retries and bulk retries (with their body).
    const retries: { path: string; body: Record<string, unknown> | null }[] = [];
    page.on("request", (r) => {
      const path = new URL(r.url()).pathname;
      if (r.method() === "POST" && path.endsWith("/retry"))
        retries.push({
          path,
          body: r.postData() ? (JSON.parse(r.postData() ?? "") as Record<string, unknown>) : null,
        });
    });
    upstream.up = false;
    const calls = (
      await h.api.submitBatch(
        Array.from({ length: 3 }, (_, i) => ({ type: "upstream.call", payload: { n: i }, maxAttempts: 1 })),
      )
    ).jobs;
    const empty = await h.api.submit({ payload: { text: "  " } }); // an unrecoverable error, no code
    for (const j of [...calls, empty.job]) {
      expect((await h.api.waitFor(j.id, { timeoutMs: 15_000 })).state).toBe("dead");
    }

    await signIn(page, h.base, ADMIN_KEY);
    await page.getByRole("link", { name: "Dead letters" }).click();
    const group = page.locator('[data-group="default · UPSTREAM_DOWN"]');
    await expect.poll(() => group.locator("tr[data-job]").count(), POLL).toBe(3);
    expect(await group.getByRole("heading").textContent()).toContain("3 jobs");
    expect(await group.locator(".example").textContent()).toBe(
      "upstream refused the call: 503 Service Unavailable",
    );
    const other = page.locator('[data-group="default · no code"]');
    expect(await other.locator("tr[data-job]").count()).toBe(1);
    expect(await other.locator(".example").textContent()).toBe("text is empty");
    expect(await seriousA11yViolations(page)).toEqual([]);
    expect(await unreachableByKeyboard(page)).toEqual([]);

    // One more dies of the same cause after the page was read: the group's retry will find it too.
    const late = await h.api.submit({ type: "upstream.call", payload: { n: 3 }, maxAttempts: 1 });
    expect((await h.api.waitFor(late.job.id, { timeoutMs: 15_000 })).state).toBe("dead");

    // The upstream is back: retry one job, then the rest of its group with one button.
    upstream.up = true;
    const first = calls[0]?.id ?? "";
    await page.getByRole("button", { name: `Retry job ${first}` }).click();
    await expect.poll(() => group.locator("tr[data-job]").count(), POLL).toBe(2);
    expect((await h.api.waitFor(first, { timeoutMs: 15_000 })).state).toBe("succeeded");

    // The group's retry counts first: 3 in the queue where the page shows 2, so it asks.
    await page.getByRole("button", { name: "Retry all 2 jobs in default · UPSTREAM_DOWN" }).click();
    const dialog = page.getByRole("dialog", { name: "Retry 3 jobs of default · UPSTREAM_DOWN?" });
    await dialog.waitFor();
    expect(await seriousA11yViolations(page)).toEqual([]);
    await dialog.getByRole("button", { name: "Retry 3 jobs" }).click();
    await expect.poll(() => group.count(), POLL).toBe(0);
    await page.getByText("Retried 3 jobs of default · UPSTREAM_DOWN.").waitFor();
    for (const id of [...calls.slice(1).map((j) => j.id), late.job.id]) {
      const done = await h.api.waitFor(id, { timeoutMs: 15_000 });
      expect(done.state).toBe("succeeded");
      expect((await h.api.events(id)).map((e) => e.kind)).toEqual([
        "submitted",
        "claimed",
        "dead",
        "retried",
        "claimed",
        "succeeded",
      ]);
    }
    // One request for one job, then the group: a count and one bulk retry of what was counted.
    expect(retries).toEqual([
      { path: `/v1/jobs/${first}/retry`, body: null },
      {
        path: "/v1/queues/default/retry",
        body: { state: ["dead"], errorCode: "UPSTREAM_DOWN", dryRun: true, limit: 100_000 },
      },
      { path: "/v1/queues/default/retry", body: { state: ["dead"], errorCode: "UPSTREAM_DOWN", limit: 3 } },
    ]);

    // The group of errors without a code is retried as one too (its cause is not fixed: it dies again).
    retries.length = 0;
    await page.getByRole("button", { name: "Retry all 1 jobs in default · no code" }).click();
    await expect.poll(() => other.count(), POLL).toBe(0);
    expect(retries.map((r) => r.body)).toEqual([
      { state: ["dead"], errorCode: null, dryRun: true, limit: 100_000 },
      { state: ["dead"], errorCode: null, limit: 1 },
    ]);
    await expect
      .poll(async () => (await h.api.events(empty.job.id)).map((e) => e.kind), POLL)
      .toEqual(["submitted", "claimed", "dead", "retried", "claimed", "dead"]);
    // Read again from the API, the page agrees: only the job without a fix is left.
    await page.getByRole("button", { name: "Refresh" }).click();
    await expect.poll(() => page.locator("tr[data-job]").count(), POLL).toBe(1);
    expect(violations).toEqual([]);
  });

  it("creates a key shown once, and revoking it sends its user back to sign-in", async (ctx) => {
    const admin = await h.page();
    const { violations } = watch(admin.page, ctx);
    await signIn(admin.page, h.base, ADMIN_KEY);
    await admin.page.getByRole("link", { name: "API keys" }).click();
    await admin.page.getByLabel("Name").fill("on-call laptop");
    await admin.page.getByRole("checkbox", { name: /jobs:write/ }).uncheck();
    await admin.page.getByRole("button", { name: "Create key" }).click();
    const shown = admin.page.getByLabel("The new key");
    await shown.waitFor();
    const key = await shown.inputValue();
    expect(key).toMatch(/^ast_[A-Za-z0-9_-]{32}$/);
    const row = admin.page.locator("tr", {
      has: admin.page.getByRole("rowheader", { name: "on-call laptop" }),
    });
    await expect.poll(() => row.locator("td").nth(2).textContent(), POLL).toBe("jobs:read");
    expect(await seriousA11yViolations(admin.page)).toEqual([]);
    expect(await unreachableByKeyboard(admin.page)).toEqual([]);
    // Shown once: gone after "Done", and never in the list (only its prefix).
    await admin.page.getByRole("button", { name: "Done" }).click();
    expect(await admin.page.getByLabel("The new key").count()).toBe(0);
    expect(await admin.page.content()).not.toContain(key);
    expect(await admin.page.content()).toContain(key.slice(0, 12));

    // Someone signs in with the new key: read-only, so no API keys page and no write actions.
    const user = await h.page();
    watch(user.page, ctx);
    await signIn(user.page, h.base, key);
    expect(
      await user.page.getByRole("navigation", { name: "Main" }).getByRole("link").allTextContents(),
    ).toEqual(["Overview", "Jobs", "Dead letters", "Queues", "Schedules"]);
    expect(await user.page.locator(".who-name").textContent()).toContain("on-call laptop");

    await row.getByRole("button", { name: "Revoke key on-call laptop" }).click();
    await row.getByRole("button", { name: "Confirm: revoke key on-call laptop" }).click();
    await expect.poll(() => row.count(), POLL).toBe(0);
    await admin.page.getByLabel("Show revoked keys").check();
    await expect.poll(() => row.locator(".badge").textContent(), POLL).toMatch(/^revoked/);

    // The overview's next refresh is refused: the user is back at sign-in, told why.
    await user.page.getByRole("status").filter({ hasText: "no longer accepted" }).waitFor();
    expect(await user.page.getByLabel("API key").count()).toBe(1);
    expect(await user.page.evaluate("sessionStorage.length")).toBe(0);
    expect(violations).toEqual([]);
  });

  it("offers a read-only key no cancel, no retry and no keys page", async (ctx) => {
    const { page } = await h.page();
    const { violations } = watch(page, ctx);
    upstream.up = false;
    const { job } = await h.api.submit({ type: "upstream.call", payload: {}, maxAttempts: 1 });
    await h.api.waitFor(job.id, { timeoutMs: 15_000 });
    const reader = await h.keyWith(["jobs:read"], "reader");

    await signIn(page, h.base, reader, `/console/jobs/${job.id}`);
    await expect.poll(() => page.locator(".job-state .badge").textContent(), POLL).toBe("dead");
    expect(await page.locator(".last-error-message").textContent()).toBe(
      "upstream refused the call: 503 Service Unavailable",
    );
    expect(await page.getByRole("region", { name: "Stack trace" }).textContent()).toContain(
      "Error: upstream refused the call",
    );
    expect(await page.getByRole("button", { name: "Retry job" }).count()).toBe(0);

    await page.getByRole("link", { name: "Dead letters" }).click();
    await page.locator("tr[data-job]").first().waitFor();
    expect(await page.getByRole("button", { name: /^Retry/ }).count()).toBe(0);

    await page.goto(`${h.base}/console/keys`);
    await page.getByRole("heading", { name: "Not allowed" }).waitFor();
    expect(violations).toEqual([]);
  });
});
