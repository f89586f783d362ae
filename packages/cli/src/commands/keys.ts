import { SCOPES, type Scope } from "@astraeus/client";
import { InvalidArgumentError } from "commander";
import { type CommandModule, integer } from "../command.ts";
import { emit } from "../context.ts";
import { ago, table } from "../format.ts";
import { EXIT } from "../io.ts";

function scopeList(value: string): Scope[] {
  const scopes = value.split(",").map((s) => s.trim());
  const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (unknown.length > 0) {
    throw new InvalidArgumentError(`unknown scope ${unknown.join(", ")} (known: ${SCOPES.join(", ")})`);
  }
  return scopes as Scope[];
}

export const keyCommands: CommandModule = (program, cli) => {
  const keys = program.command("keys").description("create, list and revoke API keys (admin scope)");

  keys
    .command("create")
    .description("create a key; its secret is printed once")
    .requiredOption("--tenant <tenant>", "the tenant the key acts for")
    .requiredOption("--name <name>", "what the key is for")
    .requiredOption("--scopes <scopes>", `comma-separated: ${SCOPES.join(", ")}`, scopeList)
    .option("--rate <n>", "requests per second (default: the server's)", integer(1, 1_000_000))
    .action(
      cli.action<{ tenant: string; name: string; scopes: Scope[]; rate?: number }>(async (ctx, { opts }) => {
        const key = await ctx.client.createKey({
          tenant: opts.tenant,
          name: opts.name,
          scopes: opts.scopes,
          ...(opts.rate !== undefined ? { rateLimitPerSec: opts.rate } : {}),
        });
        emit(
          ctx,
          `created key ${key.id} for tenant ${key.tenant} (${key.scopes.join(", ")})\n\n  ${key.key}\n\nThis secret is shown once; store it now.\n`,
          key,
        );
        return EXIT.ok;
      }),
    );

  keys
    .command("list")
    .description("list keys (never their secrets)")
    .option("--tenant <tenant>", "only this tenant's keys")
    .option("--revoked", "include revoked keys")
    .action(
      cli.action<{ tenant?: string; revoked?: boolean }>(async (ctx, { opts }) => {
        const list = await ctx.client.listKeys({
          ...(opts.tenant ? { tenant: opts.tenant } : {}),
          includeRevoked: opts.revoked === true,
        });
        const rows = list.map((k) => [
          k.id,
          k.tenant,
          k.name,
          `${k.prefix}…`,
          k.scopes.join(","),
          k.rateLimitPerSec,
          ago(k.lastUsedAt),
          k.revokedAt ? "revoked" : "active",
        ]);
        const headers = ["ID", "TENANT", "NAME", "PREFIX", "SCOPES", "RATE", "LAST USED", "STATUS"];
        emit(ctx, table(headers, rows), list);
        return EXIT.ok;
      }),
    );

  keys
    .command("revoke")
    .description("revoke a key at once")
    .argument("<id>", "key id")
    .action(
      cli.action(async (ctx, { args: [id] }) => {
        const key = await ctx.client.revokeKey(id ?? "");
        emit(ctx, `revoked ${key.id} (${key.name}, tenant ${key.tenant})\n`, key);
        return EXIT.ok;
      }),
    );
};
