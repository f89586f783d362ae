import { describe, expect, it } from "vitest";
import { z } from "zod";
import { TRACING_ENV, tracingSettings } from "./settings.ts";

const parse = (env: Record<string, string>) => z.object(TRACING_ENV).parse(env);
const settings = (env: Record<string, string>) => tracingSettings(parse(env), "astraeus-worker");

describe("tracing settings from the standard OTEL_* variables", () => {
  it("is off with nothing set, and with only a service name", () => {
    expect(settings({})).toBeNull();
    expect(settings({ OTEL_SERVICE_NAME: "jobs" })).toBeNull();
  });

  it("is on with an OTLP endpoint (either one), over http/protobuf unless told otherwise", () => {
    expect(settings({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" })).toEqual({
      exporters: ["otlp"],
      protocol: "http/protobuf",
      serviceName: "astraeus-worker",
    });
    expect(
      settings({
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://collector:4318/v1/traces",
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
        OTEL_SERVICE_NAME: "billing-worker",
      }),
    ).toEqual({ exporters: ["otlp"], protocol: "http/json", serviceName: "billing-worker" });
    // The traces-specific protocol wins over the general one.
    expect(
      settings({
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318",
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/protobuf",
      })?.protocol,
    ).toBe("http/protobuf");
  });

  it("is on with an exporter named, without an endpoint (the SDK's default localhost:4318 then)", () => {
    expect(settings({ OTEL_TRACES_EXPORTER: "otlp" })?.exporters).toEqual(["otlp"]);
    expect(settings({ OTEL_TRACES_EXPORTER: "console, otlp,console" })?.exporters).toEqual([
      "console",
      "otlp",
    ]);
  });

  it("is off when OTEL_SDK_DISABLED=true or the exporter is none, whatever else is set", () => {
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" };
    expect(settings({ ...endpoint, OTEL_SDK_DISABLED: "true" })).toBeNull();
    expect(settings({ ...endpoint, OTEL_SDK_DISABLED: "TRUE", OTEL_TRACES_EXPORTER: "otlp" })).toBeNull();
    expect(settings({ ...endpoint, OTEL_TRACES_EXPORTER: "none" })).toBeNull();
    expect(settings({ ...endpoint, OTEL_SDK_DISABLED: "false" })).not.toBeNull();
  });

  it("reads blank variables as unset", () => {
    expect(
      settings({ OTEL_EXPORTER_OTLP_ENDPOINT: "", OTEL_TRACES_EXPORTER: "", OTEL_SDK_DISABLED: "" }),
    ).toBeNull();
  });

  it("refuses what it cannot honour, naming the variable", () => {
    const bad = z.object(TRACING_ENV).safeParse({
      OTEL_EXPORTER_OTLP_PROTOCOL: "grpc",
      OTEL_TRACES_EXPORTER: "zipkin",
      OTEL_EXPORTER_OTLP_ENDPOINT: "not a url",
    });
    expect(bad.success).toBe(false);
    const paths = bad.error?.issues.map((i) => i.path.join("."));
    expect(paths).toEqual(
      expect.arrayContaining([
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_TRACES_EXPORTER",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
      ]),
    );
    expect(bad.error?.issues.find((i) => i.path[0] === "OTEL_EXPORTER_OTLP_PROTOCOL")?.message).toMatch(
      /grpc is not supported/,
    );
  });
});
