// What every browser test does with a page: sign in as a person would, check accessibility with axe-core,
// notice any Content-Security-Policy violation, and keep a screenshot when the test fails.
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Page } from "playwright-core";
import type { TestContext } from "vitest";

const FAILURES = join(dirname(fileURLToPath(import.meta.url)), "../../.test-failures");
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/** Signs in through the sign-in form and waits for the signed-in layout. */
export async function signIn(page: Page, base: string, key: string, path = "/console/"): Promise<void> {
  await page.goto(base + path);
  await page.getByLabel("API key").fill(key);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("button", { name: "Sign out" }).waitFor();
}

/**
 * Records the page's CSP and Trusted Types violations (the browser reports each on the console) and, if
 * the test fails, saves a full-page screenshot under packages/console/.test-failures.
 */
export function watch(page: Page, ctx: TestContext): { violations: string[] } {
  const violations: string[] = [];
  page.on("console", (msg) => {
    const text = msg.text();
    if (/Content[- ]Security[- ]Policy|Trusted ?(Type|HTML|Script)/i.test(text)) violations.push(text);
  });
  ctx.onTestFailed(async () => {
    mkdirSync(FAILURES, { recursive: true });
    const file = join(FAILURES, `${ctx.task.name.replace(/[^A-Za-z0-9._-]+/g, "_").slice(0, 120)}.png`);
    await page.screenshot({ path: file, fullPage: true }).then(
      () => process.stderr.write(`screenshot of the failed test: ${file}\n`),
      () => {},
    );
  });
  return { violations };
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: string[];
}

/** axe-core's serious and critical violations on the page as it is now (none is the goal). */
export async function seriousA11yViolations(page: Page): Promise<AxeViolation[]> {
  // Evaluated through the DevTools protocol, which the page's CSP does not govern (an injected <script>
  // would be refused, as it should be).
  await page.evaluate(`${AXE_SOURCE};0`);
  const result = (await page.evaluate(
    `axe.run(document, { resultTypes: ["violations"] }).then((r) => r.violations.map((v) => ({
       id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(" ")) })))`,
  )) as AxeViolation[];
  return result.filter((v) => v.impact === "serious" || v.impact === "critical");
}

/**
 * The page's visible, enabled controls that Tab never reaches from the top of the page (none is the goal).
 * Each control is told apart by a data attribute set for the check. The radio buttons of a group are one
 * Tab stop (the arrow keys move between them, as in every browser): reaching one reaches the group.
 */
export async function unreachableByKeyboard(page: Page): Promise<string[]> {
  // A control's Tab stop: its own, or its radio group's.
  const stopOf = `(el) => el.type === "radio" && el.name ? "radio:" + (el.form?.id ?? "") + "/" + el.name : el.dataset.kbd`;
  const stops = (await page.evaluate(`(() => {
    const controls = [...document.querySelectorAll(
      "a[href], button, input:not([type=hidden]), select, textarea, [tabindex]:not([tabindex='-1'])",
    )].filter((el) => {
      const r = el.getBoundingClientRect();
      return r.width > 0 && r.height > 0 && !el.disabled;
    });
    controls.forEach((el, i) => { el.dataset.kbd = String(i); });
    document.activeElement?.blur();
    return new Set(controls.map(${stopOf})).size;
  })()`)) as number;
  const reached = new Set<string>();
  // Twice the number of stops, plus the skip link's jump: enough to pass every one once.
  for (let i = 0; i < stops * 2 + 2 && reached.size < stops; i++) {
    await page.keyboard.press("Tab");
    const stop = (await page.evaluate(
      `(() => { const el = document.activeElement; return el?.dataset?.kbd ? (${stopOf})(el) : null; })()`,
    )) as string | null;
    if (stop !== null) reached.add(stop);
  }
  return (await page.evaluate(`[...document.querySelectorAll("[data-kbd]")]
    .filter((el) => !${JSON.stringify([...reached])}.includes((${stopOf})(el)))
    .map((el) => el.tagName.toLowerCase() + ' "' + (el.getAttribute("aria-label") ?? el.textContent ?? "").trim() + '"')`)) as string[];
}
