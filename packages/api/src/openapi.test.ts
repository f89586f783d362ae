import { readFile } from "node:fs/promises";
import { Validator } from "@seriousme/openapi-schema-validator";
import { beforeAll, describe, expect, it } from "vitest";
import { buildOpenApiDocument, OPENAPI_PATH, serialiseDocument } from "./scripts/openapi.ts";

type Doc = {
  paths: Record<string, Record<string, { responses: Record<string, unknown>; security?: unknown }>>;
};

let generated: Record<string, unknown>;
beforeAll(async () => {
  generated = await buildOpenApiDocument();
});

describe("the OpenAPI document", () => {
  it("is a valid OpenAPI 3.1 document", async () => {
    const validator = new Validator();
    const res = await validator.validate(structuredClone(generated));
    expect(res.errors ?? []).toEqual([]);
    expect(res.valid).toBe(true);
    expect(validator.version).toBe("3.1");
  });

  it("is checked in at docs/openapi.json and up to date (run `pnpm --filter @astraeus/api openapi`)", async () => {
    const checkedIn = await readFile(OPENAPI_PATH, "utf8");
    expect(checkedIn).toBe(serialiseDocument(generated));
  });

  it("documents every public route with its error responses", () => {
    const paths = (generated as Doc).paths;
    const expected: [string, string][] = [
      ["post", "/v1/jobs"],
      ["post", "/v1/jobs/batch"],
      ["get", "/v1/jobs"],
      ["get", "/v1/jobs/{id}"],
      ["post", "/v1/jobs/{id}/cancel"],
      ["post", "/v1/jobs/{id}/retry"],
      ["get", "/v1/jobs/{id}/events"],
      ["get", "/v1/jobs/{id}/stream"],
      ["get", "/v1/queues"],
      ["get", "/v1/queues/{name}"],
      ["patch", "/v1/queues/{name}"],
      ["post", "/v1/queues/{name}/retry"],
      ["post", "/v1/queues/{name}/cancel"],
      ["post", "/v1/queues/{name}/promote"],
      ["post", "/v1/queues/{name}/purge"],
      ["get", "/v1/workers"],
      ["post", "/v1/schedules"],
      ["get", "/v1/schedules"],
      ["get", "/v1/schedules/{id}"],
      ["patch", "/v1/schedules/{id}"],
      ["delete", "/v1/schedules/{id}"],
      ["get", "/v1/throughput"],
      ["get", "/v1/me"],
      ["post", "/v1/worker/claim"],
      ["post", "/v1/worker/heartbeat"],
      ["post", "/v1/worker/complete"],
      ["post", "/v1/worker/fail"],
      ["post", "/v1/webhooks"],
      ["get", "/v1/webhooks"],
      ["get", "/v1/webhooks/{id}"],
      ["patch", "/v1/webhooks/{id}"],
      ["delete", "/v1/webhooks/{id}"],
      ["post", "/v1/webhooks/{id}/rotate-secret"],
      ["post", "/v1/webhooks/{id}/test"],
      ["get", "/v1/webhooks/{id}/deliveries"],
      ["get", "/v1/webhooks/{id}/deliveries/{deliveryId}"],
      ["post", "/v1/webhooks/{id}/deliveries/{deliveryId}/redeliver"],
      ["post", "/v1/admin/reconcile"],
      ["post", "/v1/admin/api-keys"],
      ["get", "/v1/admin/api-keys"],
      ["delete", "/v1/admin/api-keys/{id}"],
      ["get", "/health"],
      ["get", "/ready"],
      ["get", "/metrics"],
    ];
    for (const [method, path] of expected) {
      const op = paths[path]?.[method];
      expect(op, `${method} ${path}`).toBeDefined();
      if (path.startsWith("/v1/")) {
        expect(op?.security, `${method} ${path}`).toEqual([{ bearer: [] }]);
        expect(Object.keys(op?.responses ?? {}), `${method} ${path}`).toEqual(
          expect.arrayContaining(["401", "429"]),
        );
      }
    }
    expect(paths["/v1/jobs"]?.post?.responses).toHaveProperty("422");
    expect(paths["/v1/jobs"]?.post?.responses).toHaveProperty("415");
    expect(paths["/v1/schedules"]?.post?.responses).toHaveProperty("422");
    expect(paths["/v1/schedules/{id}"]?.patch?.responses).toHaveProperty("409");
  });

  it("describes the request every webhook receiver gets (OpenAPI 3.1 `webhooks`)", () => {
    const doc = generated as {
      webhooks: Record<string, { post?: { requestBody?: unknown } }>;
      components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
    };
    expect(JSON.stringify(doc.webhooks["job-event"]?.post?.requestBody)).toContain(
      "#/components/schemas/WebhookPayload",
    );
    expect(Object.keys(doc.components.schemas.WebhookPayload?.properties ?? {})).toEqual([
      "type",
      "timestamp",
      "data",
    ]);
  });

  it("names the shared shapes as components", () => {
    const schemas = (generated as { components: { schemas: Record<string, unknown> } }).components.schemas;
    for (const name of [
      "Job",
      "JobSubmission",
      "JobEvent",
      "Problem",
      "QueueStats",
      "QueueSettings",
      "QueueDetail",
      "BulkResult",
      "ClaimedJob",
      "JsonValue",
      "Webhook",
      "WebhookDelivery",
      "Schedule",
      "ScheduleCreate",
      "SchedulePatch",
      "SchedulePage",
    ]) {
      expect(schemas, name).toHaveProperty(name);
    }
  });
});
