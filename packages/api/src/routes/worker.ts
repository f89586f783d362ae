// The HTTP worker protocol: claim (long-poll) / heartbeat / complete / fail, fenced by lease tokens
// exactly like the in-process runtime. A write with a stale token is 409 `lease_lost` and changes nothing.

import type { ClaimedJob as WireClaimedJob } from "@astraeus/contract";
import { AppError, type ClaimedJob, poll } from "@astraeus/core";
import { createRoute } from "@hono/zod-openapi";
import { requireScope } from "../http/auth.ts";
import { jsonBody } from "../http/body.ts";
import type { ApiApp } from "../http/env.ts";
import {
  ClaimRequestDoc,
  ClaimResponseDoc,
  CompleteRequestDoc,
  CompleteResponseDoc,
  FailRequestDoc,
  FailResponseDoc,
  HeartbeatRequestDoc,
  HeartbeatResponseDoc,
  json,
  problems,
  SECURITY,
} from "../openapi.ts";
import type { RouteDeps } from "./deps.ts";

const DEFAULT_CLAIM_WAIT_MS = 20_000;

/** A time the engine's claim reads for this protocol (`times`); never missing from its jobs. */
function claimTime(d: Date | undefined, name: string): string {
  if (d === undefined) throw new Error(`claimed job without ${name}: the claim must read its times`);
  return d.toISOString();
}

function toWire(j: ClaimedJob): WireClaimedJob {
  const wire: WireClaimedJob = {
    id: j.id,
    tenant: j.tenant,
    queue: j.queue,
    type: j.type,
    payload: j.payload,
    attempt: j.attempt,
    maxAttempts: j.maxAttempts,
    timeoutMs: j.timeoutMs,
    leaseToken: j.leaseToken,
    leaseExpiresAt: claimTime(j.leaseExpiresAt, "leaseExpiresAt"),
    createdAt: claimTime(j.createdAt, "createdAt"),
  };
  // The trace the job's attempts continue (the engine's claim reads it for the HTTP protocol).
  if (j.traceContext) wire.traceparent = j.traceContext;
  return wire;
}

function leaseLost(ids: string[]): AppError {
  return new AppError(
    "lease_lost",
    "the lease is no longer held: the job was reclaimed, finished or cancelled",
    {
      lost: ids,
    },
  );
}

export function workerRoutes(app: ApiApp, deps: RouteDeps): void {
  const { engine, config } = deps;
  const worker = requireScope("worker");
  const body = jsonBody(config.bodyLimitBytes);

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/worker/claim",
      tags: ["workers"],
      summary: "Claim ready jobs, waiting up to `waitMs` (≤ 20 s) for some",
      description:
        "Each claimed job carries a lease token; heartbeat before `leaseExpiresAt` (every third of the lease), " +
        "then complete or fail it. Returns `{ jobs: [] }` when the wait ends empty.",
      security: SECURITY,
      middleware: [worker, body] as const,
      request: { body: { required: true, content: { "application/json": { schema: ClaimRequestDoc } } } },
      responses: {
        200: json(ClaimResponseDoc, "Claimed jobs (possibly none)"),
        ...problems(400, 401, 403, 415, 422, 429),
      },
    }),
    async (c) => {
      const req = c.req.valid("json");
      const tenant = c.get("principal").tenant;
      const claim = {
        queues: req.queues,
        limit: req.limit ?? 1,
        workerId: req.workerId,
        ...(req.leaseMs !== undefined ? { leaseMs: req.leaseMs } : {}),
        ...(req.types !== undefined ? { types: req.types } : {}),
      };
      // A client that hung up must not be handed jobs it will never see: poll stops on its signal before
      // claiming again.
      const jobs = await poll(
        async () => {
          const got = await engine.claim(tenant, claim);
          return got.length > 0 ? got : undefined;
        },
        {
          intervalMs: config.pollIntervalMs,
          timeoutMs: req.waitMs ?? DEFAULT_CLAIM_WAIT_MS,
          signals: [c.req.raw.signal, deps.signal],
        },
      );
      return c.json({ jobs: (jobs ?? []).map(toWire) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/worker/heartbeat",
      tags: ["workers"],
      summary: "Extend leases; learn which were lost or asked to cancel",
      description: "200 when at least one lease is still held (lost ones are listed); 409 when none is.",
      security: SECURITY,
      middleware: [worker, body] as const,
      request: { body: { required: true, content: { "application/json": { schema: HeartbeatRequestDoc } } } },
      responses: {
        200: json(HeartbeatResponseDoc, "Leases extended"),
        ...problems(400, 401, 403, 409, 415, 422, 429),
      },
    }),
    async (c) => {
      const req = c.req.valid("json");
      const r = await engine.heartbeat(c.get("principal").tenant, req.leases, req.leaseMs);
      const alive = new Set(r.alive);
      const lost = req.leases.map((l) => l.id).filter((id) => !alive.has(id));
      if (r.alive.length === 0) throw leaseLost(lost);
      return c.json({ alive: r.alive, lost, cancelRequested: r.cancelRequested }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/worker/complete",
      tags: ["workers"],
      summary: "Finish a claimed job successfully",
      security: SECURITY,
      middleware: [worker, body] as const,
      request: { body: { required: true, content: { "application/json": { schema: CompleteRequestDoc } } } },
      responses: {
        200: json(CompleteResponseDoc, "The job succeeded"),
        ...problems(400, 401, 403, 404, 409, 413, 415, 422, 429),
      },
    }),
    async (c) => {
      const req = c.req.valid("json");
      const tenant = c.get("principal").tenant;
      let result = req.result ?? null;
      if (engine.files) {
        // As for in-process handlers: the files the job wrote are listed in its result, and an oversized
        // result is stored as a file it points to. The owner is checked first (404 for another tenant's job).
        await engine.get(tenant, req.id);
        // Only the lease holder's completion may store an oversized result as a file of the job (a stale
        // or forged one would leave it linked to the job, listed among the outputs of the real completion).
        if (!(await engine.files.repo.jobLeaseHeld(tenant, req.id, req.leaseToken)))
          throw leaseLost([req.id]);
        const outputs = await engine.files.repo.listFiles(tenant, {
          jobId: req.id,
          role: "output",
          limit: 1000,
        });
        result = await engine.files.finalizeResult(
          { id: req.id, tenant },
          result,
          outputs.filter((f) => f.state === "ready"),
        );
      }
      const ok = await engine.complete(tenant, { id: req.id, leaseToken: req.leaseToken }, result);
      if (!ok) throw leaseLost([req.id]);
      return c.json({ id: req.id, state: "succeeded" as const }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/worker/fail",
      tags: ["workers"],
      summary: "Report a failed attempt: retried with backoff, or dead-lettered",
      description:
        "`retryable: false` (or the last attempt) dead-letters the job; otherwise it is queued again after " +
        "the backoff `retry` describes (over the queue's default backoff, else 1 s base, ×2, 5 min cap, full " +
        "jitter). `timedOut: true` records the attempt as `timed_out`. The in-process worker decides by the " +
        "same rule.",
      security: SECURITY,
      middleware: [worker, body] as const,
      request: { body: { required: true, content: { "application/json": { schema: FailRequestDoc } } } },
      responses: {
        200: json(FailResponseDoc, "Where the job went"),
        ...problems(400, 401, 403, 404, 409, 415, 422, 429),
      },
    }),
    async (c) => {
      const req = c.req.valid("json");
      const r = await engine.fail(c.get("principal").tenant, {
        id: req.id,
        leaseToken: req.leaseToken,
        error: req.error,
        ...(req.retryable !== undefined ? { retryable: req.retryable } : {}),
        ...(req.timedOut !== undefined ? { timedOut: req.timedOut } : {}),
        ...(req.retry !== undefined ? { retry: req.retry } : {}),
      });
      if (!r.accepted || r.state === null) throw leaseLost([req.id]);
      return c.json({ id: req.id, state: r.state }, 200);
    },
  );
}
