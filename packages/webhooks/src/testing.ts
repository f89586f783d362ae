// Test support (not a test file): a real HTTP receiver on 127.0.0.1 that records every request it gets
// and answers as the test says. Tests allow 127.0.0.1/32 in their target policy to reach it.
import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { parseCidrs } from "./address.ts";
import type { TargetPolicy } from "./target.ts";

export interface ReceivedWebhook {
  /** Lower-case header names. */
  headers: Record<string, string>;
  body: string;
  path: string;
  /** What the receiver answered (0 while it holds the request open). */
  status: number;
}

/** How to answer: a status, or null to hold the request open until the receiver closes. */
export type Responder = (req: ReceivedWebhook, index: number) => number | null;

export interface Receiver {
  url: string;
  port: number;
  /** Every request in arrival order. */
  readonly requests: ReceivedWebhook[];
  /** The requests answered 2xx. */
  accepted(): ReceivedWebhook[];
  respond: Responder;
  close(): Promise<void>;
}

/** A policy that lets webhooks reach receivers on 127.0.0.1 over http. */
export const LOCAL_TARGETS: TargetPolicy = { allowHttp: true, allow: parseCidrs("127.0.0.1/32") };

export async function startReceiver(respond: Responder = () => 204, path = "/hooks"): Promise<Receiver> {
  const requests: ReceivedWebhook[] = [];
  const receiver: Receiver = {
    url: "",
    port: 0,
    requests,
    accepted: () => requests.filter((r) => r.status >= 200 && r.status < 300),
    respond,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers[k] = v;
      const got: ReceivedWebhook = {
        headers,
        body: Buffer.concat(chunks).toString("utf8"),
        path: req.url ?? "",
        status: 0,
      };
      const status = receiver.respond(got, requests.length);
      requests.push(got);
      if (status === null) return;
      got.status = status;
      res.writeHead(status).end();
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  receiver.port = (server.address() as AddressInfo).port;
  receiver.url = `http://127.0.0.1:${receiver.port}${path}`;
  return receiver;
}
