// Dashboard: polls /api/stats every 5 s and fills the tables.
"use strict";
(function () {
  const fmt = (v, digits = 2) => (v === null || v === undefined ? "–" : typeof v === "number" && !Number.isInteger(v) ? v.toFixed(digits) : String(v));
  const pct = (v) => (v === null || v === undefined ? "–" : (100 * v).toFixed(1) + " %");
  function cell(row, text) { const td = document.createElement("td"); td.textContent = text; row.appendChild(td); }
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
  refresh();
  setInterval(refresh, 5000);
})();
