// Small charts in SVG and plain elements: an outcome bar per notification, a breakdown chart and
// a delivery-over-time line. Each has a text equivalent for screen readers.

import { h } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) element.setAttribute(name, String(value));
  element.append(...children);
  return element;
}

/** Delivery statuses in groups a person reads at a glance. */
export const GROUPS = [
  { key: "sent", label: "Sent", statuses: ["sent"] },
  { key: "pending", label: "Pending", statuses: ["pending", "sending", "installing"] },
  { key: "failed", label: "Failed", statuses: ["failed", "blocked", "uninstalled", "notFound", "tooLarge", "unresolved", "installForbidden", "installUserNotFound", "installAppNotInCatalog", "installTimedOut"] },
  { key: "skipped", label: "Skipped", statuses: ["skippedOptedOut", "skippedUninstalled", "skippedArchived", "skippedBlocked", "retracted"] },
];

/** {sent, pending, failed, skipped, total} from a notification's counts. */
export function grouped(counts = {}) {
  const result = { total: 0 };
  for (const group of GROUPS) {
    result[group.key] = group.statuses.reduce((sum, s) => sum + (counts[s] || 0), 0);
    result.total += result[group.key];
  }
  return result;
}

/** A progress bar split into sent / pending / failed / skipped. */
export function progressBar(counts) {
  const g = grouped(counts);
  const label = GROUPS.map((group) => `${group.label} ${g[group.key]}`).join(", ") + ` of ${g.total}`;
  const bar = h("div", { class: "progress", role: "img", "aria-label": label, title: label });
  for (const group of GROUPS) {
    if (!g[group.key]) continue;
    const segment = h("span", { class: `segment ${group.key}` });
    // CSSOM, not a style attribute: allowed by the Content-Security-Policy.
    segment.style.width = `${(100 * g[group.key]) / g.total}%`;
    bar.append(segment);
  }
  return h("div", { class: "progress-cell" }, bar, h("span", { class: "progress-text", text: label }));
}

/** Horizontal bars, one per [label, value, className]. */
export function barChart(title, rows) {
  const width = 520;
  const rowHeight = 26;
  const labelWidth = 170;
  const max = Math.max(1, ...rows.map((r) => r[1]));
  const chart = svg("svg", { viewBox: `0 0 ${width} ${rows.length * rowHeight + 8}`, role: "img", "aria-label": title, class: "chart" },
    svg("title", {}, title));
  rows.forEach(([label, value, className], i) => {
    const y = i * rowHeight + 4;
    const length = ((width - labelWidth - 60) * value) / max;
    chart.append(
      svg("text", { x: labelWidth - 8, y: y + 16, "text-anchor": "end", class: "chart-label" }, label),
      svg("rect", { x: labelWidth, y, width: Math.max(length, value ? 2 : 0), height: rowHeight - 8, class: `bar ${className}` }),
      svg("text", { x: labelWidth + length + 6, y: y + 16, class: "chart-value" }, String(value)),
    );
  });
  return chart;
}

/** A cumulative line of [Date] instants: how many deliveries had ended by when. */
export function timeline(title, instants) {
  const width = 520;
  const height = 160;
  const pad = 36;
  const times = instants.map((d) => d.getTime()).filter((t) => !Number.isNaN(t)).sort((a, b) => a - b);
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title, class: "chart" }, svg("title", {}, title));
  if (times.length === 0) {
    chart.append(svg("text", { x: pad, y: height / 2, class: "chart-label" }, "No delivery has ended yet"));
    return chart;
  }
  const first = times[0];
  const span = Math.max(1, times[times.length - 1] - first);
  const x = (t) => pad + ((width - 2 * pad) * (t - first)) / span;
  const y = (n) => height - pad - ((height - 2 * pad) * n) / times.length;
  let path = `M ${x(first)} ${y(0)}`;
  times.forEach((t, i) => {
    path += ` L ${x(t)} ${y(i)} L ${x(t)} ${y(i + 1)}`;
  });
  const seconds = Math.round(span / 1000);
  chart.append(
    svg("line", { x1: pad, y1: height - pad, x2: width - pad, y2: height - pad, class: "axis" }),
    svg("line", { x1: pad, y1: pad, x2: pad, y2: height - pad, class: "axis" }),
    svg("path", { d: path, class: "line" }),
    svg("text", { x: pad, y: height - 10, class: "chart-label" }, new Date(first).toLocaleTimeString()),
    svg("text", { x: width - pad, y: height - 10, "text-anchor": "end", class: "chart-label" }, `+${seconds} s`),
    svg("text", { x: 4, y: pad + 4, class: "chart-label" }, String(times.length)),
  );
  return chart;
}
