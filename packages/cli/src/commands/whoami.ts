import type { CommandModule } from "../command.ts";
import { emit } from "../context.ts";
import { fields } from "../format.ts";
import { EXIT } from "../io.ts";

export const whoamiCommands: CommandModule = (program, cli) => {
  program
    .command("whoami")
    .summary("the key in use: tenant, name, scopes")
    .description("who the API key in use is (GET /v1/me): its id, name, tenant, scopes and rate limit")
    .action(
      cli.action(async (ctx) => {
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
      }),
    );
};
