import { isAppError } from "@astraeus/core";
import { describe, expect, it } from "vitest";
import { parseCidrs } from "./address.ts";
import { createTargetGuard, type LookupAll, resolveTarget, type TargetPolicy } from "./target.ts";

const dns: Record<string, string[]> = {
  "hooks.example.com": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
  "metadata.example.com": ["169.254.169.254"],
  "mixed.example.com": ["93.184.216.34", "10.0.0.5"],
  "mapped.example.com": ["::ffff:127.0.0.1"],
  "local.test": ["127.0.0.1"],
};
const lookup: LookupAll = async (host) => {
  const list = dns[host];
  if (!list) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: "ENOTFOUND" });
  return list.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
};
const strict: TargetPolicy = { allowHttp: false, allow: [] };

describe("webhook targets", () => {
  it("resolves a public https URL to its first address", async () => {
    const t = await resolveTarget("https://hooks.example.com/in?x=1", strict, lookup);
    expect(t).toMatchObject({ host: "hooks.example.com", address: "93.184.216.34", family: 4 });
  });

  it.each([
    ["http://hooks.example.com/in", /http is not allowed/],
    ["ftp://hooks.example.com/in", /only https/],
    ["https://user:secret@hooks.example.com/in", /credentials/],
    ["https://metadata.example.com/", /resolves to 169\.254\.169\.254, a linkLocal address/],
    ["https://169.254.169.254/latest/meta-data", /169\.254\.169\.254, a linkLocal address/],
    ["https://mixed.example.com/", /resolves to 10\.0\.0\.5, a private address/],
    ["https://mapped.example.com/", /resolves to 127\.0\.0\.1, a loopback address/],
    ["https://[::1]:8443/", /::1, a loopback address/],
    ["https://[fd00:ec2::254]/", /uniqueLocal/],
    ["https://[::ffff:10.1.1.1]/", /private/],
    ["https://nowhere.invalid/", /does not resolve \(ENOTFOUND\)/],
  ])("refuses %s", async (url, why) => {
    await expect(resolveTarget(url, strict, lookup)).rejects.toThrow(why);
  });

  it("accepts http and listed ranges only where the policy says so", async () => {
    const dev: TargetPolicy = { allowHttp: true, allow: parseCidrs("127.0.0.1/32") };
    expect((await resolveTarget("http://local.test:3000/h", dev, lookup)).address).toBe("127.0.0.1");
    await expect(
      resolveTarget("http://local.test:3000/h", { ...dev, allowHttp: false }, lookup),
    ).rejects.toThrow(/http is not allowed/);
    await expect(resolveTarget("http://127.0.0.2:3000/h", dev, lookup)).rejects.toThrow(/loopback/);
  });

  it("answers the API's check with a 422-style error naming the url field", async () => {
    const guard = createTargetGuard(strict, lookup);
    await expect(guard.check("https://hooks.example.com/in")).resolves.toBeUndefined();
    const err = await guard.check("https://metadata.example.com/").catch((e: unknown) => e);
    expect(isAppError(err, "validation_failed")).toBe(true);
    expect((err as { details: { issues: { path: string }[] } }).details.issues[0]?.path).toBe("url");
  });
});
