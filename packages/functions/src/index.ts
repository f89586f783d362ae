// What other packages use: the worker's outbox relay hands job events to the SQS sink.
export {
  EventSinkError,
  type JobEventRecord,
  planBatches,
  SqsEventSink,
  type SqsEventSinkOptions,
} from "./events/sqs-sink.ts";
export { DIMENSION, METRIC, METRIC_NAMESPACE, type MetricName } from "./scaler/metric-names.ts";
