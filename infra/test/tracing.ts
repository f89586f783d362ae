import { describe, expect, it } from "vitest";
import { PRESETS } from "../../stacks/config.ts";
import { ADOT_CONTAINER, ADOT_IMAGE, XRAY_WRITE_ACTIONS } from "../../stacks/tracing.ts";
import { type Container, container, containers, env, roleStatements } from "./services.ts";
import { json, only, STACKS, type Stage, text } from "./templates.ts";

interface Sidecar extends Container {
  Image: string;
  Essential: boolean;
  Command: string[];
  HealthCheck: { Command: string[] };
  MemoryReservation: number;
  LogConfiguration: { LogDriver: string };
}

const SERVICES = [
  ["Api", "astraeus-api"],
  ["Worker", "astraeus-worker"],
] as const;

const xrayActions = (stage: Stage, stack: "Api" | "Worker", role: string) =>
  roleStatements(stage, stack, role).flatMap((s) =>
    (Array.isArray(s.Action) ? s.Action : [s.Action]).filter((a) => a.startsWith("xray:")),
  );

// The offline synth deploys prod with ASTRAEUS_TRACING=true and dev without it (infra/synth.ts).
export function tracingSuite(): void {
  describe("on (prod here): an ADOT collector beside each service, exporting to X-Ray", () => {
    it.each(SERVICES)(
      "%s: runs the pinned collector as a non-essential sidecar the service starts after",
      (stack) => {
        const sidecar = only(
          containers("prod", stack).filter((c) => c.Name === ADOT_CONTAINER),
          "collector",
        ) as Sidecar;
        expect(sidecar.Image).toBe(ADOT_IMAGE);
        expect(sidecar.Image).toMatch(/:v\d+\.\d+\.\d+$/);
        expect(sidecar.Essential).toBe(false);
        expect(sidecar.Command).toContain("--config=/etc/ecs/ecs-xray.yaml");
        // The image is FROM scratch: a CMD-SHELL health check could never run.
        expect(sidecar.HealthCheck.Command).toEqual(["CMD", "/healthcheck"]);
        expect(sidecar.MemoryReservation).toBeGreaterThan(0);
        expect(sidecar.LogConfiguration.LogDriver).toBe("awslogs");
        const app = container("prod", stack) as Container & { DependsOn?: unknown };
        expect(app.DependsOn).toEqual([{ ContainerName: ADOT_CONTAINER, Condition: "START" }]);
      },
    );

    it.each(SERVICES)(
      "%s: points the service at the collector on localhost, named and sampled",
      (stack, name) => {
        expect(env(container("prod", stack))).toMatchObject({
          OTEL_EXPORTER_OTLP_ENDPOINT: '"http://localhost:4318"',
          OTEL_SERVICE_NAME: `"${name}"`,
          OTEL_RESOURCE_ATTRIBUTES: '"deployment.environment.name=prod"',
          OTEL_TRACES_SAMPLER: '"parentbased_traceidratio"',
          OTEL_TRACES_SAMPLER_ARG: `"${PRESETS.prod.tracing.sampleRatio}"`,
        });
      },
    );

    it.each(SERVICES)("%s: lets the task role (not the execution role) write to X-Ray", (stack) => {
      const statements = roleStatements("prod", stack, `${stack}TaskDefinitionTaskRole`).filter((s) =>
        text(s.Action).includes("xray:"),
      );
      expect(statements).toHaveLength(1);
      // CDK may merge and reorder a role's statements: the set is what counts.
      expect([statements[0]?.Action].flat().sort()).toEqual([...XRAY_WRITE_ACTIONS].sort());
      expect(statements[0]?.Resource).toBe("*");
      expect(xrayActions("prod", stack, `${stack}TaskDefinitionExecutionRole`)).toEqual([]);
    });
  });

  describe("off (dev, the default)", () => {
    it.each(SERVICES)("%s: only the service's own container, and no OTEL_* variable", (stack) => {
      expect(containers("dev", stack).map((c) => c.Name)).toEqual(["Container"]);
      expect(Object.keys(env(container("dev", stack))).filter((k) => k.startsWith("OTEL_"))).toEqual([]);
    });

    it("grants no X-Ray permission and names no collector anywhere", () => {
      for (const stack of STACKS) {
        const t = text(json("dev", stack));
        expect(t, stack).not.toContain("xray:");
        expect(t, stack).not.toContain("aws-otel-collector");
        expect(t, stack).not.toContain(ADOT_CONTAINER);
      }
    });
  });

  it("is off in every preset until a deploy turns it on", () => {
    for (const preset of Object.values(PRESETS)) expect(preset.tracing.adot).toBe(false);
  });
}
