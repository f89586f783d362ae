// The console's Queues and Schedules pages as an operator uses them, in headless Chromium against a real
// API, worker (with the schedules' maintenance leader), Postgres and Redis: pause and resume, a concurrency
// limit, bulk operations behind a confirmation, what a key without admin is offered, and schedules listed,
// created, disabled, enabled and deleted. One browser for the whole file.
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seriousA11yViolations, signIn, unreachableByKeyboard, watch } from "./testing/browser.ts";
import { ADMIN_KEY, type Harness, startHarness } from "./testing/harness.ts";

let h: Harness;
beforeAll(async () => {
  h = await startHarness("queues", { queues: ["default", "mail", "reports"] });
});
afterAll(async () => {
  await h?.close();
});

const POLL = { timeout: 15_000, interval: 100 };

/** Accessibility and keyboard reach of the page as it is now. */
async function checkPage(page: Page): Promise<void> {
  expect(await seriousA11yViolations(page)).toEqual([]);
  expect(await unreachableByKeyboard(page)).toEqual([]);
}

describe("the console's Queues page", () => {
  it("pauses a queue: its jobs stay queued and the overview says so; resumed, they run", async (ctx) => {
    const { page } = await h.page();
    const { violations } = watch(page, ctx);
    const first = await h.api.submit({ type: "echo", queue: "mail", payload: {} });
    await h.api.waitFor(first.job.id, { timeoutMs: 15_000 });

    await signIn(page, h.base, ADMIN_KEY);
    await page.getByRole("link", { name: "Queues" }).click();
    const row = page.locator('tr[data-queue="mail"]');
    await expect.poll(() => row.locator('[data-col="state"]').textContent(), POLL).toBe("running");
    await checkPage(page);
    await row.getByRole("button", { name: "Pause queue mail" }).click();
    await row.locator('[data-badge="paused"]').waitFor();
    expect(await row.getByRole("button", { name: "Resume queue mail" }).count()).toBe(1);
    expect((await h.api.queue("mail")).settings.paused).toBe(true);

    // Submitted while paused; a job to another queue, submitted after them, runs: the worker is claiming,
    // and it leaves the paused queue's jobs where they are.
    const held = (
      await h.api.submitBatch(
        Array.from({ length: 3 }, (_, i) => ({ type: "echo", queue: "mail", payload: { i } })),
      )
    ).jobs;
    const control = await h.api.submit({ type: "echo", payload: {} });
    expect((await h.api.waitFor(control.job.id, { timeoutMs: 15_000 })).state).toBe("succeeded");
    for (const j of held) expect((await h.api.get(j.id)).state).toBe("queued");

    await page.getByRole("link", { name: "Overview" }).click();
    const overviewRow = page.locator('tr[data-queue="mail"]');
    await overviewRow.locator('[data-badge="paused"]').waitFor();
    await expect.poll(() => overviewRow.locator('[data-col="ready"]').textContent(), POLL).toBe("3");
    await checkPage(page);

    await page.getByRole("link", { name: "Queues" }).click();
    await row.getByRole("button", { name: "Resume queue mail" }).click();
    for (const j of held) expect((await h.api.waitFor(j.id, { timeoutMs: 15_000 })).state).toBe("succeeded");
    await expect.poll(() => row.locator('[data-col="state"]').textContent(), POLL).toBe("running");
    await page.getByRole("link", { name: "Overview" }).click();
    await expect.poll(() => overviewRow.locator("[data-badge]").count(), POLL).toBe(0);
    expect(await overviewRow.locator('[data-col="ready"]').textContent()).toBe("0");
    // The queue's log has both changes, newest first.
    expect((await h.api.queue("mail")).events.map((e) => e.kind)).toEqual(["resumed", "paused"]);
    expect(violations).toEqual([]);
  });

  it("limits a queue to one running job from its page: its jobs then run one after another", async (ctx) => {
    const { page } = await h.page();
    const { violations } = watch(page, ctx);
    await signIn(page, h.base, ADMIN_KEY, "/console/queues/reports");
    await page.getByRole("heading", { name: "Queue reports" }).waitFor();
    await page.getByLabel("Concurrency").fill("1");
    await page.getByRole("button", { name: "Save settings" }).click();
    await expect.poll(() => page.locator(".form-status").first().textContent(), POLL).toBe("Saved.");
    const change = page.locator('tr[data-change="updated"]');
    await expect.poll(() => change.locator(".change-data").textContent(), POLL).toBe('{"concurrency":1}');
    await page.locator('.queue-state [data-badge="limited"]').waitFor();
    expect(await page.getByLabel("Concurrency").inputValue()).toBe("1");
    expect((await h.api.queue("reports")).settings.concurrency).toBe(1);
    await checkPage(page);

    // Three jobs that would all run at once without the limit (the worker runs 100 at a time).
    const jobs = (
      await h.api.submitBatch(
        Array.from({ length: 3 }, () => ({ type: "sleep", queue: "reports", payload: { ms: 600 } })),
      )
    ).jobs;
    const done = [];
    for (const j of jobs) done.push(await h.api.waitFor(j.id, { timeoutMs: 15_000 }));
    const runs = done
      .map((j) => ({ start: Date.parse(j.startedAt ?? ""), end: Date.parse(j.finishedAt ?? "") }))
      .sort((a, b) => a.start - b.start);
    for (let i = 1; i < runs.length; i++)
      expect(runs[i]?.start).toBeGreaterThanOrEqual(runs[i - 1]?.end ?? 0);

    await page.getByRole("link", { name: "Overview" }).click();
    await page.locator('tr[data-queue="reports"] [data-badge="limited"]').waitFor();

    // Cleared again: an empty field is no limit.
    await page.goto(`${h.base}/console/queues/reports`);
    await page.getByLabel("Concurrency").fill("");
    await page.getByRole("button", { name: "Save settings" }).click();
    await expect.poll(async () => (await h.api.queue("reports")).settings.concurrency, POLL).toBeNull();
    await expect.poll(() => page.locator(".queue-state [data-badge]").count(), POLL).toBe(0);
    expect(violations).toEqual([]);
  });

  it("refuses a bad setting with the API's message, and changes nothing", async (ctx) => {
    const { page } = await h.page();
    watch(page, ctx);
    await signIn(page, h.base, ADMIN_KEY, "/console/queues/reports");
    await page.getByLabel("Rate limit: jobs").fill("10");
    await page.getByRole("button", { name: "Save settings" }).click();
    // Caught in the browser: a rate takes both fields.
    await page.getByText("a rate limit takes both the jobs and the seconds (or neither)").waitFor();
    await page.getByLabel("Rate limit: seconds").fill("60");
    await page.getByLabel("Max attempts").fill("1000");
    await page.getByRole("button", { name: "Save settings" }).click();
    const alert = page.getByRole("alert");
    await alert.waitFor();
    expect(await alert.textContent()).toContain("validation_failed");
    expect(await alert.locator("li").first().textContent()).toMatch(/^defaults\.maxAttempts: /);
    const s = (await h.api.queue("reports")).settings;
    expect(s.rateLimit).toBeNull();
    expect(s.defaults.maxAttempts).toBeNull();
  });

  it("counts a queue's delayed jobs, and cancels them only once the dialog is confirmed", async (ctx) => {
    const { page } = await h.page();
    const { violations } = watch(page, ctx);
    const jobs = (
      await h.api.submitBatch(
        Array.from({ length: 4 }, (_, i) => ({
          type: "echo",
          queue: "later",
          payload: { i },
          delayMs: 600_000,
        })),
      )
    ).jobs;
    await signIn(page, h.base, ADMIN_KEY, "/console/queues/later");
    await expect.poll(() => page.locator('[data-fact="delayed"]').textContent(), POLL).toBe("4");
    await page.getByRole("radio", { name: /^Cancel/ }).check();
    await page.getByRole("button", { name: "Count matching jobs" }).click();
    const status = page.locator('[data-status="bulk"]');
    await expect.poll(() => status.textContent(), POLL).toBe("4 jobs would be affected by cancel.");

    await page.getByRole("button", { name: "Cancel matching jobs…" }).click();
    const dialog = page.getByRole("dialog", { name: "Cancel 4 jobs in queue later?" });
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain("This cannot be undone.");
    expect(await seriousA11yViolations(page)).toEqual([]);
    // Focus starts on the answer that changes nothing.
    expect(await page.evaluate("document.activeElement?.textContent")).toBe("Keep them");
    await dialog.getByRole("button", { name: "Keep them" }).click();
    await dialog.waitFor({ state: "hidden" });
    for (const j of jobs) expect((await h.api.get(j.id)).state).toBe("queued");

    await page.getByRole("button", { name: "Cancel matching jobs…" }).click();
    await dialog.getByRole("button", { name: "Cancel 4 jobs" }).click();
    await expect.poll(() => status.textContent(), POLL).toBe("Cancelled 4 jobs.");
    for (const j of jobs) expect((await h.api.get(j.id)).state).toBe("cancelled");
    await expect.poll(() => page.locator('[data-fact="delayed"]').textContent(), POLL).toBe("0");
    await checkPage(page);
    expect(violations).toEqual([]);
  });

  it("offers a key without admin no pause, no settings form and no purge; a read-only key no bulk operation", async (ctx) => {
    const { page } = await h.page();
    const { violations } = watch(page, ctx);
    const writer = await h.keyWith(["jobs:read", "jobs:write"], "writer");
    await signIn(page, h.base, writer, "/console/queues");
    await page.locator('tr[data-queue="mail"]').waitFor();
    expect(await page.getByRole("button", { name: /^(Pause|Resume) queue/ }).count()).toBe(0);
    await page.getByRole("link", { name: "mail", exact: true }).click();
    await page.getByRole("heading", { name: "Settings" }).waitFor();
    expect(await page.getByRole("button", { name: "Save settings" }).count()).toBe(0);
    expect(await page.getByRole("button", { name: "Pause queue" }).count()).toBe(0);
    expect(await page.locator("form.bulk label.inline strong").allTextContents()).toEqual([
      "Retry",
      "Cancel",
      "Run now",
    ]);
    await checkPage(page);

    const reader = await h.page();
    watch(reader.page, ctx);
    await signIn(reader.page, h.base, await h.keyWith(["jobs:read"], "reader"), "/console/queues/mail");
    await reader.page.getByRole("heading", { name: "Settings" }).waitFor();
    expect(await reader.page.locator("form.bulk").count()).toBe(0);
    expect(violations).toEqual([]);
  });
});

describe("the console's Schedules page", () => {
  it("creates a schedule, follows its runs, disables it (its next runs go), enables and deletes it", async (ctx) => {
    const { page } = await h.page();
    const { violations } = watch(page, ctx);
    await signIn(page, h.base, ADMIN_KEY);
    await page.getByRole("link", { name: "Schedules" }).click();
    await page.getByRole("button", { name: "New schedule" }).click();
    await page.getByLabel("Name").fill("heartbeat");
    await page.getByRole("radio", { name: "Fixed interval" }).check();
    await page.getByLabel("Every (seconds)").fill("1");
    await page.getByLabel("Type").fill("echo");
    await page.getByLabel("Payload (JSON)").fill('{"ping": true}');
    await checkPage(page);
    await page.getByRole("button", { name: "Create schedule" }).click();
    await page.getByText("Created schedule heartbeat.").waitFor();

    const row = page.locator('tr[data-schedule="heartbeat"]');
    expect(await row.locator('[data-col="enabled"]').textContent()).toBe("enabled");
    expect(await row.getByRole("list", { name: "Next runs of heartbeat" }).locator("li").count()).toBe(5);
    // The leader fires it every second; the page shows the last run's job and how it ended.
    const last = row.locator('[data-col="last"] a');
    await last.waitFor({ timeout: 15_000 });
    await expect.poll(() => row.locator('[data-col="last"] .badge').textContent(), POLL).toBe("succeeded");
    await checkPage(page);

    await row.getByRole("button", { name: "Disable schedule heartbeat" }).click();
    await expect.poll(() => row.locator('[data-col="enabled"]').textContent(), POLL).toBe("disabled");
    expect(await row.locator('[data-col="next"]').textContent()).toBe("none while disabled");
    const paused = await h.api.findSchedule("heartbeat");
    expect(paused).toMatchObject({ enabled: false, nextFireTimes: [] });

    await row.getByRole("button", { name: "Enable schedule heartbeat" }).click();
    await expect.poll(() => row.locator('[data-col="enabled"]').textContent(), POLL).toBe("enabled");
    await expect
      .poll(() => row.getByRole("list", { name: "Next runs of heartbeat" }).locator("li").count(), POLL)
      .toBe(5);

    // The last run's link opens the job the schedule submitted for its tick.
    const jobHref = (await last.getAttribute("href")) ?? "";
    await last.click();
    await page.locator(".job-state .badge").waitFor();
    expect(page.url()).toBe(h.base + jobHref);
    expect(await page.getByText(/^schedule:/).count()).toBe(1);
    await page.goBack();

    await row.getByRole("button", { name: "Delete schedule heartbeat" }).click();
    const dialog = page.getByRole("dialog", { name: "Delete schedule heartbeat?" });
    await dialog.getByRole("button", { name: "Delete schedule" }).click();
    await expect.poll(() => row.count(), POLL).toBe(0);
    expect(await h.api.findSchedule("heartbeat")).toBeNull();
    expect(violations).toEqual([]);
  });

  it("pages the schedules by cursor", async (ctx) => {
    const { page } = await h.page();
    const { violations } = watch(page, ctx);
    for (let i = 0; i < 52; i++) {
      await h.api.createSchedule({
        name: `report-${String(i).padStart(2, "0")}`,
        cron: "0 3 * * *",
        job: { type: "echo", queue: "reports", payload: { i } },
        enabled: false,
      });
    }
    // By name, as the API lists them (whatever else this file's tests left).
    const names: string[] = [];
    for await (const s of h.api.listAllSchedules()) names.push(s.name);
    expect(names.length).toBeGreaterThanOrEqual(52);
    const shown = () =>
      page.locator("tr[data-schedule]").evaluateAll((rows) => rows.map((r) => r.dataset.schedule));
    await signIn(page, h.base, ADMIN_KEY, "/console/schedules");
    await expect.poll(shown, POLL).toEqual(names.slice(0, 50));
    await page.getByRole("link", { name: "Next page" }).click();
    await expect.poll(shown, POLL).toEqual(names.slice(50, 100));
    expect(new URL(page.url()).searchParams.get("cursor")).toBeTruthy();
    await page.getByRole("link", { name: "First page" }).click();
    await expect.poll(() => page.locator("tr[data-schedule]").count(), POLL).toBe(50);
    expect(violations).toEqual([]);
  });
});
