import type { Metric, Registry } from "prom-client";

interface Series {
  labels: { method: string; route: string; status: string };
  /** Observations per bucket (not cumulative); index i counts values in (bounds[i-1], bounds[i]]. */
  counts: number[];
  sum: number;
  count: number;
}

/**
 * The request-duration histogram, exposed through a prom-client registry exactly as a prom-client
 * Histogram with labels (method, route, status) would be, but observed without prom-client's per-call
 * label hashing and validation (even for children bound with labels()): it is observed on every request,
 * so its series are found by one string key instead.
 */
export class RequestHistogram {
  readonly type = "histogram";
  readonly aggregator = "sum";
  private readonly series = new Map<string, Series>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
    registry: Registry,
  ) {
    registry.registerMetric(this as unknown as Metric);
  }

  observe(method: string, route: string, status: number, seconds: number): void {
    const key = `${status} ${method} ${route}`;
    let s = this.series.get(key);
    if (s === undefined) {
      s = {
        labels: { method, route, status: String(status) },
        counts: this.bounds.map(() => 0),
        sum: 0,
        count: 0,
      };
      this.series.set(key, s);
    }
    // Bucket `le` holds values up to and including its bound, as prom-client's findBound decides.
    let i = 0;
    while (i < this.bounds.length && seconds > (this.bounds[i] as number)) i++;
    if (i < s.counts.length) s.counts[i] = (s.counts[i] as number) + 1;
    s.sum += seconds;
    s.count++;
  }

  /** What the registry renders: the same values, labels and order as prom-client's Histogram. */
  async getForPromString() {
    const values: {
      labels: Record<string, string | number>;
      sharedLabels: Record<string, string>;
      value: number;
      metricName: string;
    }[] = [];
    const bucket = `${this.name}_bucket`;
    for (const s of this.series.values()) {
      let acc = 0;
      this.bounds.forEach((le, i) => {
        acc += s.counts[i] as number;
        values.push({ labels: { le }, sharedLabels: s.labels, value: acc, metricName: bucket });
      });
      values.push({ labels: { le: "+Inf" }, sharedLabels: s.labels, value: s.count, metricName: bucket });
      values.push({ labels: {}, sharedLabels: s.labels, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: {}, sharedLabels: s.labels, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  /** JSON form (registry.getMetricsAsJSON), labels merged as prom-client does. */
  async get() {
    const data = await this.getForPromString();
    return {
      ...data,
      values: data.values.map(({ labels, sharedLabels, value, metricName }) => ({
        labels: { ...labels, ...sharedLabels },
        value,
        metricName,
      })),
    };
  }

  reset(): void {
    this.series.clear();
  }
}
