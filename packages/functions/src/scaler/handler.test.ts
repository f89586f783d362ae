import { redisKeys } from "@astraeus/dispatch/keys";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DUMMY_CREDENTIALS, FakeAws } from "../testing/fake-aws.ts";
import { handler, resetHandler } from "./handler.ts";

const PREFIX = `astraeus-test:handler:${process.pid}:${Math.random().toString(36).slice(2, 8)}:`;
const ENV = [
  "AWS_ENDPOINT_URL",
  "AWS_REGION",
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "ASTRAEUS_STAGE",
  "REDIS_URL",
  "REDIS_PREFIX",
  "WORKER_CLUSTER",
  "WORKER_SERVICE",
] as const;

describe("scaler Lambda handler wiring (environment as the Scaler stack sets it)", () => {
  const fake = new FakeAws();
  const redis = new Redis({ host: "127.0.0.1", port: 6379 });
  const saved = new Map<string, string | undefined>(ENV.map((k) => [k, process.env[k]]));

  beforeAll(async () => {
    fake
      .on("AmazonEC2ContainerServiceV20141113.DescribeServices", () => ({
        body: {
          services: [
            { serviceName: "svc", status: "ACTIVE", desiredCount: 0, runningCount: 0, pendingCount: 0 },
          ],
        },
      }))
      .on("AmazonEC2ContainerServiceV20141113.UpdateService", () => ({ body: { service: {} } }))
      .on("GraniteServiceVersion20100801.PutMetricData", () => ({ body: {} }));
    // The SDK's endpoint override from the environment: nothing can reach AWS from this test.
    Object.assign(process.env, {
      AWS_ENDPOINT_URL: await fake.start(),
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: DUMMY_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: DUMMY_CREDENTIALS.secretAccessKey,
      ASTRAEUS_STAGE: "test",
      REDIS_URL: "redis://127.0.0.1:6379",
      REDIS_PREFIX: PREFIX,
      WORKER_CLUSTER: "cluster",
      WORKER_SERVICE: "svc",
    });
  });

  afterAll(async () => {
    await resetHandler();
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    const leftovers = await redis.keys(`${PREFIX}*`);
    if (leftovers.length > 0) await redis.del(...leftovers);
    redis.disconnect();
    await fake.stop();
  });

  it("reads Redis, wakes the service and publishes, reusing its connection across runs", async () => {
    const keys = redisKeys(PREFIX);
    await redis.sadd(keys.queues, "default");
    await redis.xadd(keys.stream("default"), "*", "j", "job-1");

    await handler();
    await handler();

    expect(fake.callsTo("AmazonEC2ContainerServiceV20141113.UpdateService")).toHaveLength(2);
    const put = fake.callsTo("GraniteServiceVersion20100801.PutMetricData");
    expect(put).toHaveLength(2);
    const names = ((put[0]?.body.MetricData ?? []) as { MetricName: string }[]).map((d) => d.MetricName);
    expect(new Set(names)).toEqual(
      new Set([
        "QueueDepth",
        "OldestJobAgeSeconds",
        "WorkerCount",
        "DeadJobs",
        "RunningTasks",
        "BacklogPerTask",
      ]),
    );
    const clients = String(await redis.call("CLIENT", "LIST")).match(/name=astraeus-scaler/g) ?? [];
    expect(clients).toHaveLength(1);
  });
});
