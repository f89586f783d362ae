import { Script, Function as SstFunction, type StackContext, use } from "sst/constructs";
import { Data, DB_NAME } from "./Data.ts";
import { appSubnets, Network, PORTS } from "./Network.ts";

/**
 * Applies the drizzle migrations on every deploy (Script's version changes each build). The Api and
 * Worker stacks depend on this one, so CloudFormation updates them only after the migration succeeded;
 * a throwing handler fails the Script resource and with it the deploy.
 */
export function Migrate({ stack }: StackContext) {
  const { vpc, sg } = use(Network);
  const data = use(Data);

  // One function for both hooks: bundled once, and one log group to read when a deploy fails.
  const fn = new SstFunction(stack, "MigrateFunction", {
    vpc,
    vpcSubnets: appSubnets,
    securityGroups: [sg.migrate],
    timeout: "5 minutes",
    memorySize: "512 MB",
    tracing: "disabled",
    environment: {
      DATABASE_HOST: data.postgres.instanceEndpoint.hostname,
      DATABASE_PORT: String(PORTS.postgres),
      DATABASE_NAME: DB_NAME,
      DATABASE_SECRET_ARN: data.dbSecret.secretArn,
    },
    permissions: [[data.dbSecret, "grantRead"]],
    // @astraeus/db resolves its SQL folder as ../migrations next to the bundled module.
    copyFiles: [{ from: "packages/db/migrations", to: "packages/functions/src/migrations" }],
    handler: "packages/functions/src/migrate/handler.handler",
  });
  const script = new Script(stack, "Migrations", { onCreate: fn, onUpdate: fn });
  return { script, fn };
}
