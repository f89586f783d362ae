// The console as an operator uses it, in headless Chromium against a real API, worker, Postgres and
// Redis: the overview, the jobs list, one job followed live, cancel. One browser for the whole file.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seriousA11yViolations, signIn, unreachableByKeyboard, watch } from "./testing/browser.ts";
import { ADMIN_KEY, type Harness, startHarness } from "./testing/harness.ts";

let h: Harness;
beforeAll(async () => {
  h = await startHarness("jobs", { queues: ["default", "mail"] });
});
afterAll(async () => {
  await h?.close();
});

const POLL = { timeout: 15_000, interval: 100 };

describe("the console's jobs pages", () => {
  it("signs in with a key kept in sessionStorage only, and refuses a wrong one with the API's message", async (ctx) => {
    const { context, page } = await h.page();
    const { violations } = watch(page, ctx);
    await page.goto(`${h.base}/console/`);
    await page.getByLabel("API key").fill("ast_not-a-key-of-this-server-000000");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect
      .poll(() => page.getByRole("alert").textContent(), POLL)
      .toContain("does not accept this key");
    expect(await page.getByRole("button", { name: "Sign out" }).count()).toBe(0);

    await page.getByLabel("API key").fill(ADMIN_KEY);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Overview" }).waitFor();
    expect(await page.evaluate("Object.values(sessionStorage)")).toEqual([ADMIN_KEY]);
    expect(await context.cookies()).toEqual([]);
    expect(page.url()).not.toContain(ADMIN_KEY);

    // A reload keeps the tab signed in; signing out forgets the key.
    await page.reload();
    await page.getByRole("heading", { name: "Overview" }).waitFor();
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("API key").waitFor();
    expect(await page.evaluate("sessionStorage.length")).toBe(0);
    expect(violations).toEqual([]);
  });

  it("shows every queue's depth and the workers, and refreshes without reloading", async (ctx) => {
    const { page } = await h.page();
    const { violations } = watch(page, ctx);
    const done = await h.api.submit({ type: "echo", queue: "mail", payload: { hello: "world" } });
    await h.api.waitFor(done.job.id, { timeoutMs: 15_000 });
    await signIn(page, h.base, ADMIN_KEY);
    await page.evaluate("window.marker = 1");

    const mail = page.locator('tr[data-queue="mail"]');
    await expect.poll(() => mail.locator('[data-col="completed-hour"]').textContent(), POLL).toBe("1");
    await expect.poll(() => page.locator('[data-stat="workers"]').textContent(), POLL).toBe("1");
    expect(await page.locator('[data-stat="heartbeat"]').textContent()).toMatch(/ago$/);
    expect(await mail.getByRole("img").first().getAttribute("aria-label")).toContain(
      "1 completed in the last hour",
    );

    // Submitted through the API while the page is open: the overview picks them up by itself.
    const later = (
      await h.api.submitBatch(
        Array.from({ length: 3 }, () => ({ type: "echo", queue: "mail", payload: {}, delayMs: 600_000 })),
      )
    ).jobs;
    await expect.poll(() => mail.locator('[data-col="delayed"]').textContent(), POLL).toBe("3");
    expect(await page.evaluate("window.marker")).toBe(1);
    for (const j of later) await h.api.cancel(j.id);
    await expect.poll(() => mail.locator('[data-col="delayed"]').textContent(), POLL).toBe("0");

    expect(await seriousA11yViolations(page)).toEqual([]);
    expect(await unreachableByKeyboard(page)).toEqual([]);
    expect(violations).toEqual([]);
  });

  it("follows a job from queued through running to succeeded on its page, live", async (ctx) => {
    const { page } = await h.page();
    const { violations } = watch(page, ctx);
    await signIn(page, h.base, ADMIN_KEY);
    // Delayed so the page sees it queued; the sleep keeps it running long enough to be seen running.
    const { job } = await h.api.submit({ type: "sleep", payload: { ms: 1500 }, delayMs: 2500 });
    await page.goto(`${h.base}/console/jobs/${job.id}`);
    await page.evaluate("window.marker = 1");
    const state = page.locator(".job-state .badge");
    await expect.poll(() => state.textContent(), POLL).toBe("queued");
    await expect.poll(() => state.textContent(), POLL).toBe("running");
    await expect.poll(() => state.textContent(), POLL).toBe("succeeded");
    // Without a reload: the marker set on this document is still there.
    expect(await page.evaluate("window.marker")).toBe(1);
    expect(await page.locator(".timeline li").evaluateAll((lis) => lis.map((li) => li.dataset.kind))).toEqual(
      ["submitted", "claimed", "succeeded"],
    );
    await expect
      .poll(() => page.getByRole("region", { name: "Result" }).textContent(), POLL)
      .toContain('"sleptMs": 1500');
    expect(await page.locator('[data-fact="attempts"]').textContent()).toBe("1 of 3");
    expect(await page.locator(".live").textContent()).toBe("Finished");
    expect(await page.getByRole("button", { name: "Cancel job" }).count()).toBe(0);

    expect(await seriousA11yViolations(page)).toEqual([]);
    expect(await unreachableByKeyboard(page)).toEqual([]);
    expect(violations).toEqual([]);
  });

  it("cancels a long-running job from its page", async (ctx) => {
    const { page } = await h.page();
    const { violations } = watch(page, ctx);
    await signIn(page, h.base, ADMIN_KEY);
    const { job } = await h.api.submit({ type: "sleep", payload: { ms: 600_000 } });
    await page.goto(`${h.base}/console/jobs/${job.id}`);
    const state = page.locator(".job-state .badge");
    await expect.poll(() => state.textContent(), POLL).toBe("running");
    await page.getByRole("button", { name: "Cancel job" }).click();
    await expect.poll(() => state.textContent(), POLL).toBe("cancelled");
    expect((await h.api.get(job.id)).state).toBe("cancelled");
    const kinds = await page.locator(".timeline li").evaluateAll((lis) => lis.map((li) => li.dataset.kind));
    expect(kinds).toEqual(expect.arrayContaining(["claimed", "cancel_requested", "cancelled"]));
    // A cancelled job can be run again; the button is offered.
    await page.getByRole("button", { name: "Retry job" }).waitFor();
    expect(violations).toEqual([]);
  });

  it("filters and pages the jobs list, with the filters in a URL that opens the same list", async (ctx) => {
    const { page } = await h.page();
    const { violations } = watch(page, ctx);
    // A queue no worker reads: its jobs stay queued.
    const jobs = (
      await h.api.submitBatch(
        Array.from({ length: 60 }, (_, i) => ({ type: "report.build", queue: "reports", payload: { i } })),
      )
    ).jobs;
    await signIn(page, h.base, ADMIN_KEY);
    await page.getByRole("link", { name: "Jobs", exact: true }).click();
    await page.getByLabel("Queue").fill("reports");
    await page.getByLabel("State").selectOption("queued");
    await page.getByRole("button", { name: "Apply filters" }).click();
    await expect.poll(() => page.locator("tr[data-job]").count(), POLL).toBe(50);
    const url = new URL(page.url());
    expect(url.pathname).toBe("/console/jobs");
    expect(Object.fromEntries(url.searchParams)).toEqual({ queue: "reports", state: "queued" });
    // Newest first.
    expect(await page.locator("tr[data-job]").first().getAttribute("data-job")).toBe(jobs.at(-1)?.id);

    await page.getByRole("link", { name: "Next page" }).click();
    await expect.poll(() => page.locator("tr[data-job]").count(), POLL).toBe(10);
    expect(new URL(page.url()).searchParams.get("cursor")).toBeTruthy();
    expect(await page.getByRole("link", { name: "Next page" }).count()).toBe(0);
    await page.getByRole("link", { name: "First page" }).click();
    await expect.poll(() => page.locator("tr[data-job]").count(), POLL).toBe(50);

    // A creation range: before the first of these jobs there is none of them; the range joins the URL.
    const first = Date.parse(jobs[0]?.createdAt ?? "");
    const local = (await page.evaluate(
      `new Date(${first - 60_000} - new Date(${first}).getTimezoneOffset() * 60000).toISOString().slice(0, 19)`,
    )) as string;
    await page.getByLabel("Created before").fill(local);
    await page.getByRole("button", { name: "Apply filters" }).click();
    await page.getByText("No job matches these filters.").waitFor();
    const ranged = new URL(page.url()).searchParams;
    expect(Date.parse(ranged.get("createdBefore") ?? "")).toBe(first - 60_000 - (first % 1000));
    expect(ranged.get("queue")).toBe("reports");
    await page.getByLabel("Created before").fill("");
    await page.getByLabel("Created after").fill(local);
    await page.getByRole("button", { name: "Apply filters" }).click();
    await expect.poll(() => page.locator("tr[data-job]").count(), POLL).toBe(50);
    expect(new URL(page.url()).searchParams.has("createdBefore")).toBe(false);

    // The same URL in another tab (signed in there too) is the same list.
    const other = await h.page();
    await signIn(other.page, h.base, ADMIN_KEY, `/console/jobs?queue=reports&state=queued`);
    await expect.poll(() => other.page.locator("tr[data-job]").count(), POLL).toBe(50);
    expect(await other.page.getByLabel("Queue").inputValue()).toBe("reports");
    expect(await other.page.getByLabel("State").inputValue()).toBe("queued");

    expect(await seriousA11yViolations(page)).toEqual([]);
    expect(await unreachableByKeyboard(page)).toEqual([]);
    expect(violations).toEqual([]);
    for (const j of jobs) await h.api.cancel(j.id);
  });

  it("shows an API error with its message and request id", async (ctx) => {
    const { page } = await h.page();
    watch(page, ctx);
    await signIn(page, h.base, ADMIN_KEY, "/console/jobs?createdAfter=yesterday");
    const alert = page.getByRole("alert");
    await alert.waitFor();
    expect(await alert.textContent()).toContain("validation_failed");
    expect(await alert.locator("li").first().textContent()).toMatch(/^createdAfter: /);
    const requestId = await alert.locator(".request-id").textContent();
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
  });
});
