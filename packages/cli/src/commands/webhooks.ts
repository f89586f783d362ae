// webhooks: register, inspect, change and delete webhook endpoints, rotate their secrets, send a test
// event, and read and resend their deliveries (a key with the webhooks scope).
import type { UpdateWebhookRequest, Webhook, WebhookDelivery } from "@astraeus/client";
import { InvalidArgumentError, Option } from "commander";
import { type CommandModule, durationMs, integer } from "../command.ts";
import { emit, emitLine } from "../context.ts";
import { duration } from "../duration.ts";
import { ago, fields, TableWriter, table } from "../format.ts";
import { EXIT, UsageError } from "../io.ts";

const list = (value: string): string[] => {
  const items = value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (items.length === 0) throw new InvalidArgumentError("give at least one, comma-separated");
  return items;
};

function status(w: Webhook): string {
  return w.enabled ? "enabled" : `disabled (${w.disabledReason ?? "manual"})`;
}

function filters(w: Webhook): string {
  const parts = [
    ...(w.queues ? [`queues=${w.queues.join(",")}`] : []),
    ...(w.types ? [`types=${w.types.join(",")}`] : []),
  ];
  return parts.length > 0 ? parts.join(" ") : "-";
}

const HEADERS = ["ID", "URL", "EVENTS", "FILTERS", "STATUS", "FAILURES", "LAST SUCCESS"];
const row = (w: Webhook) => [
  w.id,
  w.url,
  w.events.join(","),
  filters(w),
  status(w),
  w.consecutiveFailures,
  ago(w.lastSuccessAt),
];

function details(w: Webhook): string {
  return fields([
    ["id", w.id],
    ["url", w.url],
    ["description", w.description],
    ["events", w.events.join(", ")],
    ["queues", w.queues?.join(", ") ?? "any"],
    ["types", w.types?.join(", ") ?? "any"],
    ["status", status(w)],
    ["disabled at", w.disabledAt],
    ["failures in a row", w.consecutiveFailures],
    ["failing since", w.failingSince],
    ["last success", w.lastSuccessAt],
    ["last failure", w.lastFailureAt],
    ["old secret signs until", w.previousSecretExpiresAt],
    ["created", w.createdAt],
  ]);
}

function withSecret(verb: string, w: Webhook & { secret: string }): string {
  return `${verb} webhook ${w.id} → ${w.url}\n\n  ${w.secret}\n\nThis signing secret is shown once; store it where your receiver reads it.\n`;
}

const DELIVERY_HEADERS = ["ID", "EVENT", "JOB", "STATUS", "ATTEMPTS", "LAST", "LATENCY", "NEXT", "ERROR"];
const deliveryRow = (d: WebhookDelivery) => [
  d.id,
  d.eventType,
  d.jobId,
  d.status,
  d.attempts,
  d.lastStatusCode ?? (d.lastAttemptAt ? "none" : "-"),
  d.lastLatencyMs === null ? "-" : duration(d.lastLatencyMs),
  d.status === "pending" ? (d.nextAttemptAt ? ago(d.nextAttemptAt) : "waits") : "-",
  d.lastError,
];

function deliveryDetails(d: WebhookDelivery): string {
  const head = fields([
    ["id", d.id],
    ["event", d.eventType],
    ["event id", d.eventId],
    ["job", d.jobId],
    ["status", d.status],
    ["attempts", d.attempts],
    ["next attempt", d.status === "pending" ? (d.nextAttemptAt ?? "after the job's earlier delivery") : null],
    ["created", d.createdAt],
    ["finished", d.finishedAt],
  ]);
  const attempts = table(
    ["ATTEMPT", "AT", "STATUS", "LATENCY", "ERROR"],
    d.recentAttempts.map((a) => [
      a.attempt,
      a.at,
      a.statusCode ?? (a.ok ? "ok" : "none"),
      duration(a.latencyMs),
      a.error,
    ]),
  );
  return `${head}\n${attempts}`;
}

export const webhookCommands: CommandModule = (program, cli) => {
  const webhooks = program
    .command("webhooks")
    .description("signed webhooks on job events: endpoints, secrets, deliveries (webhooks scope)");

  webhooks
    .command("create")
    .description("register an endpoint; its signing secret is printed once")
    // Not --url: that is the global option naming the API.
    .requiredOption("--endpoint <url>", "where to POST (https; http only where the server allows it)")
    .option(
      "--events <types>",
      "comma-separated event types, or * for all (default: job.succeeded,job.dead,job.cancelled)",
      list,
    )
    .option("--queues <queues>", "only jobs of these queues (comma-separated)", list)
    .option("--types <types>", "only jobs of these types (comma-separated)", list)
    .option("--description <text>", "what the endpoint is for")
    .option("--disabled", "create it switched off")
    .action(
      cli.action<{
        endpoint: string;
        events?: string[];
        queues?: string[];
        types?: string[];
        description?: string;
        disabled?: boolean;
      }>(async (ctx, { opts }) => {
        const created = await ctx.client.webhooks.create({
          url: opts.endpoint,
          ...(opts.events ? { events: opts.events as never } : {}),
          ...(opts.queues ? { queues: opts.queues } : {}),
          ...(opts.types ? { types: opts.types } : {}),
          ...(opts.description !== undefined ? { description: opts.description } : {}),
          ...(opts.disabled ? { enabled: false } : {}),
        });
        emit(ctx, withSecret("created", created), created);
        return EXIT.ok;
      }),
    );

  webhooks
    .command("list")
    .description("list this tenant's endpoints, newest first")
    .option("--limit <n>", "endpoints per page, 1..100 (default 50)", integer(1, 100))
    .addOption(
      new Option("--cursor <cursor>", "the page after this cursor (printed after a page)").conflicts("all"),
    )
    .option("--all", "follow every page (NDJSON with --json)")
    .action(
      cli.action<{ limit?: number; cursor?: string; all?: boolean }>(async (ctx, { opts }) => {
        if (!opts.all) {
          const page = await ctx.client.webhooks.list({
            ...(opts.limit !== undefined ? { limit: opts.limit } : {}),
            ...(opts.cursor ? { cursor: opts.cursor } : {}),
          });
          const more = page.nextCursor ? `more: astraeus webhooks list --cursor ${page.nextCursor}\n` : "";
          emit(ctx, table(HEADERS, page.webhooks.map(row)) + more, page);
          return EXIT.ok;
        }
        const out = new TableWriter(HEADERS);
        let printed = false;
        for await (const w of ctx.client.webhooks.listAll()) {
          if (ctx.json) emitLine(ctx, w);
          else ctx.io.stdout.write(out.write([row(w)]));
          printed = true;
        }
        if (!printed && !ctx.json) ctx.io.stdout.write(out.write([]));
        return EXIT.ok;
      }),
    );

  webhooks
    .command("get")
    .description("show an endpoint: filters, status and its run of failures")
    .argument("<id>", "webhook id")
    .action(
      cli.action(async (ctx, { args: [id] }) => {
        const w = await ctx.client.webhooks.get(id ?? "");
        emit(ctx, details(w), w);
        return EXIT.ok;
      }),
    );

  webhooks
    .command("update")
    .description("change an endpoint; --enable re-enables one disabled after failures")
    .argument("<id>", "webhook id")
    .option("--endpoint <url>", "a new target URL")
    .option("--events <types>", "comma-separated event types, or * for all", list)
    .addOption(
      new Option("--queues <queues>", "only jobs of these queues").argParser(list).conflicts("anyQueue"),
    )
    .option("--any-queue", "drop the queue filter")
    .addOption(new Option("--types <types>", "only jobs of these types").argParser(list).conflicts("anyType"))
    .option("--any-type", "drop the type filter")
    .option("--description <text>", "what the endpoint is for")
    .addOption(new Option("--enable", "switch it on (clears its failure count)").conflicts("disable"))
    .option("--disable", "switch it off")
    .action(
      cli.action<{
        endpoint?: string;
        events?: string[];
        queues?: string[];
        anyQueue?: boolean;
        types?: string[];
        anyType?: boolean;
        description?: string;
        enable?: boolean;
        disable?: boolean;
      }>(async (ctx, { args: [id], opts }) => {
        const patch: UpdateWebhookRequest = {
          ...(opts.endpoint !== undefined ? { url: opts.endpoint } : {}),
          ...(opts.events ? { events: opts.events as never } : {}),
          ...(opts.queues ? { queues: opts.queues } : opts.anyQueue ? { queues: null } : {}),
          ...(opts.types ? { types: opts.types } : opts.anyType ? { types: null } : {}),
          ...(opts.description !== undefined ? { description: opts.description } : {}),
          ...(opts.enable ? { enabled: true } : opts.disable ? { enabled: false } : {}),
        };
        if (Object.keys(patch).length === 0)
          throw new UsageError("nothing to change: give at least one option");
        const w = await ctx.client.webhooks.update(id ?? "", patch);
        emit(ctx, details(w), w);
        return EXIT.ok;
      }),
    );

  webhooks
    .command("delete")
    .description("delete an endpoint with its deliveries")
    .argument("<id>", "webhook id")
    .action(
      cli.action(async (ctx, { args: [id] }) => {
        const w = await ctx.client.webhooks.delete(id ?? "");
        emit(ctx, `deleted webhook ${w.id} (${w.url})\n`, w);
        return EXIT.ok;
      }),
    );

  webhooks
    .command("rotate-secret")
    .description("replace the signing secret (printed once); the old one signs too during the overlap")
    .argument("<id>", "webhook id")
    .option(
      "--overlap <duration>",
      "how long the old secret keeps signing (default 24h, at most 7d; 0 ends it now)",
      durationMs,
    )
    .action(
      cli.action<{ overlap?: number }>(async (ctx, { args: [id], opts }) => {
        const overlapSeconds = opts.overlap === undefined ? undefined : Math.round(opts.overlap / 1000);
        const w = await ctx.client.webhooks.rotateSecret(
          id ?? "",
          overlapSeconds === undefined ? {} : { overlapSeconds },
        );
        const until = w.previousSecretExpiresAt
          ? `The old secret signs too until ${w.previousSecretExpiresAt}.\n`
          : "";
        emit(ctx, withSecret("rotated the secret of", w) + until, w);
        return EXIT.ok;
      }),
    );

  webhooks
    .command("test")
    .description("send a webhook.test event to the endpoint")
    .argument("<id>", "webhook id")
    .action(
      cli.action(async (ctx, { args: [id] }) => {
        const d = await ctx.client.webhooks.test(id ?? "");
        emit(
          ctx,
          `queued test delivery ${d.id}; follow it with: astraeus webhooks delivery ${id} ${d.id}\n`,
          d,
        );
        return EXIT.ok;
      }),
    );

  webhooks
    .command("deliveries")
    .description("recent deliveries to the endpoint, newest first, with their last attempt")
    .argument("<id>", "webhook id")
    .addOption(
      new Option("--status <status>", "only deliveries in this status").choices([
        "pending",
        "succeeded",
        "failed",
      ]),
    )
    .option("--limit <n>", "deliveries per page, 1..100 (default 50)", integer(1, 100))
    .option("--cursor <cursor>", "the page after this cursor (printed after a page)")
    .action(
      cli.action<{ status?: WebhookDelivery["status"]; limit?: number; cursor?: string }>(
        async (ctx, { args: [id], opts }) => {
          const page = await ctx.client.webhooks.deliveries(id ?? "", {
            ...(opts.status ? { status: opts.status } : {}),
            ...(opts.limit !== undefined ? { limit: opts.limit } : {}),
            ...(opts.cursor ? { cursor: opts.cursor } : {}),
          });
          const more = page.nextCursor
            ? `more: astraeus webhooks deliveries ${id} --cursor ${page.nextCursor}\n`
            : "";
          emit(ctx, table(DELIVERY_HEADERS, page.deliveries.map(deliveryRow)) + more, page);
          return EXIT.ok;
        },
      ),
    );

  webhooks
    .command("delivery")
    .description("one delivery with its latest attempts")
    .argument("<id>", "webhook id")
    .argument("<deliveryId>", "delivery id")
    .action(
      cli.action(async (ctx, { args: [id, deliveryId] }) => {
        const d = await ctx.client.webhooks.delivery(id ?? "", deliveryId ?? "");
        emit(ctx, deliveryDetails(d), d);
        return EXIT.ok;
      }),
    );

  webhooks
    .command("redeliver")
    .description("send a delivery again now, whatever became of it")
    .argument("<id>", "webhook id")
    .argument("<deliveryId>", "delivery id")
    .action(
      cli.action(async (ctx, { args: [id, deliveryId] }) => {
        const d = await ctx.client.webhooks.redeliver(id ?? "", deliveryId ?? "");
        emit(ctx, `delivery ${d.id} is pending again\n`, d);
        return EXIT.ok;
      }),
    );
};
