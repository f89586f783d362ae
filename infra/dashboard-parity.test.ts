import { existsSync, readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { DASHBOARD_PANELS, GRAFANA_ONLY_PANELS, SHARED_PANELS } from "../stacks/dashboard.ts";
import { ROOT } from "./synth.ts";

interface Panel {
  type?: string;
  title?: string;
  panels?: Panel[];
}

const DIR = `${ROOT}/infra/grafana/dashboards`;
const files = existsSync(DIR) ? readdirSync(DIR).filter((f) => f.endsWith(".json")) : [];

function titles(panels: Panel[] = []): string[] {
  return panels.flatMap((p) => [...(p.type === "row" || !p.title ? [] : [p.title]), ...titles(p.panels)]);
}

describe("CloudWatch dashboard and Grafana dashboard", () => {
  // The Grafana dashboard is someone else's file; until it exists there is nothing to compare.
  it.skipIf(files.length === 0)("show the same panels wherever CloudWatch has the data", () => {
    const grafana = new Set(
      files.flatMap((f) =>
        titles((JSON.parse(readFileSync(`${DIR}/${f}`, "utf8")) as { panels?: Panel[] }).panels),
      ),
    );
    // Every Grafana panel is either mirrored in CloudWatch or declared Prometheus-only: a new Grafana panel
    // fails here until someone decides which.
    expect([...grafana].sort()).toEqual([...SHARED_PANELS, ...GRAFANA_ONLY_PANELS].sort());
    for (const title of SHARED_PANELS) expect(DASHBOARD_PANELS).toContain(title);
    for (const title of GRAFANA_ONLY_PANELS)
      expect(DASHBOARD_PANELS as readonly string[]).not.toContain(title);
  });
});
