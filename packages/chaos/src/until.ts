import { poll } from "@astraeus/core";

/** Resolves once `check` is true; throws naming `what` when `timeoutMs` passes first. */
export async function until(
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  what: string,
  intervalMs = 50,
): Promise<void> {
  const ok = await poll(async () => ((await check()) ? true : undefined), { intervalMs, timeoutMs });
  if (!ok) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
