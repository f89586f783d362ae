// The console on the embedded default (PGlite, in-process dispatch, the worker in the API's process), as
// `pnpm dev` runs it from a fresh clone: sign in, a job submitted through the API is followed to its end.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signIn, watch } from "./testing/browser.ts";
import { ADMIN_KEY, type Harness, startHarness } from "./testing/harness.ts";

let h: Harness;
beforeAll(async () => {
  h = await startHarness("embedded", { mode: "embedded" });
}, 120_000);
afterAll(async () => {
  await h?.close();
});

describe("the console on the embedded default", () => {
  it("follows a submitted job to its result and shows it on the overview", async (ctx) => {
    const { page } = await h.page();
    const { violations } = watch(page, ctx);
    await signIn(page, h.base, ADMIN_KEY);
    const { job } = await h.api.submit({ payload: { text: "asynchronous cloud workload" } });
    await page.goto(`${h.base}/console/jobs/${job.id}`);
    await expect
      .poll(() => page.locator(".job-state .badge").textContent(), { timeout: 20_000 })
      .toBe("succeeded");
    expect(await page.getByRole("region", { name: "Result" }).textContent()).toContain('"words": 3');

    await page.getByRole("link", { name: "Overview" }).click();
    const row = page.locator('tr[data-queue="default"]');
    await expect
      .poll(() => row.locator('[data-col="completed-hour"]').textContent(), { timeout: 20_000 })
      .toBe("1");
    expect(violations).toEqual([]);
  });
});
