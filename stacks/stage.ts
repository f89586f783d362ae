import { RetentionDays } from "aws-cdk-lib/aws-logs";
import type { App } from "sst/constructs";
import { loadStageConfig, type StageConfig } from "./config.ts";

const cache = new Map<string, StageConfig>();

/** The stage's config, read once per synth so every stack sees the same values. */
export function stageConfig(app: App): StageConfig {
  let config = cache.get(app.stage);
  if (!config) {
    config = loadStageConfig(app.stage);
    cache.set(app.stage, config);
  }
  return config;
}

/** Names AWS resources `<stage>-astraeus-<name>`, like SST's own stacks. */
export function resourceName(app: App, name: string): string {
  return app.logicalPrefixedName(name);
}

const RETENTION: Record<StageConfig["logRetentionDays"], RetentionDays> = {
  7: RetentionDays.ONE_WEEK,
  14: RetentionDays.TWO_WEEKS,
  30: RetentionDays.ONE_MONTH,
  90: RetentionDays.THREE_MONTHS,
};

export function logRetention(config: StageConfig): RetentionDays {
  return RETENTION[config.logRetentionDays];
}

/** SST's `logRetention` prop spells the CDK enum key in lower case. */
export function sstLogRetention(
  config: StageConfig,
): "one_week" | "two_weeks" | "one_month" | "three_months" {
  const names = { 7: "one_week", 14: "two_weeks", 30: "one_month", 90: "three_months" } as const;
  return names[config.logRetentionDays];
}
