export type {
  BenchEnv,
  Contender,
  Payload,
  Profile,
  RunningWorker,
  WorkerSettings,
  WorkerSide,
} from "./contender.ts";
export { Results } from "./results.ts";
export { median, percentile, summarize } from "./stats.ts";
