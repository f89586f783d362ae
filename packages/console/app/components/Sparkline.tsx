// A small per-minute chart: SVG drawn from the data (no chart library, nothing inline to allow in the CSP).
export interface SparklineProps {
  /** One value per minute, oldest first; null is a gap (no data that minute). */
  values: readonly (number | null)[];
  /** What the chart shows, read by screen readers in place of the picture. */
  label: string;
  /** Top of the scale. Default: the largest value (at least 1). */
  max?: number;
  kind?: "completed" | "failure";
  width?: number;
  height?: number;
}

export function Sparkline({
  values,
  label,
  max,
  kind = "completed",
  width = 150,
  height = 32,
}: SparklineProps) {
  const top = max ?? Math.max(1, ...values.map((v) => v ?? 0));
  const n = Math.max(1, values.length);
  const barWidth = width / n;
  return (
    <svg
      class={`sparkline sparkline-${kind}`}
      role="img"
      aria-label={label}
      viewBox={`0 0 ${width} ${height}`}
      width={width}
      height={height}
    >
      <title>{label}</title>
      <line class="sparkline-base" x1="0" x2={width} y1={height - 0.5} y2={height - 0.5} />
      {values.map((v, i) => {
        if (v === null || v <= 0) return null;
        const h = Math.max(1.5, (Math.min(v, top) / top) * (height - 2));
        return (
          <rect key={i} x={i * barWidth} y={height - h} width={Math.max(1, barWidth - 0.6)} height={h} />
        );
      })}
    </svg>
  );
}
