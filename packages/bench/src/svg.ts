// Hand-written SVG bar chart of the "Astraeus ÷ best other" ratios: no chart library, stable output
// (same input → same bytes) so the committed file only changes when the figures do.
import type { Better } from "./results.ts";

export interface Bar {
  label: string;
  ratio: number;
  better: Better;
  /** Goal expressed as a ratio (drawn as a tick), if the row has one. */
  goal?: number;
}

const WIDTH = 820;
const LABEL_W = 360;
const ROW_H = 24;
const TOP = 56;
const PLOT_W = WIDTH - LABEL_W - 90;

export function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function fixed(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}

export function ratioChart(title: string, bars: readonly Bar[], subtitle = ""): string {
  const finite = bars.map((b) => b.ratio).filter((r) => Number.isFinite(r) && r > 0);
  const goals = bars.map((b) => b.goal ?? Number.NaN).filter((g) => Number.isFinite(g));
  const maxX = Math.min(5, Math.max(2, ...finite.map((r) => r * 1.1), ...goals.map((g) => g * 1.1)));
  const x = (r: number) => LABEL_W + (Math.min(r, maxX) / maxX) * PLOT_W;
  const height = TOP + bars.length * ROW_H + 40;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<text x="16" y="22" font-size="15" font-weight="600">${escapeXml(title)}</text>`,
    `<text x="16" y="40" fill="#555">${escapeXml(subtitle)}</text>`,
  );
  for (let t = 0; t <= maxX + 1e-9; t += maxX > 3 ? 1 : 0.5) {
    const tx = fixed(x(t));
    out.push(
      `<line x1="${tx}" y1="${TOP - 6}" x2="${tx}" y2="${TOP + bars.length * ROW_H}" stroke="${t === 1 ? "#333" : "#e3e3e3"}" stroke-width="${t === 1 ? 1.5 : 1}"/>`,
      `<text x="${tx}" y="${TOP + bars.length * ROW_H + 16}" text-anchor="middle" fill="#555">${t}×</text>`,
    );
  }
  bars.forEach((bar, i) => {
    const y = TOP + i * ROW_H;
    const mid = y + ROW_H / 2 + 4;
    const suffix = bar.better === "lower" ? " (lower is better)" : "";
    out.push(`<text x="${LABEL_W - 8}" y="${mid}" text-anchor="end">${escapeXml(bar.label + suffix)}</text>`);
    if (Number.isFinite(bar.ratio) && bar.ratio > 0) {
      const wins = bar.better === "higher" ? bar.ratio >= 1 : bar.ratio <= 1;
      const end = x(bar.ratio);
      out.push(
        `<rect x="${LABEL_W}" y="${y + 4}" width="${fixed(end - LABEL_W)}" height="${ROW_H - 8}" fill="${wins ? "#2f9e44" : "#e03131"}" rx="2"/>`,
        `<text x="${fixed(end + 6)}" y="${mid}">${bar.ratio.toFixed(2)}×${bar.ratio > maxX ? " →" : ""}</text>`,
      );
    } else {
      out.push(`<text x="${LABEL_W + 6}" y="${mid}" fill="#868e96">n/a</text>`);
    }
    if (bar.goal !== undefined && Number.isFinite(bar.goal)) {
      const gx = fixed(x(bar.goal));
      out.push(
        `<line x1="${gx}" y1="${y + 2}" x2="${gx}" y2="${y + ROW_H - 2}" stroke="#1c7ed6" stroke-width="2" stroke-dasharray="3 2"/>`,
      );
    }
  });
  out.push(
    `<text x="${WIDTH - 16}" y="${height - 8}" text-anchor="end" fill="#555">green: Astraeus ahead · red: behind · dashed blue: goal</text>`,
    "</svg>",
    "",
  );
  return out.join("\n");
}
