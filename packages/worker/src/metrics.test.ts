import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { scheduleMetrics } from "./metrics.ts";

describe("schedule metrics", () => {
  it("count fires by result and misses by reason, every series present from the start", async () => {
    const registry = new Registry();
    const onPass = scheduleMetrics(registry);
    expect(await registry.metrics()).toContain('astraeus_schedule_misses_total{reason="overlap"} 0');
    onPass({ fired: 3, refired: 1, missed: 7, overlapSkipped: 2, refused: 1, errors: 4 });
    onPass({ fired: 1, refired: 0, missed: 0, overlapSkipped: 0, refused: 0, errors: 0 });
    const text = await registry.metrics();
    expect(text).toContain('astraeus_schedule_fires_total{result="submitted"} 4');
    expect(text).toContain('astraeus_schedule_fires_total{result="refired"} 1');
    expect(text).toContain('astraeus_schedule_misses_total{reason="missed"} 7');
    expect(text).toContain('astraeus_schedule_misses_total{reason="overlap"} 2');
    expect(text).toContain('astraeus_schedule_misses_total{reason="refused"} 1');
    expect(text).toContain("astraeus_schedule_fire_errors_total 4");
  });
});
