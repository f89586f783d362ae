// Where a webhook URL may point: its scheme, no credentials, and every address its host resolves to must
// pass the address classifier. Checked when an endpoint is created or changed, and again before every
// request, whose connection then goes to the address that was checked (see transport.ts).
import { lookup as dnsLookup } from "node:dns/promises";
import { isIP } from "node:net";
import { AppError, type WebhookTargetGuard } from "@astraeus/core";
import { type Cidr, classifyAddress } from "./address.ts";

export interface TargetPolicy {
  /** Accept http:// URLs (local development). Default false: https only. */
  allowHttp: boolean;
  /** Ranges accepted although not public (e.g. 127.0.0.1/32 for a receiver on this machine). Default none. */
  allow: readonly Cidr[];
}

export const DEFAULT_TARGET_POLICY: TargetPolicy = { allowHttp: false, allow: [] };

/** Every address of a host name (the system resolver, as connections use it). */
export type LookupAll = (hostname: string) => Promise<{ address: string; family: number }[]>;

export const systemLookup: LookupAll = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

export class TargetRefused extends Error {
  override readonly name = "TargetRefused";
}

export interface ResolvedTarget {
  url: URL;
  /** The host name without IPv6 brackets. */
  host: string;
  /** The checked address the connection must go to. */
  address: string;
  family: 4 | 6;
}

/** Checks `url` and resolves its host; throws TargetRefused saying why it may not be used. */
export async function resolveTarget(
  url: string,
  policy: TargetPolicy,
  lookup: LookupAll = systemLookup,
): Promise<ResolvedTarget> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TargetRefused("not a URL");
  }
  if (u.protocol !== "https:" && !(u.protocol === "http:" && policy.allowHttp)) {
    throw new TargetRefused(
      u.protocol === "http:" ? "http is not allowed here, use https (WEBHOOK_ALLOW_HTTP)" : "only https URLs",
    );
  }
  // They would be shown in every listing of the endpoint; receivers authenticate by the signature.
  if (u.username || u.password) throw new TargetRefused("credentials in the URL are not allowed");
  const host = u.hostname.replace(/^\[|\]$/g, "");
  let addresses: { address: string; family: number }[];
  if (isIP(host)) {
    addresses = [{ address: host, family: isIP(host) }];
  } else {
    try {
      addresses = await lookup(host);
    } catch (err) {
      const code = (err as { code?: string }).code;
      throw new TargetRefused(`${host} does not resolve${code ? ` (${code})` : ""}`);
    }
    if (addresses.length === 0) throw new TargetRefused(`${host} does not resolve`);
  }
  // Every address must pass: a host resolving to a public and a private address could be answered with
  // either on the next lookup.
  for (const a of addresses) {
    const v = classifyAddress(a.address, policy.allow);
    if (!v.allowed) {
      throw new TargetRefused(
        `${host === v.address ? v.address : `${host} resolves to ${v.address}`}, a ${v.range} address (allow it with WEBHOOK_ALLOWED_CIDRS)`,
      );
    }
  }
  const first = addresses[0] as { address: string; family: number };
  return { url: u, host, address: first.address, family: first.family === 6 ? 6 : 4 };
}

/** The check the API runs when an endpoint's URL is set: a refusal is a 422 naming the reason. */
export function createTargetGuard(
  policy: TargetPolicy,
  lookup: LookupAll = systemLookup,
): WebhookTargetGuard {
  return {
    async check(url: string): Promise<void> {
      try {
        await resolveTarget(url, policy, lookup);
      } catch (err) {
        if (!(err instanceof TargetRefused)) throw err;
        throw new AppError("validation_failed", `the webhook URL is refused: ${err.message}`, {
          issues: [{ path: "url", message: err.message }],
        });
      }
    },
  };
}
