import { type EventSink, type JobEventRecord, sleep } from "@astraeus/core";
import {
  type BatchResultErrorEntry,
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  SQSClient,
  type SQSClientConfig,
} from "@aws-sdk/client-sqs";

/** One `job_events` row as the outbox relay hands it over (the message body is this object as JSON). */
export type { JobEventRecord };

export interface SqsEventSinkOptions {
  /** URL of the FIFO queue (EVENTS_SQS_QUEUE_URL). */
  queueUrl: string;
  /** An existing client; otherwise one is built from `clientConfig`. */
  client?: SQSClient;
  clientConfig?: SQSClientConfig;
  /** Rounds that re-send the entries SQS rejected with a server-side fault. Default 3. */
  maxEntryAttempts?: number;
  /** Pause before a re-send round, doubled each round. Default 100 ms. */
  retryDelayMs?: number;
  /**
   * Requests in flight at once. Jobs are spread over this many lanes by id; a lane sends its batches one
   * after another, so each job's events stay in order while lanes overlap their round trips. Default 8.
   */
  concurrency?: number;
}

/** Stable lane of a job (FNV-1a of its id): all of a job's events take the same lane. */
function laneOf(jobId: string, lanes: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < jobId.length; i++) {
    h ^= jobId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % lanes;
}

export class EventSinkError extends Error {
  constructor(
    message: string,
    readonly failed: readonly BatchResultErrorEntry[],
  ) {
    super(message);
    this.name = "EventSinkError";
  }
}

export const SQS_BATCH_LIMIT = 10;

/**
 * Splits events into batches of at most 10 such that each job's events land in strictly increasing
 * batches. Batches go out one after another and a batch is complete (failed entries re-sent) before the
 * next, so a re-sent entry can never overtake, or be overtaken by, a later event of its job.
 */
export function planBatches<T extends { jobId: string }>(events: readonly T[]): T[][] {
  const batches: T[][] = [];
  const lastBatchOfJob = new Map<string, number>();
  // Batches before `firstOpen` are full; keeps the scan linear for the common all-distinct-jobs case.
  let firstOpen = 0;
  for (const event of events) {
    let b = Math.max(firstOpen, (lastBatchOfJob.get(event.jobId) ?? -1) + 1);
    while ((batches[b]?.length ?? 0) >= SQS_BATCH_LIMIT) b++;
    let batch = batches[b];
    if (!batch) {
      batch = [];
      batches[b] = batch;
    }
    batch.push(event);
    lastBatchOfJob.set(event.jobId, b);
    while ((batches[firstOpen]?.length ?? 0) >= SQS_BATCH_LIMIT) firstOpen++;
  }
  return batches;
}

function entry(event: JobEventRecord, index: number): SendMessageBatchRequestEntry {
  return {
    // Batch entry ids only need to be unique in the request; event ids may hold characters SQS refuses.
    Id: `e${index}`,
    MessageBody: JSON.stringify(event),
    MessageGroupId: event.jobId,
    MessageDeduplicationId: event.id,
    MessageAttributes: { kind: { DataType: "String", StringValue: event.kind } },
  };
}

/**
 * Publishes job transitions to the events FIFO queue: group = job id keeps each job's order, dedup id =
 * event id makes a relay retry after a crash harmless (within SQS's 5-minute dedup window).
 */
export class SqsEventSink implements EventSink {
  private readonly client: SQSClient;
  private readonly ownsClient: boolean;
  private readonly queueUrl: string;
  private readonly maxEntryAttempts: number;
  private readonly retryDelayMs: number;
  private readonly concurrency: number;

  constructor(opts: SqsEventSinkOptions) {
    this.queueUrl = opts.queueUrl;
    this.ownsClient = !opts.client;
    this.client = opts.client ?? new SQSClient(opts.clientConfig ?? {});
    this.maxEntryAttempts = Math.max(1, opts.maxEntryAttempts ?? 3);
    this.retryDelayMs = opts.retryDelayMs ?? 100;
    this.concurrency = Math.max(1, Math.floor(opts.concurrency ?? 8));
  }

  /**
   * Resolves once every event is accepted by SQS; throws when one is not, after the batches already in
   * flight settle (no lane starts another batch once one has failed). The relay then sends them all again,
   * and the queue drops the copies it already holds.
   */
  async send(events: readonly JobEventRecord[]): Promise<void> {
    if (events.length === 0) return;
    const lanes: JobEventRecord[][] = Array.from({ length: this.concurrency }, () => []);
    for (const e of events) lanes[laneOf(e.jobId, this.concurrency)]?.push(e);
    let failure: { error: unknown } | null = null;
    await Promise.all(
      lanes.map(async (lane) => {
        for (const batch of planBatches(lane)) {
          if (failure) return;
          try {
            await this.sendBatch(batch);
          } catch (error) {
            failure ??= { error };
            return;
          }
        }
      }),
    );
    if (failure) throw (failure as { error: unknown }).error;
  }

  private async sendBatch(batch: readonly JobEventRecord[]): Promise<void> {
    let pending = batch.map((event, i) => entry(event, i));
    for (let attempt = 1; ; attempt++) {
      const out = await this.client.send(
        new SendMessageBatchCommand({ QueueUrl: this.queueUrl, Entries: pending }),
      );
      const failed = out.Failed ?? [];
      if (failed.length === 0) return;
      // A sender fault (too large, malformed) fails the same way every time: report it at once.
      const permanent = failed.filter((f) => f.SenderFault);
      if (permanent.length > 0 || attempt >= this.maxEntryAttempts) {
        const worst = permanent.length > 0 ? permanent : failed;
        const codes = [...new Set(worst.map((f) => f.Code))].join(", ");
        throw new EventSinkError(
          `SQS rejected ${worst.length} of ${batch.length} events after ${attempt} attempt(s): ${codes}`,
          worst,
        );
      }
      const failedIds = new Set(failed.map((f) => f.Id));
      pending = pending.filter((e) => failedIds.has(e.Id));
      await sleep(this.retryDelayMs * 2 ** (attempt - 1));
    }
  }

  close(): void {
    if (this.ownsClient) this.client.destroy();
  }
}
