// Dashboard: polls /api/stats (tables) and /api/dashboard (plots) every few seconds. The plots are plain SVG
// drawn here (no chart library, nothing fetched from a CDN): the run's learning curve, the reward model's
// accuracy on gold questions, answers per minute per annotator, agreement over time, fitted reliability.
"use strict";
(function () {
  const fmt = (v, digits = 2) => (v === null || v === undefined ? "–" : typeof v === "number" && !Number.isInteger(v) ? v.toFixed(digits) : String(v));
  const pct = (v) => (v === null || v === undefined ? "–" : (100 * v).toFixed(1) + " %");
  const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];
  const SVG = "http://www.w3.org/2000/svg";
  const W = 460, H = 240, M = { left: 52, right: 12, top: 22, bottom: 30 };
  function cell(row, text) { const td = document.createElement("td"); td.textContent = text; row.appendChild(td); }
  function el(parent, name, attrs, text) {
    const node = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    parent.appendChild(node);
    return node;
  }
  function ticks(lo, hi, n = 4) {
    if (lo === hi) return [lo];
    const step = Math.pow(10, Math.floor(Math.log10((hi - lo) / n)));
    const nice = [1, 2, 5, 10].map((m) => m * step).find((s) => (hi - lo) / s <= n) || step * 10;
    const out = [];
    for (let t = Math.ceil(lo / nice) * nice; t <= hi + 1e-9; t += nice) out.push(+t.toPrecision(12));
    return out;
  }
  function short(v) { return Math.abs(v) >= 1000 ? (v / 1000).toFixed(Math.abs(v) >= 10000 ? 0 : 1) + "k" : String(+v.toPrecision(3)); }

  // series: [{name, points: [[x, y], ...]}]; y may be null (skipped). opts: xLabel, yMin, yMax, empty.
  function lineChart(svg, series, opts) {
    svg.replaceChildren();
    const pts = series.flatMap((s) => s.points.filter((p) => p[1] !== null && p[1] !== undefined));
    svg.dataset.points = String(pts.length);
    if (!pts.length) { el(svg, "text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "empty" }, opts.empty || "no data yet"); return; }
    let [x0, x1] = [Math.min(...pts.map((p) => p[0])), Math.max(...pts.map((p) => p[0]))];
    let [y0, y1] = [opts.yMin ?? Math.min(...pts.map((p) => p[1])), opts.yMax ?? Math.max(...pts.map((p) => p[1]))];
    if (x0 === x1) { x0 -= 1; x1 += 1; }
    if (y0 === y1) { y0 -= 1; y1 += 1; }
    const sx = (x) => M.left + ((x - x0) / (x1 - x0)) * (W - M.left - M.right);
    const sy = (y) => H - M.bottom - ((y - y0) / (y1 - y0)) * (H - M.top - M.bottom);
    for (const t of ticks(y0, y1)) {
      el(svg, "line", { x1: M.left, x2: W - M.right, y1: sy(t), y2: sy(t), class: "grid" });
      el(svg, "text", { x: M.left - 4, y: sy(t) + 4, "text-anchor": "end" }, short(t));
    }
    for (const t of ticks(x0, x1, 5)) el(svg, "text", { x: sx(t), y: H - M.bottom + 14, "text-anchor": "middle" }, short(t));
    el(svg, "line", { x1: M.left, x2: M.left, y1: M.top, y2: H - M.bottom, class: "axis" });
    el(svg, "line", { x1: M.left, x2: W - M.right, y1: H - M.bottom, y2: H - M.bottom, class: "axis" });
    el(svg, "text", { x: (M.left + W - M.right) / 2, y: H - 2, "text-anchor": "middle" }, opts.xLabel || "");
    let legendX = M.left;
    series.forEach((s, i) => {
      const color = COLORS[i % COLORS.length];
      const good = s.points.filter((p) => p[1] !== null && p[1] !== undefined);
      if (!good.length) return;
      el(svg, "polyline", { points: good.map((p) => `${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(" "), fill: "none", stroke: color, "stroke-width": 2, class: "series" });
      for (const p of good) el(svg, "circle", { cx: sx(p[0]), cy: sy(p[1]), r: 2.5, fill: color });
      el(svg, "rect", { x: legendX, y: 6, width: 10, height: 10, fill: color });
      el(svg, "text", { x: legendX + 14, y: 15 }, s.name);
      legendX += 24 + 6.5 * s.name.length;
    });
  }

  // rows: [{annotator, reliability, answers, gold_answers}]: horizontal bars on [0, 1] with ½ (a coin) marked.
  function reliabilityChart(svg, rows) {
    svg.replaceChildren();
    svg.dataset.points = String(rows.length);
    if (!rows.length) { el(svg, "text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "empty" }, "no decisive answers yet"); return; }
    const left = 90, right = W - 150, top = 10, bar = Math.min(26, (H - 40) / rows.length - 6);
    const sx = (p) => left + p * (right - left);
    rows.forEach((r, i) => {
      const y = top + i * (bar + 6);
      el(svg, "text", { x: left - 6, y: y + bar / 2 + 4, "text-anchor": "end" }, r.annotator.replace(/^human:/, ""));
      el(svg, "rect", { x: left, y, width: sx(r.reliability) - left, height: bar, fill: r.reliability >= 0.75 ? "#2ca02c" : r.reliability >= 0.6 ? "#ff7f0e" : "#d62728", class: "bar" });
      el(svg, "text", { x: sx(r.reliability) + 4, y: y + bar / 2 + 4 }, `${r.reliability.toFixed(2)} (${r.answers}, ${r.gold_answers} gold)`);
    });
    const axisY = top + rows.length * (bar + 6) + 4;
    el(svg, "line", { x1: sx(0.5), x2: sx(0.5), y1: top, y2: axisY, class: "axis", "stroke-dasharray": "4 3" });
    for (const t of [0, 0.5, 1]) el(svg, "text", { x: sx(t), y: axisY + 14, "text-anchor": "middle" }, String(t));
    el(svg, "text", { x: sx(0.5), y: axisY + 28, "text-anchor": "middle" }, "½ = coin flip; bar label: reliability (answers, gold)");
  }

  async function refreshPlots() {
    const response = await fetch("api/dashboard", { credentials: "same-origin" });
    if (!response.ok) return;
    const d = await response.json();
    const curve = d.curve.filter((r) => r.step !== null);
    lineChart(document.getElementById("plot-curve"), [
      { name: "true return", points: curve.map((r) => [r.step, r.return_true]) },
      { name: "learned return", points: curve.map((r) => [r.step, r.return_learned]) },
    ], { xLabel: "policy env steps", empty: "no policy episodes yet (the first round is still running)" });
    lineChart(document.getElementById("plot-gold"), [
      { name: "gold accuracy", points: curve.map((r) => [r.round, r.gold_accuracy]) },
      { name: "validation accuracy", points: curve.map((r) => [r.round, r.val_accuracy]) },
    ], { xLabel: "label round", yMin: 0, yMax: 1, empty: "no reward-model fit on gold questions yet" });
    const minutes = d.pace.t.map((t) => t / 60);
    lineChart(document.getElementById("plot-pace"), Object.entries(d.pace.per_minute).map(([name, v]) => ({
      name: name.replace(/^human:/, ""), points: v.map((y, i) => [minutes[i], y]) })), { xLabel: "minutes since the first answer", yMin: 0, empty: "no answers yet" });
    lineChart(document.getElementById("plot-agreement"), [
      { name: "raw agreement", points: d.agreement.map((a) => [a.t / 60, a.raw]) },
      { name: "Cohen's κ", points: d.agreement.map((a) => [a.t / 60, a.kappa]) },
    ], { xLabel: "minutes since the first answer", yMax: 1, empty: "no pair answered by two people yet" });
    reliabilityChart(document.getElementById("plot-reliability"), d.reliability);
    document.body.dataset.plotted = String(Number(document.body.dataset.plotted || 0) + 1);
  }

  async function refresh() {
    const response = await fetch("api/stats", { credentials: "same-origin" });
    if (!response.ok) { document.getElementById("state").textContent = (await response.json()).error; return; }
    const data = await response.json();
    const q = data.quality, p = data.progress;
    document.getElementById("state").textContent = `loop: ${data.state || "unknown"}${data.round != null ? ", round " + data.round : ""} — ${data.message}`;
    const overall = [
      ["queries posted", p.queries], ["still needing answers", p.open_queries], ["waiting for clips", p.waiting_for_clips],
      ["leased now", p.leased], ["gold questions", p.gold_queries], ["answers", q.judgments], ["answers in the last hour", q.per_hour_last_hour],
      ["gold accuracy", pct(q.gold_accuracy)], ["chose left", pct(q.left_rate)], ["raw agreement", pct(q.agreement_raw)],
      ["Cohen's κ (mean over pairs)", fmt(q.agreement_kappa)], ["Krippendorff's α", fmt(q.agreement_alpha)], ["shared pairs", q.shared_queries],
    ];
    const table = document.getElementById("overall");
    table.replaceChildren();
    for (const [name, value] of overall) { const row = table.insertRow(); cell(row, name); cell(row, fmt(value)); }
    const body = document.querySelector("#annotators tbody");
    body.replaceChildren();
    for (const a of q.per_annotator) {
      const row = body.insertRow();
      for (const v of [a.annotator, a.judgments, a.per_hour_last_hour, fmt(a.median_seconds, 1), a.gold_answered, pct(a.gold_accuracy),
        a.repeats, pct(a.self_consistency), pct(a.left_rate), fmt(a.left_z), pct(a.agreement_raw), fmt(a.agreement_kappa)]) cell(row, fmt(v));
    }
  }
  function tick() { refresh().catch(() => {}); refreshPlots().catch(() => {}); }
  tick();
  setInterval(tick, 3000);
})();
