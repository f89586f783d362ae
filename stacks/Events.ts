import { Duration, RemovalPolicy } from "aws-cdk-lib";
import * as sqs from "aws-cdk-lib/aws-sqs";
import type { StackContext } from "sst/constructs";
import { resourceName, stageConfig } from "./stage.ts";

/**
 * Job transitions for downstream systems. FIFO so each job's events stay in order (group = job id) and
 * duplicates from a relay retry are dropped (dedup id = event id). Off unless the stage enables it.
 */
export function Events({ stack, app }: StackContext) {
  const config = stageConfig(app);
  if (!config.events.enabled) return { queue: undefined, deadLetter: undefined };

  const removalPolicy = config.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
  const deadLetter = new sqs.Queue(stack, "EventsDeadLetter", {
    queueName: `${resourceName(app, "events-dlq")}.fifo`,
    fifo: true,
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
    removalPolicy,
  });
  const queue = new sqs.Queue(stack, "EventsQueue", {
    queueName: `${resourceName(app, "events")}.fifo`,
    fifo: true,
    contentBasedDeduplication: false,
    // Dedup and ordering per job, not per queue: lets consumers scale across job ids.
    deduplicationScope: sqs.DeduplicationScope.MESSAGE_GROUP,
    fifoThroughputLimit: sqs.FifoThroughputLimit.PER_MESSAGE_GROUP_ID,
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(4),
    visibilityTimeout: Duration.seconds(60),
    deadLetterQueue: { queue: deadLetter, maxReceiveCount: 5 },
    removalPolicy,
  });
  return { queue, deadLetter };
}
