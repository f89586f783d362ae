// The first admin key. In AWS it comes from Secrets Manager as ASTRAEUS_ADMIN_KEY; in embedded local
// mode it is generated on first start, kept in the data folder (mode 0600) and printed that once.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { generateKey } from "./auth/keys.ts";

export const ADMIN_KEY_FILE = "admin.key";

export interface BootstrapKey {
  key: string;
  /** True when it was generated just now (the caller prints it once). */
  generated: boolean;
  /** Where it is kept, for embedded mode. */
  file?: string;
}

export async function embeddedAdminKey(dataDir: string): Promise<BootstrapKey> {
  const file = join(dataDir, ADMIN_KEY_FILE);
  try {
    const key = (await readFile(file, "utf8")).trim();
    if (key.length >= 24) return { key, generated: false, file };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  await mkdir(dataDir, { recursive: true });
  const key = generateKey();
  // "wx": never overwrite a key another process wrote in the meantime.
  try {
    await writeFile(file, `${key}\n`, { mode: 0o600, flag: "wx" });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return embeddedAdminKey(dataDir);
    throw err;
  }
  return { key, generated: true, file };
}
