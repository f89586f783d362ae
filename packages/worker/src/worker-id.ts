import { randomBytes } from "node:crypto";

/**
 * A worker's id when none is given: random, so that it names neither the host nor the process. The id is
 * shown to every key that can read jobs (a job's `workerId`, `GET /v1/workers`), host and pid only to
 * admin keys; the worker's own log lines carry its host and pid for operators.
 */
export function defaultWorkerId(): string {
  return `worker-${randomBytes(6).toString("hex")}`;
}
