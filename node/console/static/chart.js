// Small inline SVG charts drawn by hand: a line chart and a line-over-bars chart. Input is a
// list of numbers (or [x, y] pairs); the output is an SVG string sized by the caller.

const W = 560;
const H = 160;
const PAD = { left: 56, right: 12, top: 12, bottom: 22 };

function scale(values, floorZero = true) {
  let low = Math.min(...values);
  let high = Math.max(...values);
  if (floorZero) low = Math.min(0, low);
  if (high === low) {
    const spread = Math.max(1, Math.abs(high) * 0.05);
    high += spread;
    if (!floorZero) low -= spread;
  }
  return { low, high };
}

function label(value) {
  if (Math.abs(value) >= 1000) return new Intl.NumberFormat("en-US").format(Math.round(value));
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

function axes(yr, yTitle) {
  const y0 = H - PAD.bottom;
  const lines = [
    `<line x1="${PAD.left}" y1="${PAD.top}" x2="${PAD.left}" y2="${y0}" class="axis"/>`,
    `<line x1="${PAD.left}" y1="${y0}" x2="${W - PAD.right}" y2="${y0}" class="axis"/>`,
    `<text x="${PAD.left - 4}" y="${PAD.top + 8}" text-anchor="end" class="tick">${label(yr.high)}</text>`,
    `<text x="${PAD.left - 4}" y="${y0}" text-anchor="end" class="tick">${label(yr.low)}</text>`,
    `<text x="${PAD.left + 4}" y="${PAD.top + 8}" class="title">${yTitle}</text>`,
  ];
  return lines.join("");
}

function xy(points, yr, count) {
  const x = (i) => PAD.left + (count <= 1 ? (W - PAD.left - PAD.right) / 2 : (i * (W - PAD.left - PAD.right)) / (count - 1));
  const y = (v) => H - PAD.bottom - ((v - yr.low) * (H - PAD.top - PAD.bottom)) / (yr.high - yr.low);
  return points.map((v, i) => [x(i), y(v)]);
}

export function lineChart(values, { title = "", empty = "–", cls = "" } = {}) {
  if (values.length === 0) {
    return `<svg viewBox="0 0 ${W} ${H}" class="chart ${cls}" role="img"><text x="${W / 2}" y="${H / 2}" text-anchor="middle" class="tick">${empty}</text></svg>`;
  }
  const yr = scale(values);
  const pts = xy(values, yr, values.length);
  const path = pts.map(([x, y], i) => `${i ? "L" : "M"}${x.toFixed(1)},${y.toFixed(1)}`).join("");
  const dots = pts.map(([x, y]) => `<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="2"/>`).join("");
  return `<svg viewBox="0 0 ${W} ${H}" class="chart ${cls}" role="img">${axes(yr, title)}<path d="${path}" class="line"/>${dots}</svg>`;
}

// prices: list of numbers (a line), volumes: list of numbers (bars at the bottom).
export function priceVolumeChart(prices, volumes, { title = "", empty = "–" } = {}) {
  if (prices.length === 0) return lineChart([], { empty });
  const yr = scale(prices, false);
  const pad = Math.ceil((yr.high - yr.low) * 0.1);
  const ys = { low: yr.low - pad, high: yr.high + pad };
  const pts = xy(prices, ys, prices.length);
  const path = pts.map(([x, y], i) => `${i ? "L" : "M"}${x.toFixed(1)},${y.toFixed(1)}`).join("");
  const vmax = Math.max(...volumes, 1);
  const barH = (H - PAD.top - PAD.bottom) * 0.3;
  const width = Math.min(16, Math.max(2, ((W - PAD.left - PAD.right) / prices.length) * 0.6));
  const bars = volumes.map((v, i) => {
    const h = (v / vmax) * barH;
    const x = Math.min(Math.max(pts[i][0] - width / 2, PAD.left + 1), W - PAD.right - width);
    return `<rect x="${x.toFixed(1)}" y="${(H - PAD.bottom - h).toFixed(1)}" width="${width.toFixed(1)}" height="${h.toFixed(1)}" class="bar"/>`;
  }).join("");
  const dots = pts.map(([x, y]) => `<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="2.5"/>`).join("");
  return `<svg viewBox="0 0 ${W} ${H}" class="chart" role="img">${bars}${axes(ys, title)}<path d="${path}" class="line"/>${dots}</svg>`;
}
