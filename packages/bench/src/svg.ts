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

const WIDTH = 860;
const LABEL_W = 380;
const ROW_H = 24;
const TOP = 56;
const PLOT_W = WIDTH - LABEL_W - 70;
/** The axis spans 1/8× to 8× on a log scale, so 0.5× and 2× sit equally far from parity. */
const SPAN = 3;

export function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function fixed(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}

/** x position of a ratio (clamped to the axis). */
export function ratioX(ratio: number): number {
  const l = Math.max(-SPAN, Math.min(SPAN, Math.log2(ratio)));
  return LABEL_W + ((l + SPAN) / (2 * SPAN)) * PLOT_W;
}

function tickLabel(exp: number): string {
  return exp >= 0 ? `${2 ** exp}×` : `1/${2 ** -exp}×`;
}

/** Diverging bars from parity (1×): right of it Astraeus has the larger figure, left the smaller. */
export function ratioChart(title: string, bars: readonly Bar[], subtitle = ""): string {
  const height = TOP + bars.length * ROW_H + 44;
  const bottom = TOP + bars.length * ROW_H;
  const one = ratioX(1);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<text x="16" y="22" font-size="15" font-weight="600">${escapeXml(title)}</text>`,
    `<text x="16" y="40" fill="#555">${escapeXml(subtitle)}</text>`,
  );
  for (let exp = -SPAN; exp <= SPAN; exp++) {
    const tx = fixed(ratioX(2 ** exp));
    out.push(
      `<line x1="${tx}" y1="${TOP - 6}" x2="${tx}" y2="${bottom}" stroke="${exp === 0 ? "#333" : "#e3e3e3"}" stroke-width="${exp === 0 ? 1.5 : 1}"/>`,
      `<text x="${tx}" y="${bottom + 16}" text-anchor="middle" fill="#555">${tickLabel(exp)}</text>`,
    );
  }
  bars.forEach((bar, i) => {
    const y = TOP + i * ROW_H;
    const mid = y + ROW_H / 2 + 4;
    const suffix = bar.better === "lower" ? " (lower is better)" : "";
    out.push(`<text x="${LABEL_W - 8}" y="${mid}" text-anchor="end">${escapeXml(bar.label + suffix)}</text>`);
    if (Number.isFinite(bar.ratio) && bar.ratio > 0) {
      const wins = bar.better === "higher" ? bar.ratio >= 1 : bar.ratio <= 1;
      const end = ratioX(bar.ratio);
      const left = Math.min(one, end);
      const clipped = Math.abs(Math.log2(bar.ratio)) > SPAN ? " (off scale)" : "";
      out.push(
        `<rect x="${fixed(left)}" y="${y + 4}" width="${fixed(Math.max(1, Math.abs(end - one)))}" height="${ROW_H - 8}" fill="${wins ? "#2f9e44" : "#e03131"}" rx="2"/>`,
        `<text x="${fixed(Math.max(one, end) + 6)}" y="${mid}">${bar.ratio.toFixed(2)}×${clipped}</text>`,
      );
    } else {
      out.push(`<text x="${fixed(one + 6)}" y="${mid}" fill="#868e96">n/a</text>`);
    }
    if (bar.goal !== undefined && Number.isFinite(bar.goal)) {
      const gx = fixed(ratioX(bar.goal));
      out.push(
        `<line x1="${gx}" y1="${y + 2}" x2="${gx}" y2="${y + ROW_H - 2}" stroke="#1c7ed6" stroke-width="2" stroke-dasharray="3 2"/>`,
      );
    }
  });
  out.push(
    `<text x="16" y="${height - 8}" fill="#555">log scale · green: Astraeus ahead · red: behind · dashed blue: goal</text>`,
    "</svg>",
    "",
  );
  return out.join("\n");
}
