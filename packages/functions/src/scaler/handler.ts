import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { ECSClient } from "@aws-sdk/client-ecs";
import { connectRedis } from "./connect.ts";
import { runScaler, type ScalerDeps, ScalerError } from "./scaler.ts";
import { settingsFromEnv } from "./settings.ts";

// Kept across warm invocations: one Redis connection and one set of clients per container.
let deps: Promise<ScalerDeps> | undefined;

async function build(): Promise<ScalerDeps> {
  return {
    settings: settingsFromEnv(process.env),
    redis: await connectRedis(process.env),
    ecs: new ECSClient({}),
    cloudwatch: new CloudWatchClient({}),
  };
}

/** EventBridge (every minute) → one scaler run; a thrown error counts in the function's Errors metric. */
export async function handler(): Promise<void> {
  const pending = deps ?? build();
  deps = pending;
  let ready: ScalerDeps;
  try {
    ready = await pending;
  } catch (err) {
    deps = undefined;
    throw err;
  }
  try {
    const result = await runScaler(ready);
    console.log(JSON.stringify({ msg: "scaler run", ...result }));
  } catch (err) {
    if (err instanceof ScalerError)
      console.error(JSON.stringify({ msg: "scaler run failed", ...err.result }));
    throw err;
  }
}

/** For tests: drop the cached connection. */
export async function resetHandler(): Promise<void> {
  const current = deps;
  deps = undefined;
  if (current) (await current.catch(() => undefined))?.redis.disconnect();
}
