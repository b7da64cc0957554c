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

/**
 * durations(points, {p50Ms, p95Ms, label, format}) -> an <svg> with one dot per attempt
 * (oldest left), joined by a line, and the test's P50 and P95 as horizontal lines; y from
 * 0 to the largest of them. points: [{ms, status, title}]. Each dot carries its duration
 * (data-ms) and a tooltip (<title>, text only); each line its figure.
 */
export function durations(points, { p50Ms, p95Ms, label, format }) {
  const width = 600;
  const height = 120;
  const pad = 6;
  const top = Math.max(1, ...points.map((p) => p.ms), p50Ms ?? 0, p95Ms ?? 0);
  const y = (v) => (height - pad - (v / top) * (height - 2 * pad)).toFixed(1);
  const x = (i) => (points.length < 2 ? width / 2 : pad + (i / (points.length - 1)) * (width - 2 * pad)).toFixed(1);
  const svg = el("svg", {
    viewBox: `0 0 ${width} ${height}`, class: "durations", role: "img",
    "aria-label": `${label}: ${points.length} attempt(s), P50 ${format(p50Ms)}, P95 ${format(p95Ms)}`,
  });
  svg.appendChild(el("line", { x1: 0, y1: height - pad, x2: width, y2: height - pad, class: "axis" }));
  for (const [name, v] of [["p50", p50Ms], ["p95", p95Ms]]) {
    if (v === null || v === undefined) continue;
    const line = el("line", { x1: 0, y1: y(v), x2: width, y2: y(v), class: `mark ${name}`, "data-line": name, "data-ms": v });
    const title = document.createElementNS(SVG, "title");
    title.textContent = `${name.toUpperCase()} ${format(v)}`;
    line.appendChild(title);
    svg.appendChild(line);
  }
  if (points.length > 1) svg.appendChild(el("polyline", { points: points.map((p, i) => `${x(i)},${y(p.ms)}`).join(" "), class: "line" }));
  points.forEach((p, i) => {
    const dot = el("circle", { cx: x(i), cy: y(p.ms), r: 4, class: "dot", "data-status": p.status, "data-ms": p.ms });
    const title = document.createElementNS(SVG, "title");
    title.textContent = p.title;
    dot.appendChild(title);
    svg.appendChild(dot);
  });
  return svg;
}
