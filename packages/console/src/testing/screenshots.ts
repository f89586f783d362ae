// `pnpm console:screenshots`: one screenshot of each console page into docs/console/, taken from the real
// console against a real API and worker (Postgres and Redis as for the tests, or `--embedded`), with a
// little real activity: jobs that succeed, run, wait, fail into the dead letters; keys created and revoked.
import { mkdirSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { poll } from "@astraeus/core";
import type { Page } from "playwright-core";
import { signIn } from "./browser.ts";
import { ADMIN_KEY, startHarness, upstreamJob } from "./harness.ts";

const OUT = join(dirname(fileURLToPath(import.meta.url)), "../../../../docs/console");

async function shoot(page: Page, name: string): Promise<void> {
  // Let live values and charts settle, and keep the caret out of the picture.
  await page.waitForLoadState("networkidle").catch(() => {});
  await page.evaluate("document.activeElement?.blur()");
  const file = join(OUT, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  process.stdout.write(`${relative(process.cwd(), file)}\n`);
}

async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  const upstream = { up: false };
  const h = await startHarness("screenshots", {
    mode: process.argv.includes("--embedded") ? "embedded" : "servers",
    queues: ["default", "mail", "reports"],
    jobs: [upstreamJob(upstream)],
  });
  try {
    const texts = [
      "asynchronous cloud workload",
      "Workers claim jobs with fenced leases. Postgres is the truth; Redis holds hints.",
      "The quick brown fox jumps over the lazy dog.",
    ];
    const done = (await h.api.submitBatch(texts.map((text) => ({ payload: { text } })))).jobs;
    const mail = (
      await h.api.submitBatch(
        Array.from({ length: 12 }, (_, i) => ({
          type: "echo",
          queue: "mail",
          payload: { to: `user${i}@example.com` },
        })),
      )
    ).jobs;
    const failing = (
      await h.api.submitBatch(
        Array.from({ length: 4 }, (_, i) => ({
          type: "upstream.call",
          queue: "mail",
          payload: { invoice: 1000 + i },
          maxAttempts: 3,
        })),
      )
    ).jobs;
    await h.api.submit({ payload: { text: "   " } }); // dies at once: the text is empty
    (
      await h.api.submitBatch(
        Array.from({ length: 2 }, () => ({ type: "sleep", payload: { ms: 300_000 } })), // running
      )
    ).jobs;
    (
      await h.api.submitBatch(
        Array.from({ length: 5 }, (_, i) => ({
          type: "echo",
          queue: "mail",
          payload: { i },
          delayMs: 3_600_000,
        })),
      )
    ).jobs;
    (
      await h.api.submitBatch(
        Array.from({ length: 7 }, (_, i) => ({
          type: "report.build",
          queue: "reports",
          payload: { month: i + 1 },
        })),
      )
    ).jobs;
    for (const j of [...done, ...mail, ...failing]) await h.api.waitFor(j.id, { timeoutMs: 30_000 });
    // Queue control: reports paused during an incident (its jobs wait), mail limited with defaults of its
    // own, then paused and resumed once, so its log has a few changes.
    await h.api.pauseQueue("reports");
    await h.api.updateQueue("mail", {
      concurrency: 5,
      rateLimit: { jobs: 100, perSeconds: 60 },
      defaults: {
        maxAttempts: 5,
        timeoutMs: 120_000,
        backoff: { baseMs: 1000, maxMs: 300_000, factor: 2, jitter: true },
      },
    });
    await h.api.pauseQueue("mail");
    await h.api.resumeQueue("mail");
    // Schedules: one that fires every few seconds (it has a last run), a nightly cron, a disabled one.
    const pulse = await h.api.createSchedule({
      name: "heartbeat",
      intervalMs: 2_000,
      job: { type: "echo", payload: { ping: true } },
      overlap: "skip",
    });
    await h.api.createSchedule({
      name: "nightly-report",
      cron: "30 2 * * *",
      timezone: "Europe/Berlin",
      job: { type: "report.build", queue: "reports", payload: { period: "day" } },
      missedRuns: "latest",
    });
    await h.api.createSchedule({
      name: "weekly-digest",
      cron: "0 8 * * MON",
      job: { type: "echo", queue: "mail", payload: { digest: "weekly" } },
      enabled: false,
    });
    await poll(
      async () => ((await h.api.getSchedule(pulse.id)).lastRun?.state === "succeeded" ? true : undefined),
      { intervalMs: 200, timeoutMs: 20_000 },
    );
    await h.api.createKey({ tenant: "acme", name: "billing-service", scopes: ["jobs:read", "jobs:write"] });
    await h.api.createKey({ tenant: "acme", name: "on-call dashboard", scopes: ["jobs:read"] });
    const old = await h.api.createKey({ tenant: "acme", name: "legacy cron", scopes: ["jobs:write"] });
    await h.api.revokeKey(old.id);

    const { page } = await h.page();
    await page.goto(`${h.base}/console/`);
    await page.getByLabel("API key").waitFor();
    await shoot(page, "sign-in");

    await signIn(page, h.base, ADMIN_KEY);
    await page.locator('tr[data-queue="reports"] [data-badge="paused"]').waitFor();
    await page.locator('[data-stat="workers"]').waitFor();
    await shoot(page, "overview");

    await page.goto(`${h.base}/console/jobs`);
    await page.locator("tr[data-job]").first().waitFor();
    await shoot(page, "jobs");

    const dead = failing[0];
    if (dead) {
      await page.goto(`${h.base}/console/jobs/${dead.id}`);
      await page.locator(".live-ended").waitFor();
      await shoot(page, "job");
    }

    await page.goto(`${h.base}/console/dead-letters`);
    await page.locator(".dead-group").first().waitFor();
    await shoot(page, "dead-letters");

    await page.goto(`${h.base}/console/queues`);
    await page.locator('tr[data-queue="reports"] [data-badge="paused"]').waitFor();
    await shoot(page, "queues");

    await page.goto(`${h.base}/console/queues/mail`);
    await page.locator('tr[data-change="updated"]').waitFor();
    await page.getByRole("radio", { name: /^Cancel/ }).check();
    await page.getByRole("button", { name: "Count matching jobs" }).click();
    await page.locator('[data-status="bulk"]').filter({ hasText: "would be affected" }).waitFor();
    await shoot(page, "queue");

    await page.goto(`${h.base}/console/schedules`);
    await page.locator('tr[data-schedule="heartbeat"] [data-col="last"] a').waitFor();
    await shoot(page, "schedules");

    await page.goto(`${h.base}/console/keys`);
    await page.getByLabel("Name").fill("deploy pipeline");
    await page.getByRole("button", { name: "Create key" }).click();
    await page.getByLabel("The new key").waitFor();
    await shoot(page, "keys");
  } finally {
    await h.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(
    `console screenshots failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exitCode = 1;
});
