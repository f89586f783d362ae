/**
 * `next` of a keyset-paged list: the list's path with the same filters and the next page's cursor, or
 * null on the last page. The one rule for every list route (jobs, files, schedules, webhooks).
 */
export function nextPageLink(
  path: string,
  filters: Record<string, unknown>,
  nextCursor: string | null,
): string | null {
  if (nextCursor === null) return null;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(filters))
    if (v !== undefined && k !== "cursor") params.set(k, String(v));
  params.set("cursor", nextCursor);
  return `${path}?${params}`;
}
