import { SCOPES, type Scope } from "@astraeus/client";
import { type Ctx, emit, intOption, onePositional, parse } from "../context.ts";
import { ago, duration, fields, table } from "../format.ts";
import { EXIT, UsageError } from "../io.ts";

export async function queuesCommand(ctx: Ctx, args: string[]): Promise<number> {
  const { positionals } = parse(args, {});
  if (positionals.length > 1) throw new UsageError("expected at most one queue name");
  const name = positionals[0];
  const queues = name ? [await ctx.client.queue(name)] : await ctx.client.queues();
  const rows = queues.map((q) => [
    q.queue,
    q.ready,
    q.delayed,
    q.running,
    q.dead,
    duration(q.oldestReadyAgeMs),
    q.completedLastMinute,
    q.failedLastMinute,
  ]);
  emit(
    ctx,
    table(["QUEUE", "READY", "DELAYED", "RUNNING", "DEAD", "OLDEST", "DONE/MIN", "FAILED/MIN"], rows),
    name ? queues[0] : queues,
  );
  return EXIT.ok;
}

export async function workersCommand(ctx: Ctx, args: string[]): Promise<number> {
  parse(args, {});
  const workers = await ctx.client.workers();
  const rows = workers.map((w) => [
    w.id,
    w.host,
    w.queues.join(","),
    `${w.running}/${w.concurrency}`,
    ago(w.startedAt),
    ago(w.lastSeenAt),
  ]);
  emit(ctx, table(["ID", "HOST", "QUEUES", "RUNNING", "STARTED", "SEEN"], rows), workers);
  return EXIT.ok;
}

const KEYS_USAGE =
  "usage: astraeus keys create --tenant T --name N --scopes s1,s2 [--rate N] | keys list [--tenant T] [--revoked] | keys revoke ID";

export async function keysCommand(ctx: Ctx, args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === "create") {
    const { values, positionals } = parse(rest, {
      tenant: { type: "string" },
      name: { type: "string" },
      scopes: { type: "string" },
      rate: { type: "string" },
    });
    if (positionals.length > 0 || !values.tenant || !values.name || !values.scopes)
      throw new UsageError(KEYS_USAGE);
    const scopes = values.scopes.split(",").map((s) => s.trim());
    const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
    if (unknown.length > 0)
      throw new UsageError(`unknown scope ${unknown.join(", ")} (known: ${SCOPES.join(", ")})`);
    const rate = intOption(values.rate, "rate");
    const key = await ctx.client.createKey({
      tenant: values.tenant,
      name: values.name,
      scopes: scopes as Scope[],
      ...(rate !== undefined ? { rateLimitPerSec: rate } : {}),
    });
    emit(
      ctx,
      `created key ${key.id} for tenant ${key.tenant} (${key.scopes.join(", ")})\n\n  ${key.key}\n\nThis secret is shown once; store it now.\n`,
      key,
    );
    return EXIT.ok;
  }
  if (sub === "list") {
    const { values, positionals } = parse(rest, { tenant: { type: "string" }, revoked: { type: "boolean" } });
    if (positionals.length > 0) throw new UsageError(KEYS_USAGE);
    const keys = await ctx.client.listKeys({
      ...(values.tenant ? { tenant: values.tenant } : {}),
      includeRevoked: values.revoked === true,
    });
    const rows = keys.map((k) => [
      k.id,
      k.tenant,
      k.name,
      `${k.prefix}…`,
      k.scopes.join(","),
      k.rateLimitPerSec,
      ago(k.lastUsedAt),
      k.revokedAt ? "revoked" : "active",
    ]);
    emit(ctx, table(["ID", "TENANT", "NAME", "PREFIX", "SCOPES", "RATE", "LAST USED", "STATUS"], rows), keys);
    return EXIT.ok;
  }
  if (sub === "revoke") {
    const { positionals } = parse(rest, {});
    const key = await ctx.client.revokeKey(onePositional(positionals, "key id"));
    emit(ctx, `revoked ${key.id} (${key.name}, tenant ${key.tenant})\n`, key);
    return EXIT.ok;
  }
  throw new UsageError(KEYS_USAGE);
}

export async function whoamiCommand(ctx: Ctx, args: string[]): Promise<number> {
  parse(args, {});
  const me = await ctx.client.me();
  emit(
    ctx,
    fields([
      ["key", me.keyId],
      ["name", me.name],
      ["tenant", me.tenant],
      ["scopes", me.scopes.join(",")],
      ["rate limit", me.rateLimitPerSec === null ? "server default" : `${me.rateLimitPerSec}/s`],
    ]),
    me,
  );
  return EXIT.ok;
}

const BARS = "▁▂▃▄▅▆▇█";

/** One character per minute, scaled to the largest count (blank for none). */
function sparkline(counts: number[]): string {
  const max = Math.max(0, ...counts);
  return counts
    .map((n) => (n === 0 ? " " : BARS[Math.min(BARS.length - 1, Math.floor((n / max) * BARS.length))]))
    .join("");
}

export async function throughputCommand(ctx: Ctx, args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { minutes: { type: "string" }, queue: { type: "string" } });
  if (positionals.length > 0) throw new UsageError("usage: astraeus throughput [--minutes N] [--queue Q]");
  const minutes = intOption(values.minutes, "minutes");
  const t = await ctx.client.throughput({
    ...(minutes !== undefined ? { minutes } : {}),
    ...(values.queue !== undefined ? { queue: values.queue } : {}),
  });
  const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);
  const rows = t.queues.map((q) => {
    const done = sum(q.completed);
    const failed = sum(q.failed);
    return [
      q.queue,
      done,
      failed,
      done + failed === 0 ? "-" : `${((100 * failed) / (done + failed)).toFixed(1)}%`,
      sparkline(q.completed),
    ];
  });
  emit(
    ctx,
    `${t.minutes} minutes from ${t.from}\n${table(["QUEUE", "DONE", "FAILED", "FAIL%", "DONE PER MINUTE"], rows)}`,
    t,
  );
  return EXIT.ok;
}
