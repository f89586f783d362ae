// Which IP addresses a webhook may be sent to: public unicast only, unless an allow-list names the range.
// Refused: loopback, private (RFC 1918), link-local (169.254.0.0/16 with the cloud metadata address,
// fe80::/10), unique-local (fc00::/7, e.g. AWS's fd00:ec2::254), carrier-grade NAT, multicast, broadcast,
// unspecified and reserved ranges, and IPv6 forms that embed an IPv4 address (IPv4-mapped ::ffff:a.b.c.d is
// judged as the IPv4 address it maps; NAT64, 6to4, Teredo and IPv4-compatible ::a.b.c.d are refused).
import ipaddr from "ipaddr.js";

type Address = ipaddr.IPv4 | ipaddr.IPv6;

/** One allow-list entry: a parsed CIDR range. */
export interface Cidr {
  readonly text: string;
  readonly range: [Address, number];
}

export interface AddressVerdict {
  allowed: boolean;
  /** ipaddr.js's name of the address's range (`unicast`, `loopback`, `private`, `linkLocal`, …). */
  range: string;
  /** The address as judged (an IPv4-mapped IPv6 address as its IPv4 address). */
  address: string;
}

/**
 * Parses a comma- or space-separated list of CIDR ranges (`127.0.0.1/32, 10.0.0.0/8, fd00::/8`); a bare
 * address is a range of one. Throws naming the first entry that is not one.
 */
export function parseCidrs(list: string): Cidr[] {
  const out: Cidr[] = [];
  for (const text of list.split(/[\s,]+/).filter(Boolean)) {
    try {
      const range: [Address, number] = text.includes("/")
        ? ipaddr.parseCIDR(text)
        : (() => {
            const a = ipaddr.parse(text);
            return [a, a.kind() === "ipv4" ? 32 : 128] as [Address, number];
          })();
      out.push({
        text,
        range: [
          normalise(range[0]),
          range[0].kind() === "ipv6" && isMapped(range[0]) ? range[1] - 96 : range[1],
        ],
      });
    } catch {
      throw new Error(`not an IP address or CIDR range: ${JSON.stringify(text)}`);
    }
  }
  return out;
}

function isMapped(a: Address): boolean {
  return a.kind() === "ipv6" && (a as ipaddr.IPv6).isIPv4MappedAddress();
}

/** An IPv4-mapped IPv6 address as its IPv4 address; anything else as it is. */
function normalise(a: Address): Address {
  return isMapped(a) ? (a as ipaddr.IPv6).toIPv4Address() : a;
}

/** IPv6 ranges that carry an IPv4 address the receiver would reach through a translator or tunnel. */
const EMBEDS_IPV4 = new Set(["rfc6145", "rfc6052", "6to4", "teredo"]);

/** Whether a webhook may go to `ip`. Addresses in an `allow` range always may. */
export function classifyAddress(ip: string, allow: readonly Cidr[] = []): AddressVerdict {
  let parsed: Address;
  try {
    parsed = normalise(ipaddr.parse(ip.replace(/^\[|\]$/g, "")));
  } catch {
    return { allowed: false, range: "invalid", address: ip };
  }
  const address = parsed.toString();
  let range: string = parsed.range();
  // ::/96 other than :: itself is the deprecated IPv4-compatible form (::127.0.0.1); nothing public lives
  // in ::/8, which ipaddr.js would otherwise call unicast.
  if (parsed.kind() === "ipv6" && range === "unicast" && (parsed as ipaddr.IPv6).parts[0] === 0)
    range = "reserved";
  if (EMBEDS_IPV4.has(range)) range = `${range} (embeds an IPv4 address)`;
  const listed = allow.some((c) => c.range[0].kind() === parsed.kind() && parsed.match(c.range));
  return { allowed: listed || range === "unicast", range, address };
}
