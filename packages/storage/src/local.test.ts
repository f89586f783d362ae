import { mkdir, mkdtemp, readdir, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { LocalObjectStore } from "./local.ts";
import { objectStoreContract } from "./store.contract.ts";

async function walk(dir: string, root = dir): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p, root)));
    else out.push(relative(root, p));
  }
  return out;
}

objectStoreContract("local disk", async () => {
  const root = await mkdtemp(join(tmpdir(), "astraeus-local-store-"));
  return {
    store: new LocalObjectStore(root),
    listAll: () => walk(root),
    close: () => rm(root, { recursive: true, force: true }),
  };
});

describe("local store", () => {
  it("lays objects out as <root>/files/<tenant>/<id>, derived from the key alone", async () => {
    const root = await mkdtemp(join(tmpdir(), "astraeus-local-layout-"));
    try {
      const store = new LocalObjectStore(root);
      const { Readable } = await import("node:stream");
      await store.put("files/acme/0196a1f2-7c3e-7a10-8000-4f0c2b6f1a2e", Readable.from([Buffer.from("x")]), {
        contentType: "text/plain",
      });
      expect(await walk(root)).toEqual([join("files", "acme", "0196a1f2-7c3e-7a10-8000-4f0c2b6f1a2e")]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it("cleanup removes leftovers of interrupted writes older than the threshold, and only those", async () => {
    const root = await mkdtemp(join(tmpdir(), "astraeus-local-cleanup-"));
    try {
      const store = new LocalObjectStore(root);
      await mkdir(join(root, ".tmp"), { recursive: true });
      const old = join(root, ".tmp", "old.part");
      const fresh = join(root, ".tmp", "fresh.part");
      await writeFile(old, "partial");
      await writeFile(fresh, "in progress");
      const hourAgo = new Date(Date.now() - 3_600_000);
      await utimes(old, hourAgo, hourAgo);
      expect(await store.cleanup(600_000)).toBe(1);
      await expect(stat(old)).rejects.toThrow();
      expect((await stat(fresh)).size).toBe(11);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
