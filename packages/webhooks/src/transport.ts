// Sends one webhook request the Standard Webhooks way: `webhook-id`, `webhook-timestamp` and
// `webhook-signature` (one `v1,<base64>` per secret, signed with the `standardwebhooks` package that
// receivers verify with). The target is checked before every request and the connection is pinned to the
// checked address through a custom `lookup`, so a DNS answer that changes in between (rebinding) cannot
// redirect it; redirects are not followed; at most `maxResponseBytes` of the answer are read; a plain timer
// bounds the whole request.
import http from "node:http";
import https from "node:https";
import type { LookupFunction } from "node:net";
import type { WebhookRequest, WebhookResponse, WebhookTransport } from "@astraeus/core";
import { Webhook } from "standardwebhooks";
import { type LookupAll, resolveTarget, systemLookup, type TargetPolicy, TargetRefused } from "./target.ts";

export interface HttpWebhookTransportOptions {
  policy: TargetPolicy;
  /** Longest one request may take, connection to last byte read, in ms. Default 10000. */
  timeoutMs?: number;
  /** Most bytes of a response read (the rest is dropped with the connection). Default 4096. */
  maxResponseBytes?: number;
  /** Default "Astraeus-Webhooks/1". */
  userAgent?: string;
  /** Resolves host names (tests). Default: the system resolver. */
  lookup?: LookupAll;
}

/** The `webhook-signature` value: every secret's signature, space-separated. */
export function signatureHeader(secrets: readonly string[], id: string, at: Date, body: string): string {
  return secrets.map((s) => new Webhook(s).sign(id, at, body)).join(" ");
}

/** Connects to `address` whatever the name: the answer the target check accepted. */
function pinnedLookup(address: string, family: 4 | 6): LookupFunction {
  return (_hostname, options, callback) => {
    if ((options as { all?: boolean }).all) {
      (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [
        { address, family },
      ]);
    } else {
      callback(null, address, family);
    }
  };
}

const ERROR_TEXT_MAX = 300;

export class HttpWebhookTransport implements WebhookTransport {
  private readonly policy: TargetPolicy;
  private readonly timeoutMs: number;
  private readonly maxResponseBytes: number;
  private readonly userAgent: string;
  private readonly lookup: LookupAll;
  // Keep-alive per scheme: a pooled socket stays connected to the address that was checked when it opened.
  private readonly agents = {
    "http:": new http.Agent({ keepAlive: true, maxFreeSockets: 16 }),
    "https:": new https.Agent({ keepAlive: true, maxFreeSockets: 16 }),
  };

  constructor(opts: HttpWebhookTransportOptions) {
    this.policy = opts.policy;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.maxResponseBytes = opts.maxResponseBytes ?? 4096;
    this.userAgent = opts.userAgent ?? "Astraeus-Webhooks/1";
    this.lookup = opts.lookup ?? systemLookup;
  }

  async send(req: WebhookRequest): Promise<WebhookResponse> {
    const started = performance.now();
    const done = (r: Omit<WebhookResponse, "latencyMs">): WebhookResponse => ({
      ...r,
      latencyMs: Math.round(performance.now() - started),
    });
    let target: Awaited<ReturnType<typeof resolveTarget>>;
    // The timeout bounds the lookup too: a name server that never answers must not hold the slot past it.
    let lookupTimer: NodeJS.Timeout | undefined;
    const lookupTimedOut = new Promise<"timeout">((resolve) => {
      lookupTimer = setTimeout(() => resolve("timeout"), this.timeoutMs);
    });
    try {
      const resolved = await Promise.race([resolveTarget(req.url, this.policy, this.lookup), lookupTimedOut]);
      if (resolved === "timeout") {
        return done({
          ok: false,
          statusCode: null,
          error: `timed out after ${this.timeoutMs} ms resolving the host`,
        });
      }
      target = resolved;
    } catch (err) {
      const reason = err instanceof TargetRefused ? err.message : String(err);
      return done({ ok: false, statusCode: null, error: `refused: ${reason}` });
    } finally {
      clearTimeout(lookupTimer);
    }
    // What is left of the timeout once the host is resolved.
    const remainingMs = Math.max(1, this.timeoutMs - Math.round(performance.now() - started));
    const body = Buffer.from(req.body, "utf8");
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "content-length": String(body.length),
      "user-agent": this.userAgent,
      "webhook-id": req.messageId,
      "webhook-timestamp": String(Math.floor(req.timestamp.getTime() / 1000)),
      "webhook-signature": signatureHeader(req.secrets, req.messageId, req.timestamp, req.body),
    };
    const { url } = target;
    const secure = url.protocol === "https:";
    const result = await new Promise<Omit<WebhookResponse, "latencyMs">>((resolve) => {
      let settled = false;
      const settle = (r: Omit<WebhookResponse, "latencyMs">) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.signal?.removeEventListener("abort", onAbort);
        resolve(r);
      };
      const request = (secure ? https : http).request({
        protocol: url.protocol,
        host: target.host,
        port: url.port || (secure ? 443 : 80),
        path: `${url.pathname}${url.search}`,
        method: "POST",
        headers,
        agent: this.agents[secure ? "https:" : "http:"],
        lookup: pinnedLookup(target.address, target.family),
        // TLS checks the certificate against the name, not the address connected to.
        ...(secure ? { servername: target.host } : {}),
      });
      // A plain timer rather than AbortSignal.timeout (which Node 20 can collect before it fires).
      const timer = setTimeout(() => {
        request.destroy(new Error(`timed out after ${this.timeoutMs} ms`));
      }, remainingMs);
      const onAbort = () => request.destroy(new Error("aborted: the sender is stopping"));
      req.signal?.addEventListener("abort", onAbort, { once: true });
      if (req.signal?.aborted) onAbort();
      request.on("error", (err) => settle({ ok: false, statusCode: null, error: describe(err) }));
      request.on("response", (res) => {
        const status = res.statusCode ?? 0;
        const chunks: Buffer[] = [];
        let size = 0;
        const finish = () => {
          const text = Buffer.concat(chunks).subarray(0, this.maxResponseBytes).toString("utf8");
          if (status >= 200 && status < 300) return settle({ ok: true, statusCode: status, error: null });
          const why =
            status >= 300 && status < 400
              ? `HTTP ${status}: redirects are not followed${res.headers.location ? ` (to ${res.headers.location})` : ""}`
              : `HTTP ${status}${text.trim() ? `: ${text.trim()}` : ""}`;
          settle({ ok: false, statusCode: status, error: why.slice(0, ERROR_TEXT_MAX) });
        };
        res.on("data", (chunk: Buffer) => {
          if (size < this.maxResponseBytes) chunks.push(chunk);
          size += chunk.length;
          // Enough read: the rest is not waited for (a receiver streaming forever cannot hold the slot).
          if (size >= this.maxResponseBytes) {
            finish();
            res.destroy();
          }
        });
        res.on("end", finish);
        res.on("error", (err) => settle({ ok: false, statusCode: status, error: describe(err) }));
        res.on("close", finish);
      });
      request.end(body);
    });
    return done(result);
  }

  /** Closes pooled connections. */
  close(): void {
    this.agents["http:"].destroy();
    this.agents["https:"].destroy();
  }
}

function describe(err: Error): string {
  const code = (err as { code?: string }).code;
  const text = code && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
  return text.slice(0, ERROR_TEXT_MAX);
}
