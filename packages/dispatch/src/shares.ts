/**
 * How many of each list's items to take for `want` in all, shared fairly: every list gets an equal share,
 * and what a short list cannot use goes to the others. Lists earlier in the order get the remainder.
 */
export function fairShares(lengths: readonly number[], want: number): number[] {
  const take = lengths.map(() => 0);
  let left = Math.min(
    want,
    lengths.reduce((a, b) => a + b, 0),
  );
  let open = lengths.flatMap((n, i) => (n > 0 ? [i] : []));
  while (left > 0 && open.length > 0) {
    const each = Math.max(1, Math.floor(left / open.length));
    for (const i of open) {
      const n = Math.min(each, (lengths[i] ?? 0) - (take[i] ?? 0), left);
      take[i] = (take[i] ?? 0) + n;
      left -= n;
      if (left === 0) break;
    }
    open = open.filter((i) => (take[i] ?? 0) < (lengths[i] ?? 0));
  }
  return take;
}
