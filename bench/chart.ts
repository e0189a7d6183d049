// Renders benchmark results as an SVG bar chart of ratios (ours / theirs):
// one bar per case, a line at 1.0x. No dependencies: plain SVG text.
import type { BenchResult } from './harness.js';

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function ratioChart(results: BenchResult[], title: string): string {
  const rowHeight = 22;
  // About 6.6 px per character at 12 px sans-serif.
  const labelWidth = Math.max(
    200,
    Math.ceil(Math.max(...results.map((r) => r.name.length)) * 6.6) + 16,
  );
  const barWidth = 420;
  const top = 40;
  const maxRatio = Math.max(2, ...results.map((r) => (Number.isFinite(r.ratio) ? r.ratio : 0)));
  const scale = barWidth / maxRatio;
  const height = top + results.length * rowHeight + 30;
  const width = labelWidth + barWidth + 80;
  const rows = results.map((r, i) => {
    const y = top + i * rowHeight;
    const ratio = Number.isFinite(r.ratio) ? r.ratio : 0;
    const w = Math.max(1, ratio * scale);
    const color = ratio >= 1 ? '#2f855a' : '#c05621';
    return [
      `<text x="${labelWidth - 8}" y="${y + 15}" text-anchor="end">${escape(r.name)}</text>`,
      `<rect x="${labelWidth}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowHeight - 6}" fill="${color}"/>`,
      `<text x="${labelWidth + w + 6}" y="${y + 15}">${ratio.toFixed(2)}x</text>`,
    ].join('');
  });
  const one = labelWidth + scale;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="22" font-size="14" font-weight="bold">${escape(title)}</text>`,
    ...rows,
    `<line x1="${one}" y1="${top - 4}" x2="${one}" y2="${height - 24}" stroke="#333" stroke-dasharray="4 3"/>`,
    `<text x="${one}" y="${height - 8}" text-anchor="middle">1.0x = Node's own module</text>`,
    '</svg>',
    '',
  ].join('\n');
}
