// What other packages use: the scaler's metric names (the stacks' alarms and dashboard read them).
export { DIMENSION, METRIC, METRIC_NAMESPACE, type MetricName } from "./scaler/metric-names.ts";
