// Step edits (split / merge / undo), reasons on -1 steps, DeltaBench reflection
// quality and section mode. Builds on workspace.js (window.__workspace). Model
// text is never turned into markup: this script reads data attributes only.
"use strict";
(function () {
  const configEl = document.getElementById("ws-config");
  const ws = window.__workspace;
  if (!configEl || !ws) return;
  const config = JSON.parse(configEl.textContent);
  const form = document.getElementById("annotation-form");
  if (!form) return;
  const $ = (id) => document.getElementById(id);
  const csrf = form.querySelector("[name=csrfmiddlewaretoken]").value;
  const UNDO_KEY = `reflectlab:step-undo:${config.trace}`;
  const readJson = (el, empty) => { try { return JSON.parse(el.value || empty); } catch (e) { return JSON.parse(empty); } };

  // ---- split / merge / undo (the server remaps every annotation of the trace)
  let lastClick = null; // {step, node, offset}: where the annotator clicked inside a step
  function undoStack() { try { return JSON.parse(sessionStorage.getItem(UNDO_KEY) || "[]"); } catch (e) { return []; } }
  function pushUndo(entry) { const s = undoStack(); s.push(entry); sessionStorage.setItem(UNDO_KEY, JSON.stringify(s.slice(-50))); }
  async function edit(op, offset, opts) {
    if (!ws.guardEditable()) return;
    if (!(await ws.save({ force: true }))) return; // never lose a label to the reload
    const body = new FormData();
    body.append("op", op); body.append("offset", String(offset));
    const resp = await fetch(config.urls.steps, {
      method: "POST", body, credentials: "same-origin",
      headers: { "X-CSRFToken": csrf, Accept: "application/json" },
    }).catch(() => null);
    if (!resp) { ws.flash("Offline: the steps were not edited."); return; }
    const data = await resp.json().catch(() => ({}));
    if (!resp.ok) {
      const errors = Object.values(data.errors || {}).flat();
      ws.flash(errors.join(" ") || `Not edited (${resp.status}).`);
      return;
    }
    if (!(opts && opts.undo)) pushUndo({ op: op === "split" ? "merge" : "split", offset });
    sessionStorage.setItem(`${UNDO_KEY}:cur`, String(Math.max(ws.cur, 0)));
    location.replace(location.pathname); // labels, first error and steps all come back from the server
  }
  function clickOffset(step) {
    // The click as an offset into the step text: the characters of .tx before it.
    // Rendered math changes those characters, so a step with math has no answer.
    const tx = step.querySelector(".tx");
    if (!lastClick || lastClick.step !== step || !tx || tx.querySelector(".katex")) return null;
    const range = document.createRange();
    range.setStart(tx, 0);
    try { range.setEnd(lastClick.node, lastClick.offset); } catch (e) { return null; }
    const text = range.cloneContents();
    text.querySelectorAll("button").forEach((b) => b.remove()); // the ✂ marks are not text
    return config.stepStarts[ws.steps.indexOf(step)] + text.textContent.length;
  }
  function splitOffset(step) {
    const starts = (config.splitPoints || [])[ws.steps.indexOf(step)] || [];
    const at = clickOffset(step);
    if (at !== null && starts.length) {
      // The sentence clicked: the last sentence start at or before the click, else the first.
      const before = starts.filter((o) => o <= at);
      return before.length ? before[before.length - 1] : starts[0];
    }
    const strong = step.querySelector(".split-at.strong");
    if (strong) return parseInt(strong.dataset.offset, 10);
    return starts.length ? starts[0] : null;
  }
  function splitCurrent() {
    const step = ws.steps[ws.cur];
    if (!step) return;
    const offset = splitOffset(step);
    if (offset === null) { ws.flash("No sentence to split at: click inside the step first."); return; }
    edit("split", offset);
  }
  function mergeNext() {
    const next = ws.steps[ws.cur + 1];
    if (!next) { ws.flash("The last step has nothing to merge with."); return; }
    edit("merge", config.stepStarts[ws.cur + 1]);
  }
  function undo() {
    const stack = undoStack();
    const entry = stack.pop();
    if (!entry) { ws.flash("Nothing to undo."); return; }
    sessionStorage.setItem(UNDO_KEY, JSON.stringify(stack));
    edit(entry.op, entry.offset, { undo: true });
  }

  // ---- a reason on each -1 step
  const reasonsEl = $("step-reasons");
  const reasons = readJson(reasonsEl, "{}");
  const reasonRow = $("step-reason-row");
  const reasonInput = $("step-reason");
  function syncReason() {
    if (!reasonRow) return;
    const bad = ws.labels[String(ws.cur)] === -1;
    reasonRow.hidden = !bad;
    if (bad && document.activeElement !== reasonInput) reasonInput.value = reasons[String(ws.cur)] || "";
  }
  function writeReasons() {
    for (const k of Object.keys(reasons)) if (ws.labels[k] !== -1 || !reasons[k].trim()) delete reasons[k];
    reasonsEl.value = JSON.stringify(reasons);
  }
  if (reasonInput) {
    reasonInput.addEventListener("input", (ev) => {
      ev.stopPropagation();
      reasons[String(ws.cur)] = reasonInput.value;
      writeReasons(); ws.changed();
    });
  }

  // ---- DeltaBench reflection quality, per episode (one editor for the current one)
  const qualityEl = $("reflection-quality");
  const quality = readJson(qualityEl, "{}");
  const QUALITIES = ["", "effective", "ineffective", "harmful"];
  const episodes = config.episodes || []; // [episode, first step, step count]
  const rqQuality = $("rq-quality");
  const rqShift = $("rq-shift");
  function episodeAt(i) { return episodes.find(([, first, n]) => first <= i && i < first + n) || null; }
  function paintEpisode(key) {
    const badge = document.querySelector(`#trace-steps .ep-episode[data-episode="${key}"]`);
    if (badge) badge.dataset.quality = (quality[key] && quality[key].quality) || "";
  }
  function syncEpisode() {
    if (!rqQuality) return;
    const e = episodeAt(Math.max(ws.cur, 0));
    $("rq-editor").hidden = !e;
    const where = $("rq-where");
    if (!e) { where.textContent = "Move to a step of an episode (n / p) to judge it."; return; }
    const [key, first, n] = e;
    where.textContent = `Episode ${key}: step${n > 1 ? "s" : ""} ${first}${n > 1 ? "–" + (first + n - 1) : ""}`;
    const entry = quality[String(key)] || {};
    rqQuality.value = entry.quality || "";
    rqShift.checked = !!entry.strategy_shift;
  }
  function writeQuality() {
    const e = episodeAt(Math.max(ws.cur, 0));
    if (!e) return;
    const key = String(e[0]);
    if (rqQuality.value || rqShift.checked) {
      quality[key] = { quality: rqQuality.value, strategy_shift: rqShift.checked };
    } else delete quality[key];
    qualityEl.value = JSON.stringify(quality);
    paintEpisode(key);
    $("rq-count").textContent = `${Object.keys(quality).length} of ${episodes.length}`;
    ws.changed();
  }
  if (rqQuality) {
    [rqQuality, rqShift].forEach((el) => el.addEventListener("change", (ev) => { ev.stopPropagation(); writeQuality(); }));
    Object.keys(quality).forEach(paintEpisode);
  }
  function cycleQuality() {
    if (!ws.guardEditable() || !rqQuality) return;
    const e = episodeAt(Math.max(ws.cur, 0));
    if (!e) { ws.flash("The current step is not in a reflection episode."); return; }
    rqQuality.value = QUALITIES[(QUALITIES.indexOf(rqQuality.value) + 1) % QUALITIES.length];
    writeQuality();
    ws.flash(`Episode ${e[0]}: ${rqQuality.value || "no quality"}`);
  }

  // ---- section mode: one label for every step of the section
  const sectionBox = $("section-mode");
  const sections = config.sections || [];
  function sectionOf(i) { return sections.find(([a, b]) => a <= i && i <= b) || [i, i]; }
  function paintSection() {
    document.querySelectorAll("#trace-steps .step.in-section").forEach((el) => el.classList.remove("in-section"));
    const summary = $("section-summary");
    if (!sectionBox || !sectionBox.checked) { if (summary) summary.hidden = true; return; }
    const [a, b] = sectionOf(Math.max(ws.cur, 0));
    for (let i = a; i <= b; i++) if (ws.steps[i]) ws.steps[i].classList.add("in-section");
    summary.hidden = false;
    summary.textContent = `Section: steps ${a}–${b} (${b - a + 1}); a label applies to all of them.`;
  }
  window.__sectionLabel = (value) => {
    if (!sectionBox || !sectionBox.checked) return false;
    if (!ws.guardEditable()) return true;
    const [a, b] = sectionOf(Math.max(ws.cur, 0));
    for (let i = a; i <= b; i++) ws.setLabelAt(i, value);
    ws.changed();
    if (b + 1 < ws.steps.length) ws.setCurrent(b + 1);
    return true;
  };
  if (sectionBox) sectionBox.addEventListener("change", (ev) => { ev.stopPropagation(); paintSection(); });

  // ---- wiring
  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const t = ev.target;
    if (t && (t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.tagName === "INPUT")) return;
    const k = ev.key;
    let handled = true;
    if (k === "x") splitCurrent();
    else if (k === "m") mergeNext();
    else if (k === "U") undo();
    else if (k === "q") cycleQuality();
    else if (k === "G") { if (sectionBox) { sectionBox.checked = !sectionBox.checked; paintSection(); } }
    else if (k === "w") {
      if (ws.labels[String(ws.cur)] === -1 && reasonInput) { syncReason(); reasonInput.focus(); }
      else if (field("first_error_step").value === String(ws.cur)) $("replacement-step").focus();
      else ws.flash("Label the step −1 first (3), then write why (w).");
    } else handled = false;
    if (handled) ev.preventDefault();
  });
  function field(name) { return form.elements.namedItem(name); }
  document.addEventListener("keyup", () => syncReason());
  document.addEventListener("click", (ev) => {
    const action = ev.target.closest("[data-action]");
    if (action) {
      const a = action.dataset.action;
      if (a === "split") { ev.stopPropagation(); edit("split", parseInt(action.dataset.offset, 10)); }
      else if (a === "split-current") splitCurrent();
      else if (a === "merge-next") mergeNext();
      else if (a === "undo-edit") undo();
      return;
    }
    const step = ev.target.closest("#trace-steps .step");
    if (step && step.contains(ev.target)) {
      const sel = window.getSelection();
      if (sel && sel.anchorNode && step.contains(sel.anchorNode)) {
        lastClick = { step, node: sel.anchorNode, offset: sel.anchorOffset };
      } else {
        lastClick = null;
      }
    }
  }, true);
  // Keep the reason box and the section in step with the current step.
  let seen = null;
  const observer = new MutationObserver(() => {
    if (seen === ws.cur) return; // our own class changes (in-section) are not a move
    seen = ws.cur; syncReason(); paintSection(); syncEpisode();
  });
  ws.steps.forEach((el) => observer.observe(el, { attributes: true, attributeFilter: ["class"] }));
  // Steps of a fold loaded on demand (folds.js) are new elements: watch them too.
  document.addEventListener("reflectlab:steps-loaded", (ev) => {
    ev.detail.root.querySelectorAll(".step").forEach((el) => observer.observe(el, { attributes: true, attributeFilter: ["class"] }));
    paintSection();
  });
  const back = sessionStorage.getItem(`${UNDO_KEY}:cur`);
  if (back !== null) { sessionStorage.removeItem(`${UNDO_KEY}:cur`); ws.setCurrent(parseInt(back, 10)); }
  syncReason(); writeReasons();
})();
