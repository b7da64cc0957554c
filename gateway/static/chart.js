// A small SVG line chart of (time ms, value) points over a fixed window.

const SVG = "http://www.w3.org/2000/svg";

function el(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

/**
 * trend(points, {windowMs, now, max, label}) -> an <svg> with a polyline of the points
 * inside [now - windowMs, now]; y from 0 to max (or the largest value). Labelled for
 * screen readers with the latest value.
 */
export function trend(points, { windowMs, now, max, label, format }) {
  const width = 240;
  const height = 48;
  const from = now - windowMs;
  const shown = points.filter(([t]) => t >= from);
  const top = max ?? Math.max(1, ...shown.map(([, v]) => v ?? 0));
  const latest = shown.length ? shown[shown.length - 1][1] : null;
  const svg = el("svg", {
    viewBox: `0 0 ${width} ${height}`, class: "trend", role: "img",
    "aria-label": `${label}: ${latest === null ? "no data" : format(latest)} now, last ${Math.round(windowMs / 60000)} minutes`,
  });
  svg.appendChild(el("line", { x1: 0, y1: height - 1, x2: width, y2: height - 1, class: "axis" }));
  const coords = shown
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([t, v]) => `${(((t - from) / windowMs) * width).toFixed(1)},${(height - 2 - (v / top) * (height - 4)).toFixed(1)}`);
  if (coords.length) svg.appendChild(el("polyline", { points: coords.join(" "), class: "line" }));
  return svg;
}
