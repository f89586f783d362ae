import { describe, expect, it } from "vitest";
import { classifyAddress, parseCidrs } from "./address.ts";

describe("the webhook address classifier", () => {
  it.each([
    ["127.0.0.1", "loopback"],
    ["127.255.0.9", "loopback"],
    ["10.1.2.3", "private"],
    ["172.16.0.1", "private"],
    ["172.31.255.254", "private"],
    ["192.168.1.1", "private"],
    ["169.254.169.254", "linkLocal"],
    ["169.254.0.1", "linkLocal"],
    ["100.64.0.1", "carrierGradeNat"],
    ["0.0.0.0", "unspecified"],
    ["255.255.255.255", "broadcast"],
    ["224.0.0.1", "multicast"],
    ["192.0.2.1", "reserved"],
    ["::1", "loopback"],
    ["[::1]", "loopback"],
    ["::", "unspecified"],
    ["fe80::1", "linkLocal"],
    ["fc00::1", "uniqueLocal"],
    ["fd00:ec2::254", "uniqueLocal"],
    ["ff02::1", "multicast"],
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:7f00:1", "loopback"],
    ["::ffff:10.0.0.1", "private"],
    ["::ffff:169.254.169.254", "linkLocal"],
    ["::ffff:a9fe:a9fe", "linkLocal"],
    ["64:ff9b::a9fe:a9fe", "rfc6052 (embeds an IPv4 address)"],
    ["2002:a9fe:a9fe::", "6to4 (embeds an IPv4 address)"],
    ["2001::a9fe:a9fe", "teredo (embeds an IPv4 address)"],
    ["not-an-ip", "invalid"],
  ])("refuses %s (%s)", (ip, range) => {
    expect(classifyAddress(ip)).toMatchObject({ allowed: false, range });
  });

  it.each([
    "93.184.216.34",
    "8.8.8.8",
    "1.1.1.1",
    "2606:4700::1111",
    "2a00:1450:4001:80b::200e",
    "::ffff:8.8.8.8",
  ])("allows the public unicast address %s", (ip) => {
    expect(classifyAddress(ip)).toMatchObject({ allowed: true, range: "unicast" });
  });

  it("allows exactly the ranges of the allow-list, IPv4-mapped forms included", () => {
    const allow = parseCidrs("127.0.0.1/32, 10.20.0.0/16 ::1");
    expect(classifyAddress("127.0.0.1", allow).allowed).toBe(true);
    expect(classifyAddress("::ffff:127.0.0.1", allow).allowed).toBe(true);
    expect(classifyAddress("127.0.0.2", allow).allowed).toBe(false);
    expect(classifyAddress("10.20.9.9", allow).allowed).toBe(true);
    expect(classifyAddress("10.21.0.1", allow).allowed).toBe(false);
    expect(classifyAddress("::1", allow).allowed).toBe(true);
    expect(classifyAddress("169.254.169.254", allow).allowed).toBe(false);
    // An IPv4-mapped range in the list means the IPv4 range.
    expect(classifyAddress("10.0.0.7", parseCidrs("::ffff:10.0.0.0/104")).allowed).toBe(true);
  });

  it("refuses an allow-list entry that is not an address or range, naming it", () => {
    expect(() => parseCidrs("10.0.0.0/8, 10.0.0.0/33")).toThrow(/"10\.0\.0\.0\/33"/);
    expect(() => parseCidrs("localhost")).toThrow(/"localhost"/);
    expect(parseCidrs("  ")).toEqual([]);
  });
});
