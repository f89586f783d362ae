import type { IncomingHttpHeaders } from "node:http";
import type { Context } from "hono";

/**
 * One request header. Under @hono/node-server it is read from Node's own parsed header object: asking
 * the WHATWG Request for a header makes the adapter build a full Headers copy of the request first,
 * which is a noticeable share of a small request's CPU. Elsewhere (tests via app.request) it falls back.
 */
export function header(c: Context, name: string): string | undefined {
  const incoming = (c.env as { incoming?: { headers: IncomingHttpHeaders } } | undefined)?.incoming;
  if (incoming) {
    const v = incoming.headers[name];
    return Array.isArray(v) ? v.join(", ") : v;
  }
  return c.req.header(name);
}
