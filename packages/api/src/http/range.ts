// Range requests (RFC 9110 §14) for file downloads: one byte range per request, as every download tool
// asks; several ranges or a malformed header are ignored (the whole file is served, which the RFC allows).

export type RangeDecision =
  | { kind: "whole" }
  | { kind: "range"; start: number; end: number }
  | { kind: "unsatisfiable" };

const RANGE_RE = /^bytes=(\d*)-(\d*)$/;

export function parseRange(value: string | undefined, size: number): RangeDecision {
  if (value === undefined) return { kind: "whole" };
  const m = RANGE_RE.exec(value.trim());
  if (!m) return { kind: "whole" };
  const [, a = "", b = ""] = m;
  if (a === "" && b === "") return { kind: "whole" };
  if (a === "") {
    // bytes=-N: the last N bytes.
    const n = Number(b);
    if (n === 0 || size === 0) return { kind: "unsatisfiable" };
    return { kind: "range", start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  const end = b === "" ? size - 1 : Math.min(Number(b), size - 1);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end)) return { kind: "whole" };
  if (b !== "" && Number(b) < start) return { kind: "whole" };
  if (start >= size) return { kind: "unsatisfiable" };
  return { kind: "range", start, end };
}
