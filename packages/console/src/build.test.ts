// The built console loads nothing from outside the server and has nothing inline for the CSP to allow.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { consoleForTests } from "../build.mjs";

let dir: string;
let files: string[];
beforeAll(async () => {
  dir = await consoleForTests();
  files = readdirSync(join(dir, "assets"));
});

describe("the built console", () => {
  it("is a page whose scripts and styles are files under /console/assets, none inline", () => {
    const html = readFileSync(join(dir, "index.html"), "utf8");
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attrs, body] of scripts) {
      expect(attrs).toMatch(/\bsrc="\/console\/assets\/[^"]+\.js"/);
      expect(body?.trim()).toBe("");
    }
    expect(html).not.toMatch(/<style\b/);
    expect(html).not.toMatch(/\sstyle=/);
    expect(html).not.toMatch(/\son[a-z]+=/);
    for (const [, url] of html.matchAll(/(?:src|href)="([^"]+)"/g))
      expect(url).toMatch(/^\/console\/assets\//);
    for (const [, name] of html.matchAll(/\/console\/assets\/([^"]+)"/g)) expect(files).toContain(name);
  });

  it("names every asset by its content hash and references no other origin", () => {
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      expect(f).toMatch(/-[A-Za-z0-9_-]{8}\.(js|css|svg)$/);
      const text = readFileSync(join(dir, "assets", f), "utf8");
      // No fetch of code, fonts or styles from elsewhere (the SVG's XML namespace is a name, not a load).
      const urls = [...text.matchAll(/\b(?:https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}[^\s"'`)]*/gi)].map(
        (m) => m[0],
      );
      expect(urls.filter((u) => !u.startsWith("http://www.w3.org/"))).toEqual([]);
      // Nor from the page itself as data: (img-src is 'self' only).
      expect(text).not.toMatch(/@import\b|url\((?!["']?\/console\/)/);
    }
  });
});
