import { runMigrations } from "@astraeus/db";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { databaseUrl, parseDatabaseSecret } from "./database-url.ts";

/**
 * SST Script hook (onCreate/onUpdate), run by CloudFormation on every deploy before the Api and Worker
 * stacks update. Throwing fails the Script resource, which fails and rolls back the deploy.
 */
export async function handler(): Promise<{ migrated: true }> {
  const arn = process.env.DATABASE_SECRET_ARN;
  if (!arn) throw new Error("DATABASE_SECRET_ARN is not set");
  const client = new SecretsManagerClient({});
  try {
    const out = await client.send(new GetSecretValueCommand({ SecretId: arn }));
    const url = databaseUrl(parseDatabaseSecret(out.SecretString), process.env);
    const started = Date.now();
    await runMigrations({ url });
    console.log(JSON.stringify({ msg: "migrations applied", ms: Date.now() - started }));
    return { migrated: true };
  } finally {
    client.destroy();
  }
}
