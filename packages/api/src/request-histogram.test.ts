import { Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { RequestHistogram } from "./request-histogram.ts";

const BOUNDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const OBSERVATIONS: [string, string, number, number][] = [
  ["POST", "/v1/jobs", 201, 0.0004],
  ["POST", "/v1/jobs", 201, 0.001],
  ["POST", "/v1/jobs", 201, 0.0031],
  ["GET", "/v1/jobs/:id", 404, 0.012],
  ["POST", "/v1/jobs", 422, 0.5],
  ["GET", "/v1/jobs/:id", 200, 31],
  ["GET", 'odd "route"\\', 500, 0.25],
  ["POST", "/v1/jobs", 201, 0.0025],
];

function pair() {
  const reference = new Registry();
  const histogram = new Histogram({
    name: "http_request_duration_seconds",
    help: "HTTP request duration by route template and status",
    labelNames: ["method", "route", "status"],
    buckets: BOUNDS,
    registers: [reference],
  });
  const ours = new Registry();
  const fast = new RequestHistogram(
    "http_request_duration_seconds",
    "HTTP request duration by route template and status",
    BOUNDS,
    ours,
  );
  for (const [method, route, status, seconds] of OBSERVATIONS) {
    histogram.observe({ method, route, status: String(status) }, seconds);
    fast.observe(method, route, status, seconds);
  }
  return { reference, ours };
}

describe("RequestHistogram", () => {
  it("renders exactly what a prom-client Histogram fed the same requests renders", async () => {
    const { reference, ours } = pair();
    const text = await ours.metrics();
    expect(text).toBe(await reference.metrics());
    expect(text).toContain(
      'http_request_duration_seconds_bucket{le="0.001",method="POST",route="/v1/jobs",status="201"} 2',
    );
  });

  it("gives the same JSON form, and nothing after a reset", async () => {
    const { reference, ours } = pair();
    // prom-client adds an (always empty here) exemplar field to each value; exemplars are not used.
    const withoutExemplars = (await reference.getMetricsAsJSON()).map((m) => ({
      ...m,
      values: m.values.map((v) => {
        const { exemplar: _, ...rest } = v as typeof v & { exemplar?: unknown };
        return rest;
      }),
    }));
    expect(await ours.getMetricsAsJSON()).toEqual(withoutExemplars);
    ours.resetMetrics();
    expect(await ours.metrics()).not.toContain("_bucket");
  });
});
