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
  function splitOffset(step) {
    if (lastClick && lastClick.step === step) {
      // The last sentence start at or before the click; the first one after it otherwise.
      const anchors = Array.from(step.querySelectorAll("[data-offset]"));
      let best = null;
      for (const a of anchors) {
        const pos = lastClick.node.compareDocumentPosition(a);
        if (a === lastClick.node || pos & Node.DOCUMENT_POSITION_PRECEDING) best = a;
      }
      if (best) return parseInt(best.dataset.offset, 10);
      if (anchors.length) return parseInt(anchors[0].dataset.offset, 10);
    }
    const strong = step.querySelector(".split-at.strong");
    return strong ? parseInt(strong.dataset.offset, 10) : null;
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
    edit("merge", parseInt(next.dataset.start, 10));
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

  // ---- DeltaBench reflection quality, per episode
  const qualityEl = $("reflection-quality");
  const quality = readJson(qualityEl, "{}");
  const QUALITIES = ["", "effective", "ineffective", "harmful"];
  function writeQuality(li) {
    const key = li.dataset.episode;
    const q = li.querySelector(".rq-quality").value;
    const shift = li.querySelector(".rq-shift").checked;
    if (q || shift) quality[key] = { quality: q, strategy_shift: shift }; else delete quality[key];
    qualityEl.value = JSON.stringify(quality);
    const badge = document.querySelector(`#trace-steps .ep-episode[data-episode="${key}"]`);
    if (badge) badge.dataset.quality = q;
  }
  document.querySelectorAll("#reflection-panel li[data-episode]").forEach((li) => {
    li.addEventListener("change", (ev) => { ev.stopPropagation(); writeQuality(li); ws.changed(); });
    writeQuality(li);
  });
  function episodeAt(i) {
    // The episode whose first step is at or before step i, within its length.
    let found = null;
    document.querySelectorAll("#reflection-panel li[data-episode]").forEach((li) => {
      const a = li.querySelector("[data-step]");
      const first = parseInt(a.dataset.step, 10);
      const len = parseInt((li.querySelector(".muted").textContent.match(/(\d+) step/) || [0, 1])[1], 10);
      if (first <= i && i < first + len) found = li;
    });
    return found;
  }
  function cycleQuality() {
    if (!ws.guardEditable()) return;
    const li = episodeAt(Math.max(ws.cur, 0));
    if (!li) { ws.flash("The current step is not in a reflection episode."); return; }
    const sel = li.querySelector(".rq-quality");
    sel.value = QUALITIES[(QUALITIES.indexOf(sel.value) + 1) % QUALITIES.length];
    writeQuality(li); ws.changed();
    ws.flash(`Episode ${li.dataset.episode}: ${sel.value || "no quality"}`);
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
    else if (k === "u") undo();
    else if (k === "q") cycleQuality();
    else if (k === "g") { if (sectionBox) { sectionBox.checked = !sectionBox.checked; paintSection(); } }
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
      const node = sel && sel.anchorNode && step.contains(sel.anchorNode) ? sel.anchorNode : ev.target;
      lastClick = { step, node };
    }
  }, true);
  // Keep the reason box and the section in step with the current step.
  let seen = null;
  const observer = new MutationObserver(() => {
    if (seen === ws.cur) return; // our own class changes (in-section) are not a move
    seen = ws.cur; syncReason(); paintSection();
  });
  ws.steps.forEach((el) => observer.observe(el, { attributes: true, attributeFilter: ["class"] }));
  const back = sessionStorage.getItem(`${UNDO_KEY}:cur`);
  if (back !== null) { sessionStorage.removeItem(`${UNDO_KEY}:cur`); ws.setCurrent(parseInt(back, 10)); }
  syncReason(); writeReasons();
})();
