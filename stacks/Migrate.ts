import { Script, type StackContext, use } from "sst/constructs";
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

  const script = new Script(stack, "Migrations", {
    defaults: {
      function: {
        vpc,
        vpcSubnets: appSubnets,
        securityGroups: [sg.migrate],
        timeout: "5 minutes",
        memorySize: "512 MB",
        environment: {
          DATABASE_HOST: data.postgres.instanceEndpoint.hostname,
          DATABASE_PORT: String(PORTS.postgres),
          DATABASE_NAME: DB_NAME,
          DATABASE_SECRET_ARN: data.dbSecret.secretArn,
        },
        permissions: [[data.dbSecret, "grantRead"]],
        // @astraeus/db resolves its SQL folder as ../migrations next to the bundled module.
        copyFiles: [{ from: "packages/db/migrations", to: "packages/functions/src/migrations" }],
      },
    },
    onCreate: "packages/functions/src/migrate/handler.handler",
    onUpdate: "packages/functions/src/migrate/handler.handler",
  });
  return { script };
}
