// Messages between the harness and its worker processes (Node IPC, JSON-serialised).

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes on one machine. */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

export interface ChildStats {
  pid: number;
  handled: number;
  /** `now()` at the first and latest handler start, null before any job. */
  firstAt: number | null;
  lastAt: number | null;
  /** CPU time since `go` (µs). */
  cpuUserUs: number;
  cpuSystemUs: number;
  rssBytes: number;
  /** Peak resident set size over the process's life (getrusage maxrss). */
  maxRssBytes: number;
  heapUsedBytes: number;
}

export type ToChild =
  | { type: "go" }
  /** In latency mode every handler start is reported at once instead of being counted. */
  | { type: "latency"; on: boolean }
  | { type: "stats" }
  | { type: "stop" };

export type FromChild =
  | { type: "ready" }
  | { type: "progress"; handled: number }
  | { type: "start"; seq: number; at: number }
  | { type: "stats"; stats: ChildStats }
  | { type: "stopped" }
  | { type: "error"; message: string };
