import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadStageConfig } from "../stacks/config.ts";
import { costTable, DEPLOYMENT_DOC, embeddedTable, estimate } from "./cost.ts";

describe("cost table in docs/deployment.md", () => {
  it("is the one generated from the stage config (run `pnpm cost --write` after changing a size)", () => {
    expect(embeddedTable(readFileSync(DEPLOYMENT_DOC, "utf8"))).toBe(costTable());
  });

  it("prices every component of both stages and stays inside each stage's budget at idle", () => {
    for (const stage of ["dev", "staging", "prod"]) {
      const config = loadStageConfig(stage, {});
      const lines = estimate(config);
      expect(lines.map((l) => l.component)).toContain("RDS Postgres 16");
      for (const l of lines)
        expect(Number.isFinite(l.usd) && l.usd >= 0, `${stage} ${l.component}`).toBe(true);
      const total = lines.reduce((s, l) => s + l.usd, 0);
      expect(total).toBeLessThan(config.alarms.monthlyBudgetUsd);
    }
  });

  it("charges prod-only items (interface endpoints, Multi-AZ) to prod alone", () => {
    const dev = estimate(loadStageConfig("dev", {}));
    const prod = estimate(loadStageConfig("prod", {}));
    const usd = (lines: typeof dev, c: string) => lines.find((l) => l.component === c)?.usd ?? -1;
    expect(usd(dev, "VPC interface endpoints")).toBe(0);
    expect(usd(prod, "VPC interface endpoints")).toBeGreaterThan(0);
    expect(usd(prod, "RDS Postgres 16")).toBeGreaterThan(10 * usd(dev, "RDS Postgres 16"));
  });
});
