// autocannon ships no types; this covers the part of its API the harness uses.
declare module "autocannon" {
  interface Options {
    url: string;
    connections?: number;
    duration?: number;
    pipelining?: number;
    method?: string;
    headers?: Record<string, string>;
    body?: string;
    timeout?: number;
  }
  interface Histogram {
    average: number;
    mean: number;
    p50: number;
    p99: number;
    max: number;
    total: number;
  }
  interface RequestStats extends Histogram {
    /** Requests written, answered or not (the difference was in flight when the run stopped). */
    sent: number;
  }
  interface Result {
    duration: number;
    errors: number;
    timeouts: number;
    non2xx: number;
    "2xx": number;
    latency: Histogram;
    requests: RequestStats;
  }
  function autocannon(opts: Options): Promise<Result>;
  export default autocannon;
}
