import { DescribeServicesCommand, type ECSClient, UpdateServiceCommand } from "@aws-sdk/client-ecs";

export interface ServiceCounts {
  running: number;
  desired: number;
  pending: number;
}

/** Task counts of the worker service, or null when ECS does not know it (not deployed, e.g. `sst dev`). */
export async function describeService(
  ecs: ECSClient,
  cluster: string,
  service: string,
): Promise<ServiceCounts | null> {
  const out = await ecs.send(new DescribeServicesCommand({ cluster, services: [service] }));
  const found = out.services?.find((s) => s.serviceName === service || s.serviceArn?.endsWith(`/${service}`));
  if (!found || found.status === "INACTIVE") return null;
  return {
    running: found.runningCount ?? 0,
    desired: found.desiredCount ?? 0,
    pending: found.pendingCount ?? 0,
  };
}

/**
 * Target tracking multiplies the current task count by the metric ratio, so from zero tasks it can never
 * scale out: the first task is started here and tracking takes over from one.
 */
export async function wakeService(ecs: ECSClient, cluster: string, service: string): Promise<void> {
  await ecs.send(new UpdateServiceCommand({ cluster, service, desiredCount: 1 }));
}
