import { createHash } from "node:crypto";
import { once } from "node:events";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";

/** A request as the fake saw it: `target` is the X-Amz-Target header (e.g. AmazonSQS.SendMessageBatch). */
export interface RecordedCall {
  target: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

export type Reply = { status?: number; body: unknown };
export type Handler = (body: Record<string, unknown>, call: RecordedCall) => Reply | Promise<Reply>;

/**
 * A loopback HTTP server speaking the AWS JSON protocols (1.0 and 1.1): enough of SQS, ECS and CloudWatch
 * to test what our clients put on the wire, with no AWS account and no other host involved.
 */
export class FakeAws {
  readonly calls: RecordedCall[] = [];
  private readonly handlers = new Map<string, Handler>();
  private server: Server | undefined;

  on(target: string, handler: Handler): this {
    this.handlers.set(target, handler);
    return this;
  }

  callsTo(target: string): RecordedCall[] {
    return this.calls.filter((c) => c.target === target);
  }

  async start(): Promise<string> {
    this.server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      let raw = Buffer.concat(chunks);
      // CloudWatch gzips large PutMetricData bodies (request compression).
      if (req.headers["content-encoding"] === "gzip") raw = gunzipSync(raw);
      const target = String(req.headers["x-amz-target"] ?? "");
      const body = raw.length > 0 ? (JSON.parse(raw.toString("utf8")) as Record<string, unknown>) : {};
      const call: RecordedCall = { target, headers: req.headers, body };
      this.calls.push(call);
      const handler = this.handlers.get(target);
      const reply: Reply = handler
        ? await handler(body, call)
        : { status: 400, body: { __type: "UnknownOperationException", message: target } };
      const type = String(req.headers["content-type"] ?? "application/x-amz-json-1.0");
      res.writeHead(reply.status ?? 200, { "content-type": type });
      res.end(JSON.stringify(reply.body));
    });
    this.server.listen(0, "127.0.0.1");
    await once(this.server, "listening");
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** Static dummy credentials: the fake checks no signature, and nothing may reach real AWS. */
export const DUMMY_CREDENTIALS = {
  accessKeyId: "AKIAOFFLINEOFFLINE00",
  secretAccessKey: "offlineofflineofflineofflineofflineoffli",
};

export function clientConfig(endpoint: string) {
  return { endpoint, region: "us-east-1", credentials: DUMMY_CREDENTIALS, maxAttempts: 1 };
}

/** One entry of an SQS `SendMessageBatch` request as it arrives on the wire. */
export interface SqsBatchEntry {
  Id: string;
  MessageBody: string;
  MessageGroupId: string;
  MessageDeduplicationId: string;
  MessageAttributes?: Record<string, { DataType: string; StringValue: string }>;
}

/** The `Successful` item SQS answers for an accepted entry; the SDK checks the body's MD5 against it. */
export function sqsAccepted(e: SqsBatchEntry, sequenceNumber: string) {
  return {
    Id: e.Id,
    MessageId: `m-${e.MessageDeduplicationId}`,
    MD5OfMessageBody: createHash("md5").update(e.MessageBody).digest("hex"),
    SequenceNumber: sequenceNumber,
  };
}
