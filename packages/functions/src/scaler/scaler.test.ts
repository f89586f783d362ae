import { redisKeys } from "@astraeus/dispatch/keys";
import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { ECSClient } from "@aws-sdk/client-ecs";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { clientConfig, FakeAws } from "../testing/fake-aws.ts";
import { runScaler, ScalerError } from "./scaler.ts";
import type { ScalerSettings } from "./settings.ts";

const ECS = "AmazonEC2ContainerServiceV20141113";
const PUT_METRICS = "GraniteServiceVersion20100801.PutMetricData";
const PREFIX = `astraeus-test:scaler:${process.pid}:${Math.random().toString(36).slice(2, 8)}:`;
const NOW = Date.parse("2026-11-23T12:00:00.000Z");

interface Datum {
  MetricName: string;
  Dimensions: { Name: string; Value: string }[];
  Value: number;
  Unit: string;
}

const settings: ScalerSettings = {
  stage: "test",
  namespace: "Astraeus",
  prefix: PREFIX,
  group: "workers",
  cluster: "test-astraeus-Worker",
  service: "worker-svc",
  workerWindowMs: 60_000,
  depthStaleMs: 180_000,
};

describe("scaler run against real Redis and a local ECS/CloudWatch endpoint", () => {
  const fake = new FakeAws();
  const redis = new Redis({ host: "127.0.0.1", port: 6379, lazyConnect: true, maxRetriesPerRequest: 1 });
  const keys = redisKeys(PREFIX);
  let ecs: ECSClient;
  let cloudwatch: CloudWatchClient;
  let service: { desiredCount: number; runningCount: number; pendingCount: number } | null;
  let failEcs = false;
  let failCloudWatch = false;

  beforeAll(async () => {
    await redis.connect();
    fake
      .on(`${ECS}.DescribeServices`, (body) => {
        if (failEcs) return { status: 400, body: { __type: "AccessDeniedException", message: "denied" } };
        const name = (body.services as string[])[0] ?? "";
        if (!service) return { body: { services: [], failures: [{ arn: name, reason: "MISSING" }] } };
        return {
          body: {
            services: [
              {
                serviceName: name,
                serviceArn: `arn:aws:ecs:us-east-1:123456789012:service/${String(body.cluster)}/${name}`,
                status: "ACTIVE",
                ...service,
              },
            ],
            failures: [],
          },
        };
      })
      .on(`${ECS}.UpdateService`, (body) => {
        if (service) service.desiredCount = Number(body.desiredCount);
        return { body: { service: { serviceName: body.service, desiredCount: body.desiredCount } } };
      })
      .on(PUT_METRICS, () =>
        failCloudWatch
          ? { status: 500, body: { __type: "InternalServiceError", message: "boom" } }
          : { body: {} },
      );
    const endpoint = await fake.start();
    ecs = new ECSClient(clientConfig(endpoint));
    cloudwatch = new CloudWatchClient(clientConfig(endpoint));
  });

  afterAll(async () => {
    const leftovers = await redis.keys(`${PREFIX}*`);
    if (leftovers.length > 0) await redis.del(...leftovers);
    redis.disconnect();
    ecs.destroy();
    cloudwatch.destroy();
    await fake.stop();
  });

  beforeEach(() => {
    fake.calls.length = 0;
    service = { desiredCount: 2, runningCount: 2, pendingCount: 0 };
    failEcs = false;
    failCloudWatch = false;
  });
  afterEach(async () => {
    const leftovers = await redis.keys(`${PREFIX}*`);
    if (leftovers.length > 0) await redis.del(...leftovers);
  });

  const run = () => runScaler({ settings, redis, ecs, cloudwatch, now: () => NOW });
  const published = (): Datum[] =>
    fake.callsTo(PUT_METRICS).flatMap((c) => {
      expect(c.body.Namespace).toBe("Astraeus");
      return c.body.MetricData as Datum[];
    });
  const value = (name: string, queue?: string) =>
    published().find(
      (d) =>
        d.MetricName === name &&
        d.Dimensions.some((x) => x.Name === "Stage" && x.Value === "test") &&
        (queue === undefined
          ? d.Dimensions.length === 1
          : d.Dimensions.some((x) => x.Name === "Queue" && x.Value === queue)),
    )?.Value;

  async function publishDepth(
    queue: string,
    ready: number,
    oldestReadyAgeMs: number | null,
    atMs = NOW - 5_000,
  ) {
    const at = new Date(atMs).toISOString();
    await redis.hset(keys.depth, queue, JSON.stringify({ queue, ready, oldestReadyAgeMs, at }));
  }
  async function heartbeat(id: string, ageMs: number) {
    await redis.zadd(keys.workers, NOW - ageMs, id);
  }

  it("publishes per-queue and total depth, oldest age, live workers and backlog per running task", async () => {
    await publishDepth("emails", 30, 12_000);
    await publishDepth("reports", 10, 4_000);
    await heartbeat("w1", 5_000);
    await heartbeat("w2", 30_000);
    await heartbeat("gone", 120_000);

    const result = await run();

    expect(result.source).toBe("published");
    expect(result.woke).toBe(false);
    expect(value("QueueDepth", "emails")).toBe(30);
    expect(value("QueueDepth", "reports")).toBe(10);
    expect(value("QueueDepth")).toBe(40);
    expect(value("OldestJobAgeSeconds", "emails")).toBe(12);
    expect(value("OldestJobAgeSeconds")).toBe(12);
    expect(value("WorkerCount")).toBe(2);
    expect(value("RunningTasks")).toBe(2);
    expect(value("BacklogPerTask")).toBe(20);
    expect(value("DeadJobs")).toBe(0);
    const wire = fake.callsTo(PUT_METRICS)[0];
    expect(wire?.headers["content-type"]).toBe("application/x-amz-json-1.0");
    const describe = fake.callsTo(`${ECS}.DescribeServices`)[0];
    expect(describe?.headers["content-type"]).toBe("application/x-amz-json-1.1");
    expect(describe?.body).toEqual({ cluster: settings.cluster, services: [settings.service] });
    expect(fake.callsTo(`${ECS}.UpdateService`)).toHaveLength(0);
  });

  it("wakes a service scaled to zero when jobs are ready", async () => {
    service = { desiredCount: 0, runningCount: 0, pendingCount: 0 };
    await redis.sadd(keys.queues, "emails");
    await redis.xadd(keys.stream("emails"), `${NOW - 7_000}-0`, "j", "job-1");

    const result = await run();

    expect(result.woke).toBe(true);
    const update = fake.callsTo(`${ECS}.UpdateService`);
    expect(update.map((c) => c.body)).toEqual([
      { cluster: settings.cluster, service: settings.service, desiredCount: 1 },
    ]);
    // Zero tasks: backlog per task is the whole backlog, so tracking scales out once the task runs.
    expect(value("BacklogPerTask")).toBe(1);
    expect(value("RunningTasks")).toBe(0);
  });

  it("leaves a service at zero alone when nothing is ready", async () => {
    service = { desiredCount: 0, runningCount: 0, pendingCount: 0 };
    await redis.sadd(keys.queues, "emails");
    const result = await run();
    expect(result.woke).toBe(false);
    expect(fake.callsTo(`${ECS}.UpdateService`)).toHaveLength(0);
    expect(value("QueueDepth")).toBe(0);
    expect(value("BacklogPerTask")).toBe(0);
  });

  it("counts undelivered stream entries when no leader publishes (no live worker)", async () => {
    // A snapshot left from before the workers scaled in says 0; the streams say otherwise.
    await publishDepth("emails", 0, null, NOW - 600_000);
    await redis.sadd(keys.queues, "emails", "fresh");
    const stream = keys.stream("emails");
    for (let i = 0; i < 5; i++) await redis.xadd(stream, `${NOW - 50_000 + i * 1_000}-0`, "j", `job-${i}`);
    await redis.xgroup("CREATE", stream, "workers", "0");
    await redis.xreadgroup("GROUP", "workers", "w1", "COUNT", 2, "STREAMS", stream, ">");
    // A queue whose stream has no group yet: all of it waits.
    await redis.xadd(keys.stream("fresh"), `${NOW - 3_000}-0`, "j", "job-x");

    const result = await run();

    expect(result.source).toBe("streams");
    expect(result.queues).toEqual([
      { queue: "emails", ready: 3, oldestReadyAgeMs: 48_000 },
      { queue: "fresh", ready: 1, oldestReadyAgeMs: 3_000 },
    ]);
    expect(value("QueueDepth")).toBe(4);
    expect(value("OldestJobAgeSeconds")).toBe(48);
    expect(value("WorkerCount")).toBe(0);
  });

  it("counts every job of a stream entry that carries several, past the entries it samples too", async () => {
    await redis.sadd(keys.queues, "bulk", "mixed");
    // 150 entries of three ids each (a submit batch's), more than the 100 entries read to count them.
    const bulk = keys.stream("bulk");
    for (let i = 0; i < 150; i++) {
      await redis.xadd(bulk, `${NOW - 20_000 + i}-0`, "j", `a${i},b${i},c${i}`);
    }
    await redis.xgroup("CREATE", bulk, "workers", "0");
    // Entries of one and of several ids, one of them delivered already.
    const mixed = keys.stream("mixed");
    await redis.xadd(mixed, `${NOW - 9_000}-0`, "j", "m0,m1");
    await redis.xadd(mixed, `${NOW - 8_000}-0`, "j", "m2");
    await redis.xadd(mixed, `${NOW - 7_000}-0`, "j", "m3,m4,m5,m6");
    await redis.xgroup("CREATE", mixed, "workers", "0");
    await redis.xreadgroup("GROUP", "workers", "w1", "COUNT", 1, "STREAMS", mixed, ">");

    const result = await run();

    expect(result.source).toBe("streams");
    expect(result.queues).toEqual([
      { queue: "bulk", ready: 450, oldestReadyAgeMs: 20_000 },
      { queue: "mixed", ready: 5, oldestReadyAgeMs: 8_000 },
    ]);
    expect(value("QueueDepth")).toBe(455);
  });

  it("distrusts a stale snapshot even with workers alive", async () => {
    await publishDepth("emails", 99, 1_000, NOW - 600_000);
    await heartbeat("w1", 1_000);
    await redis.sadd(keys.queues, "emails");
    const result = await run();
    expect(result.source).toBe("streams");
    expect(value("QueueDepth")).toBe(0);
  });

  it("publishes the event relay's lag, aged by the time since its leader measured it", async () => {
    await redis.set(
      keys.relayLag,
      JSON.stringify({ lagMs: 2_000, at: new Date(NOW - 30_000).toISOString() }),
    );
    const result = await run();
    expect(result.published).toBeGreaterThan(0);
    expect(value("EventsRelayLagSeconds")).toBe(32);
  });

  it("publishes no relay lag while the relay is off", async () => {
    await run();
    expect(published().some((d) => d.MetricName === "EventsRelayLagSeconds")).toBe(false);
    expect(value("DeadJobs")).toBe(0);
  });

  it("publishes dead jobs from the counter and subtracts what it published", async () => {
    await redis.set(keys.deadJobs, "3");
    await run();
    expect(value("DeadJobs")).toBe(3);
    expect(await redis.get(keys.deadJobs)).toBe("0");
  });

  it("keeps the dead-job count and fails the run when CloudWatch fails, after still waking", async () => {
    service = { desiredCount: 0, runningCount: 0, pendingCount: 0 };
    failCloudWatch = true;
    await redis.set(keys.deadJobs, "2");
    await redis.sadd(keys.queues, "emails");
    await redis.xadd(keys.stream("emails"), "*", "j", "job-1");

    const err = await run().catch((e: unknown) => e);

    expect(err).toBeInstanceOf(ScalerError);
    expect((err as ScalerError).result.woke).toBe(true);
    expect(await redis.get(keys.deadJobs)).toBe("2");
  });

  it("withholds BacklogPerTask but publishes the rest when ECS fails, then fails the run", async () => {
    failEcs = true;
    await publishDepth("emails", 8, 2_000);
    await heartbeat("w1", 1_000);

    const err = await run().catch((e: unknown) => e);

    expect(err).toBeInstanceOf(ScalerError);
    expect((err as ScalerError).message).toMatch(/denied/);
    expect(value("QueueDepth")).toBe(8);
    expect(value("BacklogPerTask")).toBeUndefined();
    expect(fake.callsTo(`${ECS}.UpdateService`)).toHaveLength(0);
  });

  it("uses live heartbeats as the task count when the service does not exist (sst dev)", async () => {
    service = null;
    await publishDepth("emails", 9, 2_000);
    await heartbeat("w1", 1_000);
    await heartbeat("w2", 1_000);
    await heartbeat("w3", 1_000);
    const result = await run();
    expect(result.service).toBeNull();
    expect(value("BacklogPerTask")).toBe(3);
  });

  it("fails without publishing when Redis is unreachable", async () => {
    const dead = new Redis({
      host: "127.0.0.1",
      port: 1,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    dead.on("error", () => {});
    await expect(runScaler({ settings, redis: dead, ecs, cloudwatch, now: () => NOW })).rejects.toThrow();
    dead.disconnect();
    expect(fake.callsTo(PUT_METRICS)).toHaveLength(0);
  });
});
