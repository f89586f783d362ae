import type { Job } from "@astraeus/client";

export function StateBadge({ state }: { state: Job["state"] }) {
  return <span class={`badge badge-${state}`}>{state}</span>;
}
