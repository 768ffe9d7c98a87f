// The pair page: two clips on one shared clock, keyboard answers, prefetch, undo; a briefing to agree to
// before the first pair, and practice pairs whose right answer is shown after the choice.
//
// Keys: ← left better, → right better, ↑ tie, ↓ can't tell, s skip, z undo, space play/pause,
// , and . frame step, [ and ] speed, l loop, f flip, 1 / 2 solo side, v cycle views.
// The page exposes window.labelApp (state and timings) and sets data-assignment / data-ready on <body>
// so scripted sessions can follow it.
"use strict";
(function () {
  const cfg = JSON.parse(document.getElementById("config").textContent);
  const $ = (id) => document.getElementById(id);
  const SPEEDS = [0.25, 0.5, 1, 1.5, 2];
  const app = {
    buffer: [],          // assignments fetched ahead: {data, media: {left, right}}
    current: null,       // the assignment on screen
    shownAt: 0,          // performance.now() when the current pair became ready
    pressedAt: null,     // when the last answer key was pressed (for submit → next-ready timings)
    timings: [],         // ms from an answer to the next pair being ready
    submitted: 0, acked: 0, errors: [],
    answered: new Set(), // assignments answered on this page: a refill racing their submit must not show them again
    pending: Promise.resolve(),
    fetching: null,
    rate: 1, loop: true, playing: false,
    view: "side", solo: "left",
    feedback: false,     // a practice answer's feedback is on screen, waiting for "continue"
  };
  window.labelApp = app;

  function flash(text) { $("flash").textContent = text; }

  async function api(path, body) {
    const init = body === undefined ? { credentials: "same-origin" } : {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": cfg.csrf },
      body: JSON.stringify(body),
    };
    const response = await fetch(path, init);
    const data = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
    if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
    return data;
  }

  // ---- media -------------------------------------------------------------------------------------
  function makeMedia(assignment, side) {
    const spec = assignment[side];
    if (assignment.kind === "text") {
      const div = document.createElement("div");
      div.className = "text";
      div.textContent = spec.text;
      return div;
    }
    const video = document.createElement("video");
    video.muted = true;
    video.playsInline = true;
    video.preload = "auto";
    video.src = spec.src;
    video.load();
    return video;
  }

  function prepare(assignment) {
    return { data: assignment, media: { left: makeMedia(assignment, "left"), right: makeMedia(assignment, "right") } };
  }

  function known(id) {
    return app.answered.has(id) || (app.current && app.current.data.id === id) || app.buffer.some((b) => b.data.id === id);
  }

  async function refill() {
    if (app.fetching) return app.fetching;
    app.fetching = (async () => {
      try {
        const data = await api(`api/next?n=${cfg.prefetch}`);
        for (const a of data.assignments) if (!known(a.id)) app.buffer.push(prepare(a));
        if (!data.assignments.length && !app.current) showStatus(data.status);
      } catch (err) {
        flash(err.message);
      } finally {
        app.fetching = null;
      }
    })();
    return app.fetching;
  }

  function showStatus(status) {
    $("pair").hidden = true;
    $("status").hidden = false;
    $("status").textContent = status ? status.message : "no pairs to label yet";
    const p = status && status.progress;
    if (p) $("progress").textContent = `${p.queries - p.open_queries} of ${p.queries} pairs answered`;
    document.body.dataset.assignment = "";
    document.body.dataset.ready = "0";
    document.body.dataset.empty = "1";
  }

  function videos() {
    if (!app.current || app.current.data.kind !== "video") return [];
    return [app.current.media.left, app.current.media.right];
  }

  function whenReady(el) {
    if (!(el instanceof HTMLVideoElement) || el.readyState >= 2) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => { el.removeEventListener("loadeddata", done); el.removeEventListener("error", done); resolve(); };
      el.addEventListener("loadeddata", done);
      el.addEventListener("error", done);
    });
  }

  async function showNext() {
    pause();
    if (!app.buffer.length) await refill();
    if (!app.buffer.length) {
      app.current = null;
      setTimeout(poll, 2000);
      return;
    }
    app.current = app.buffer.shift();
    const { data, media } = app.current;
    document.body.dataset.ready = "0";
    document.body.dataset.empty = "0";
    document.body.dataset.assignment = String(data.id);
    $("status").hidden = true;
    $("pair").hidden = false;
    $("practice").hidden = !data.practice;
    $("slowed").hidden = !data.rate;
    $("slowed").textContent = data.rate ? `slowed down: ${data.rate.toFixed(2)}× real time` : "";
    document.body.dataset.rate = String(data.rate || 1);
    markScored(data);
    $("prompt").hidden = data.kind !== "text";
    $("prompt").textContent = data.prompt || "";
    $("controls").hidden = data.kind !== "video";
    $("media-left").replaceChildren(media.left);
    $("media-right").replaceChildren(media.right);
    $("note").value = "";
    for (const input of document.querySelectorAll("#rubric input")) input.checked = false;
    applyView();
    await Promise.all([whenReady(media.left), whenReady(media.right)]);
    if (app.current !== null && app.current.data.id !== data.id) return;  // replaced meanwhile (undo)
    seek(0);
    shadeScored();
    app.shownAt = performance.now();
    if (app.pressedAt !== null) {
      app.timings.push(app.shownAt - app.pressedAt);
      app.pressedAt = null;
    }
    document.body.dataset.ready = "1";
    if (data.kind === "video") play();
    refill();  // keep the buffer full while the person watches
  }

  async function poll() {
    if (app.current) return;
    await refill();
    if (app.buffer.length) showNext(); else setTimeout(poll, 2000);
  }

  // ---- the shared clock --------------------------------------------------------------------------
  // The longer clip is the master; the other is slaved to it every animation frame: a small drift is
  // absorbed by nudging its playback rate, a large one (after a stall) by a seek.
  function master() {
    const [a, b] = videos();
    if (!a) return null;
    return (b.duration || 0) > (a.duration || 0) ? b : a;
  }
  function duration() {
    const vs = videos();
    return vs.length ? Math.max(...vs.map((v) => (isFinite(v.duration) ? v.duration : 0))) : 0;
  }
  function fps() { return (app.current && app.current.data.fps) || 30; }

  function seek(t) {
    const d = duration();
    t = Math.max(0, Math.min(t, Math.max(d - 1e-3, 0)));
    for (const v of videos()) v.currentTime = Math.min(t, Math.max((v.duration || t) - 1e-3, 0));
    drawTime(t);
  }

  function play() {
    const vs = videos();
    if (!vs.length) return;
    const m = master();
    if (m.currentTime >= duration() - 1e-2) seek(0);
    for (const v of vs) { v.playbackRate = app.rate; if (v !== m) v.currentTime = m.currentTime; }
    app.playing = true;
    $("play").textContent = "❚❚ pause";
    for (const v of vs) v.play().catch(() => {});
  }

  function pause() {
    const vs = videos();
    app.playing = false;
    $("play").textContent = "▶ play";
    if (!vs.length) return;
    const m = master();
    for (const v of vs) v.pause();
    for (const v of vs) if (v !== m) v.currentTime = Math.min(m.currentTime, v.duration || m.currentTime);
  }

  function toggle() { if (app.playing) pause(); else play(); }

  function step(frames) {
    pause();
    const m = master();
    if (m) seek(m.currentTime + frames / fps());
  }

  function setRate(rate) {
    app.rate = rate;
    $("speed").value = String(rate);
    for (const v of videos()) v.playbackRate = rate;
  }

  // A clip with context around the judged segment: shade the scored part on the timeline (once the
  // duration is known) and say so next to it.
  function markScored(data) {
    const scored = data.kind === "video" && data.left && data.left.scored;
    app.scored = scored || null;
    $("scored").hidden = !scored;
    $("scored").textContent = scored ? `judge the highlighted part: ${scored[0].toFixed(2)}–${scored[1].toFixed(2)} s` : "";
    document.body.dataset.scored = scored ? scored.join(",") : "";
    $("scrub").style.background = "";
  }

  function shadeScored() {
    const d = duration();
    if (!app.scored || !d) return;
    const a = (100 * app.scored[0]) / d, b = (100 * Math.min(app.scored[1], d)) / d;
    $("scrub").style.background = `linear-gradient(to right, #ddd ${a}%, #f2b632 ${a}%, #f2b632 ${b}%, #ddd ${b}%)`;
  }

  function drawTime(t) {
    const d = duration();
    $("time").textContent = `${t.toFixed(2)} / ${d.toFixed(2)} s`;
    if (document.activeElement !== $("scrub")) $("scrub").value = d ? String(Math.round((1000 * t) / d)) : "0";
  }

  function tick() {
    const vs = videos();
    if (vs.length && app.playing) {
      const m = master();
      const d = duration();
      if (m.ended || m.currentTime >= d - 1e-3) {
        if (app.loop) { seek(0); play(); } else pause();
      } else {
        for (const v of vs) {
          if (v === m) continue;
          if (v.ended || v.currentTime >= (v.duration || 0) - 1e-3) continue;  // the shorter clip waits at its end
          const drift = v.currentTime - m.currentTime;
          if (Math.abs(drift) > 0.1) v.currentTime = m.currentTime;
          else v.playbackRate = app.rate * (1 - Math.max(-0.1, Math.min(0.1, drift * 2)));
          if (v.paused) v.play().catch(() => {});
        }
      }
      drawTime(m.currentTime);
    }
    requestAnimationFrame(tick);
  }
  requestAnimationFrame(tick);

  // ---- views -------------------------------------------------------------------------------------
  function applyView() {
    const stage = $("stage");
    stage.className = `stage view-${app.view}`;
    const single = app.view !== "side";
    $("pane-left").classList.toggle("hidden", single && app.solo !== "left");
    $("pane-right").classList.toggle("hidden", single && app.solo !== "right");
    $("view").value = app.view;
  }
  function setView(view) { app.view = view; applyView(); }
  function flip() { app.solo = app.solo === "left" ? "right" : "left"; if (app.view === "side") app.view = "flip"; applyView(); }

  // ---- answers -----------------------------------------------------------------------------------
  function rubricAnswers() {
    const out = {};
    for (const c of document.querySelectorAll("#rubric .criterion")) {
      const checked = c.querySelector("input:checked");
      if (checked) out[c.dataset.name] = checked.value;
    }
    return out;
  }

  function answer(value) {
    if (!app.current || document.body.dataset.ready !== "1") return;
    const seconds = (performance.now() - app.shownAt) / 1000;
    if (value !== "skip" && seconds < cfg.minWatch) {
      flash(`Watch the pair for at least ${cfg.minWatch} s before answering (${seconds.toFixed(1)} s so far).`);
      return;
    }
    flash("");
    const body = { assignment: app.current.data.id, answer: value, rubric: rubricAnswers(), note: $("note").value, seconds };
    if (app.current.data.practice) { practiceAnswer(body); return; }
    app.submitted += 1;
    app.pressedAt = performance.now();
    app.answered.add(body.assignment);
    // Send in order, but do not wait for the server before showing the next pair.
    app.pending = app.pending.then(() => api("api/submit", body)).then(
      () => { app.acked += 1; document.body.dataset.acked = String(app.acked); },
      (err) => { app.answered.delete(body.assignment); app.errors.push(err.message); flash(`Not saved: ${err.message}`); },
    );
    showNext();
  }

  // A practice pair: wait for the server's verdict and show it; the next pair comes on "continue".
  function practiceAnswer(body) {
    pause();
    app.feedback = true;
    document.body.dataset.ready = "0";
    app.pending = app.pending.then(() => api("api/submit", body)).then(
      (data) => {
        const p = data.practice;
        const side = p.expected === "left" ? "left" : "right";
        $("feedback-text").textContent = p.correct
          ? `Correct: the ${side} clip was the better one.`
          : `Not quite: the ${side} clip was the better one. Watch it again before you continue.`;
        $("feedback").className = `feedback ${p.correct ? "correct" : "wrong"}`;
        $("feedback").hidden = false;
        document.body.dataset.feedback = p.correct ? "correct" : "wrong";
        document.body.dataset.practiced = String(Number(document.body.dataset.practiced || 0) + 1);
        $("continue").focus();
      },
      (err) => { app.feedback = false; document.body.dataset.ready = "1"; flash(`Not saved: ${err.message}`); },
    );
  }

  function continueAfterFeedback() {
    if (!app.feedback || $("feedback").hidden) return;
    app.feedback = false;
    $("feedback").hidden = true;
    document.body.dataset.feedback = "";
    app.answered.add(app.current.data.id);
    app.current = null;
    showNext();
  }

  async function undo() {
    await app.pending;
    try {
      const data = await api("api/undo", {});
      app.answered.delete(data.assignment.id);
      pause();
      if (app.current) app.buffer.unshift(app.current);
      app.buffer = app.buffer.filter((b) => b.data.id !== data.assignment.id);
      app.buffer.unshift(prepare(data.assignment));
      app.current = null;
      flash("Undone: answer this pair again.");
      await showNext();
    } catch (err) {
      flash(err.message);
    }
  }

  // ---- wiring ------------------------------------------------------------------------------------
  for (const button of document.querySelectorAll("[data-answer]")) {
    button.addEventListener("click", () => answer(button.dataset.answer));
  }
  $("undo").addEventListener("click", undo);
  $("continue").addEventListener("click", continueAfterFeedback);
  $("play").addEventListener("click", toggle);
  $("back").addEventListener("click", () => step(-1));
  $("fwd").addEventListener("click", () => step(1));
  $("speed").addEventListener("change", (e) => setRate(parseFloat(e.target.value)));
  $("loop").addEventListener("change", (e) => { app.loop = e.target.checked; });
  $("view").addEventListener("change", (e) => setView(e.target.value));
  $("scrub").addEventListener("input", (e) => { pause(); seek((duration() * parseFloat(e.target.value)) / 1000); });

  const KEYS = {
    ArrowLeft: () => answer("left"), ArrowRight: () => answer("right"),
    ArrowUp: () => answer("tie"), ArrowDown: () => answer("cant_tell"),
    s: () => answer("skip"), z: () => undo(), " ": () => toggle(),
    ",": () => step(-1), ".": () => step(1),
    "[": () => setRate(SPEEDS[Math.max(0, SPEEDS.indexOf(app.rate) - 1)]),
    "]": () => setRate(SPEEDS[Math.min(SPEEDS.length - 1, SPEEDS.indexOf(app.rate) + 1)]),
    l: () => { app.loop = !app.loop; $("loop").checked = app.loop; },
    f: () => flip(),
    "1": () => { app.solo = "left"; setView("solo"); }, "2": () => { app.solo = "right"; setView("solo"); },
    v: () => setView({ side: "flip", flip: "solo", solo: "side" }[app.view]),
  };
  document.addEventListener("keydown", (e) => {
    const typing = e.target instanceof HTMLTextAreaElement || (e.target instanceof HTMLInputElement && e.target.type === "text");
    if (typing) { if (e.key === "Escape") e.target.blur(); return; }
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (app.feedback) { if (e.key === "Enter") { e.preventDefault(); continueAfterFeedback(); } return; }
    const action = KEYS[e.key];
    if (!action) return;
    e.preventDefault();
    action();
  });

  async function showProgress() {
    try {
      const s = await api("api/status");
      const p = s.progress;
      $("progress").textContent = `${p.queries - p.open_queries} of ${p.queries} pairs answered · ${p.waiting_for_clips} waiting for clips`;
    } catch (err) { /* the pair page keeps working without the counter */ }
  }
  showProgress();
  setInterval(showProgress, 10000);
  setInterval(() => { if (app.current) refill(); }, 30000);  // /api/next renews the leases this page holds

  app.seek = seek; app.play = play; app.pause = pause; app.videos = videos;
  if (cfg.briefing) {
    // Nothing is fetched before the annotator agrees (the server refuses /api/next until then, too).
    $("agree").addEventListener("click", async () => {
      try {
        await api("api/agree", {});
        $("briefing").hidden = true;
        document.body.dataset.agreed = "1";
        showNext();
      } catch (err) { flash(err.message); }
    });
  } else {
    showNext();
  }
})();
