// The annotation workspace: keyboard navigation and labelling, autosave with
// optimistic concurrency, regeneration from a hint, lazy KaTeX. Model text is
// never turned into markup here: the server escapes it and this script only
// reads classes and sets textContent.
"use strict";
(function () {
  const configEl = document.getElementById("ws-config");
  if (!configEl) return;
  const config = JSON.parse(configEl.textContent);
  const form = document.getElementById("annotation-form");
  const editable = !!form && form.dataset.editable === "1";
  const steps = Array.from(document.querySelectorAll("#trace-steps .step"));
  const $ = (id) => document.getElementById(id);
  const csrf = form ? form.querySelector("[name=csrfmiddlewaretoken]").value : "";
  let cur = -1;
  let regenerating = false; // a branch was started and its panel still polls
  let labels = Object.assign({}, (config.annotation && config.annotation.step_labels) || {});

  // ---- math (KaTeX auto-render, only \( \), \[ \], $$ $$; a lone $ is currency)
  const KATEX_OPTIONS = {
    delimiters: [
      { left: "$$", right: "$$", display: true },
      { left: "\\[", right: "\\]", display: true },
      { left: "\\(", right: "\\)", display: false },
    ],
    throwOnError: false,
    trust: false, // \href{javascript:…}, \url, \includegraphics do nothing
    strict: "ignore",
    maxExpand: 500,
    maxSize: 20,
    ignoredTags: ["script", "noscript", "style", "textarea", "pre", "code", "option", "kbd"],
  };
  const MATH_MAX_CHARS = 200000; // larger blocks stay plain text: reading beats rendering
  function renderMath(el) {
    if (el.dataset.math === "1" || typeof window.renderMathInElement !== "function") return;
    el.dataset.math = "1";
    if (el.textContent.length > MATH_MAX_CHARS) return;
    try { window.renderMathInElement(el, KATEX_OPTIONS); } catch (e) { /* leave the text as it is */ }
  }
  const mathObserver = "IntersectionObserver" in window
    ? new IntersectionObserver((entries) => {
      for (const entry of entries) {
        if (entry.isIntersecting) { renderMath(entry.target); mathObserver.unobserve(entry.target); }
      }
    }, { rootMargin: "800px 0px" })
    : null;
  function observeMath(root) {
    root.querySelectorAll(".tx, .math").forEach((el) => {
      if (mathObserver) mathObserver.observe(el); else renderMath(el);
    });
  }
  window.addEventListener("load", () => observeMath(document));

  // ---- navigation
  function setCurrent(i, opts) {
    if (!steps.length) return;
    i = Math.max(0, Math.min(steps.length - 1, i));
    if (cur >= 0 && steps[cur]) steps[cur].classList.remove("current");
    cur = i;
    const el = steps[i];
    el.classList.add("current");
    const fold = el.closest("details");
    if (fold && !fold.open) fold.open = true;
    if (!opts || opts.scroll !== false) el.scrollIntoView({ block: "nearest" });
    if ($("cur-step")) $("cur-step").textContent = String(i);
    if ($("cur-kind")) {
      const kind = (el.className.match(/k-(\w+)/) || [])[1] || "";
      $("cur-kind").textContent = kind.replace("_", " ");
    }
    syncLabelButtons();
  }
  function findFrom(start, dir, test) {
    for (let i = start; i >= 0 && i < steps.length; i += dir) if (test(steps[i])) return i;
    return -1;
  }
  const isReflection = (el) => el.classList.contains("k-reflection") || el.classList.contains("k-transition");
  const hasCandidate = (el) => !!el.querySelector("mark.cand");
  function jump(dir, test, what) {
    const i = findFrom(cur + dir, dir, test);
    if (i >= 0) setCurrent(i); else flash(`No ${dir > 0 ? "next" : "previous"} ${what}.`);
  }
  function toggleFolds() {
    if (window.reflectlabFolds) { window.reflectlabFolds.toggleAll(); return; }
    const folds = Array.from(document.querySelectorAll("#trace-steps details.fold"));
    const open = folds.some((d) => !d.open);
    folds.forEach((d) => { d.open = open; });
  }

  // ---- annotation state
  function field(name) { return form ? form.elements.namedItem(name) : null; }
  function labelClass(v) { return { 1: "lab-p", 0: "lab-z", "-1": "lab-n" }[String(v)]; }
  function paintLabel(i) {
    const el = steps[i];
    if (!el) return;
    el.classList.remove("lab-p", "lab-z", "lab-n");
    const v = labels[String(i)];
    if (v !== undefined) el.classList.add(labelClass(v));
  }
  function syncLabelButtons() {
    document.querySelectorAll(".label-buttons button").forEach((b) => {
      b.classList.toggle("on", labels[String(cur)] !== undefined && String(labels[String(cur)]) === b.dataset.label);
    });
  }
  function labelSummary() {
    const values = Object.values(labels);
    const count = (v) => values.filter((x) => x === v).length;
    if ($("label-summary")) {
      $("label-summary").textContent = `${values.length} of ${steps.length} steps labelled · ` +
        `${count(1)} good, ${count(0)} okay, ${count(-1)} bad`;
    }
  }
  function writeLabels() { field("step_labels").value = JSON.stringify(labels); labelSummary(); }
  // ---- undo (u, or the Undo button): step labels and the first error, newest first
  const history = [];
  function remember() {
    history.push({ labels: Object.assign({}, labels), first: field("first_error_step").value });
    if (history.length > 200) history.shift();
    const button = $("undo-button");
    if (button) button.disabled = false;
  }
  function undo() {
    if (!guardEditable()) return;
    const last = history.pop();
    const button = $("undo-button");
    if (button) button.disabled = history.length === 0;
    if (!last) { flash("Nothing to undo"); return; }
    labels = last.labels;
    field("first_error_step").value = last.first;
    steps.forEach((_, i) => paintLabel(i));
    writeLabels(); syncLabelButtons(); paintFirstError(); changed();
  }
  function setLabel(value, advance) {
    if (!guardEditable() || cur < 0) return;
    remember();
    const key = String(cur);
    if (labels[key] === value) delete labels[key]; else labels[key] = value;
    paintLabel(cur); writeLabels(); syncLabelButtons(); changed();
    if (advance !== false && labels[key] !== undefined && cur < steps.length - 1) setCurrent(cur + 1);
  }
  function firstErrorValue() {
    const v = field("first_error_step") && field("first_error_step").value;
    return v === "" || v === undefined || v === null ? null : parseInt(v, 10);
  }
  function paintFirstError() {
    const v = firstErrorValue();
    steps.forEach((el, i) => el.classList.toggle("first-error", v === i));
    const text = $("first-error-text");
    if (text) {
      text.textContent = v === null || Number.isNaN(v) ? "Not set (or press “no error”)."
        : v === -1 ? "No error in this trace." : `First error at step ${v}.`;
    }
  }
  function setFirstError(i) {
    if (!guardEditable()) return;
    remember();
    field("first_error_step").value = String(i);
    if (i >= 0) { labels[String(i)] = -1; paintLabel(i); writeLabels(); syncLabelButtons(); }
    paintFirstError(); changed();
  }
  function cycleVerdict() {
    if (!guardEditable()) return;
    const order = ["", "correct", "incorrect"];
    const now = (form.querySelector("[name=verdict]:checked") || { value: "" }).value;
    const next = order[(order.indexOf(now) + 1) % order.length];
    form.querySelector(`[name=verdict][value="${next}"]`).checked = true;
    flash(`Verdict: ${next || "none"}`);
    changed();
  }
  function guardEditable() {
    if (editable) return true;
    flash("This annotation is no longer a draft; it cannot change.");
    return false;
  }

  // ---- time spent while the page is visible
  let visibleSince = document.visibilityState === "visible" ? Date.now() : null;
  let pendingMs = 0;
  function takeElapsed() {
    if (visibleSince !== null) { pendingMs += Date.now() - visibleSince; visibleSince = Date.now(); }
    const secs = Math.floor(pendingMs / 1000);
    pendingMs -= secs * 1000;
    return secs;
  }
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") { visibleSince = Date.now(); return; }
    if (visibleSince !== null) { pendingMs += Date.now() - visibleSince; visibleSince = null; }
    if (editable && (dirty || pendingMs > 30000) && !conflicted) save({ keepalive: true });
  });

  // ---- autosave with compare-and-set versions
  let dirty = false;
  let conflicted = false;
  let timer = null;
  let inflight = null;
  function status(text, cls) {
    const el = $("save-status");
    if (!el) return;
    el.textContent = text;
    el.className = cls || "";
  }
  function changed() {
    if (!editable) return;
    dirty = true;
    if (conflicted) return;
    status("Unsaved changes…", "saving");
    clearTimeout(timer);
    timer = setTimeout(() => save(), 800);
  }
  function showErrors(errors) {
    const box = $("form-errors");
    if (!box) return;
    const lines = [];
    for (const [name, list] of Object.entries(errors || {})) {
      for (const e of list) lines.push(`${name === "__all__" ? "" : name + ": "}${e.message || e}`);
    }
    box.textContent = lines.join(" ");
  }
  function showConflict(theirs) {
    conflicted = true;
    status("Not saved: conflict", "failed");
    const banner = $("conflict-banner");
    const dl = $("conflict-theirs");
    dl.textContent = "";
    const rows = [
      ["Their version", theirs.version],
      ["State", theirs.state],
      ["First error", theirs.first_error_step === null ? "—" : theirs.first_error_step === -1 ? "no error" : `step ${theirs.first_error_step}`],
      ["Labels", `${Object.keys(theirs.step_labels || {}).length} steps`],
      ["Verdict", theirs.verdict || "—"],
      ["Hint", (theirs.hint || "—").slice(0, 300)],
      ["Critique", (theirs.critique || "—").slice(0, 300)],
    ];
    for (const [k, v] of rows) {
      const dt = document.createElement("dt"); dt.textContent = k;
      const dd = document.createElement("dd"); dd.textContent = String(v); dd.className = "pre-wrap";
      dl.append(dt, dd);
    }
    banner.querySelector("[data-action=overwrite]").dataset.version = String(theirs.version);
    banner.hidden = false;
    banner.scrollIntoView({ block: "nearest" });
  }
  function applySaved(annotation) {
    field("version").value = String(annotation.version);
    if ($("time-spent")) $("time-spent").textContent = `${annotation.time_spent_seconds} s`;
    // The site writes times as 16:32 (the `when` filter), not in the browser's locale.
    const now = new Date();
    const t = [now.getHours(), now.getMinutes()].map((n) => String(n).padStart(2, "0")).join(":");
    status(`Saved v${annotation.version} · ${t}`, "saved");
  }
  async function save(opts) {
    if (!form || !editable) return true;
    if (conflicted) return false;
    clearTimeout(timer);
    if (inflight) { await inflight; if (!dirty && !(opts && opts.force)) return !conflicted; }
    dirty = false;
    field("elapsed").value = String(takeElapsed());
    const body = new FormData(form);
    status("Saving…", "saving");
    inflight = fetch(config.urls.save, {
      method: "POST", body, credentials: "same-origin", keepalive: !!(opts && opts.keepalive),
      headers: { "X-CSRFToken": csrf, Accept: "application/json" },
    }).then(async (resp) => {
      const data = await resp.json().catch(() => ({}));
      if (resp.ok) { applySaved(data.annotation); showErrors({}); return true; }
      if (resp.status === 409) { dirty = true; showConflict(data.current); return false; }
      dirty = true;
      status("Not saved", "failed");
      showErrors(data.errors || { __all__: [`Server answered ${resp.status}.`] });
      return false;
    }).catch(() => {
      dirty = true;
      status("Offline — not saved, retrying", "failed");
      timer = setTimeout(() => save(), 5000);
      return false;
    }).finally(() => { inflight = null; field("elapsed").value = "0"; });
    return inflight;
  }
  function overwrite(version) {
    field("version").value = String(version);
    conflicted = false;
    $("conflict-banner").hidden = true;
    dirty = true;
    save({ force: true });
  }

  // ---- regenerate from the hint
  async function regenerate() {
    if (!guardEditable()) return;
    const hint = field("hint");
    if (!hint.value.trim()) { flash("Write a hint first (h)."); startHint(); return; }
    if (field("hint_step").value === "") field("hint_step").value = String(Math.max(cur, 0));
    if (!(await save({ force: true }))) return;
    status("Starting regeneration…", "saving");
    const resp = await fetch(config.urls.regenerate, {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: { "X-CSRFToken": csrf, "HX-Request": "true" },
    }).catch(() => null);
    if (!resp) { status("Regenerate failed: offline", "failed"); return; }
    if (resp.status === 409) { const d = await resp.json(); showConflict(d.current); return; }
    if (!resp.ok) {
      const d = await resp.json().catch(() => ({}));
      status("Not regenerated", "failed");
      showErrors(d.errors || { __all__: [`Server answered ${resp.status}.`] });
      return;
    }
    const version = resp.headers.get("X-Annotation-Version");
    if (version) field("version").value = version;
    status(`Saved v${field("version").value} · regenerating`, "saved");
    regenerating = true;
    const html = await resp.text();
    const holder = document.createElement("div");
    holder.innerHTML = html; // server-rendered, escaped partial
    const article = holder.firstElementChild;
    $("branches").append(article);
    $("ws-columns").classList.add("has-branches");
    if (window.htmx) window.htmx.process(article);
    article.scrollIntoView({ block: "nearest" });
  }
  function startHint() {
    if (!guardEditable()) return;
    field("hint_step").value = String(Math.max(cur, 0));
    changed();
    field("hint").focus();
  }

  // ---- submit and go to the next item
  async function submit() {
    if (!guardEditable()) return;
    if (firstErrorValue() === null && !(field("exit_reason") && field("exit_reason").value)) {
      flash("Mark the first wrong step (e) or “no error” before submitting.");
      field("first_error_step").focus();
      return;
    }
    if (!(await save({ force: true }))) return;
    field("elapsed").value = String(takeElapsed());
    form.action = config.urls.submit;
    submitting = true;
    HTMLFormElement.prototype.submit.call(form);
  }
  let submitting = false;

  // ---- small messages
  let flashTimer = null;
  function flash(text) {
    let el = $("ws-flash");
    if (!el) {
      el = document.createElement("div");
      el.id = "ws-flash";
      el.setAttribute("role", "status");
      el.style.cssText = "position:fixed;bottom:1rem;left:50%;transform:translateX(-50%);background:#1d1f24;color:#fff;padding:.4rem .9rem;border-radius:6px;z-index:60;font-size:.9rem";
      document.body.append(el);
    }
    el.textContent = text;
    el.hidden = false;
    clearTimeout(flashTimer);
    flashTimer = setTimeout(() => { el.hidden = true; }, 2200);
  }
  function toggleHelp(force) {
    const o = $("shortcuts");
    o.hidden = force === undefined ? !o.hidden : !force;
  }

  // ---- wiring
  const LABEL_KEYS = { "1": 1, "+": 1, "=": 1, "2": 0, "0": 0, "3": -1, "-": -1 };
  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const t = ev.target;
    const typing = t && (t.tagName === "TEXTAREA" || t.tagName === "SELECT" ||
      (t.tagName === "INPUT" && !["checkbox", "radio", "button", "submit"].includes(t.type)));
    if (ev.key === "Escape") {
      if (!$("shortcuts").hidden) toggleHelp(false);
      else if (typing) t.blur();
      return;
    }
    if (typing) return;
    const k = ev.key;
    let handled = true;
    if (k === "j") setCurrent(cur + 1);
    else if (k === "k") setCurrent(cur - 1);
    else if (k in LABEL_KEYS) { if (!window.__sectionLabel || !window.__sectionLabel(LABEL_KEYS[k])) setLabel(LABEL_KEYS[k]); }
    else if (k === "e") setFirstError(Math.max(cur, 0));
    else if (k === "N") setFirstError(-1);
    else if (k === "E") { if (field("error_category")) field("error_category").focus(); }
    else if (k === "n" || k === "]") jump(1, isReflection, "reflection");
    else if (k === "p" || k === "[") jump(-1, isReflection, "reflection");
    else if (k === "a") jump(1, hasCandidate, "candidate answer");
    else if (k === "A") jump(-1, hasCandidate, "candidate answer");
    else if (k === "z") toggleFolds();
    else if (k === "h") startHint();
    else if (k === "r") regenerate();
    else if (k === "c") { if (field("critique")) field("critique").focus(); }
    else if (k === "v") cycleVerdict();
    else if (k === "s") submit();
    else if (k === "u") undo();
    else if (k === "?") toggleHelp();
    else handled = false;
    if (handled) ev.preventDefault();
  });

  document.addEventListener("click", (ev) => {
    const action = ev.target.closest("[data-action]");
    if (action) {
      const a = action.dataset.action;
      if (a === "help") toggleHelp();
      else if (a === "prev-reflection") jump(-1, isReflection, "reflection");
      else if (a === "next-reflection") jump(1, isReflection, "reflection");
      else if (a === "next-candidate") jump(1, hasCandidate, "candidate answer");
      else if (a === "toggle-folds") toggleFolds();
      else if (a === "mark-error") setFirstError(Math.max(cur, 0));
      else if (a === "no-error") setFirstError(-1);
      else if (a === "undo") undo();
      else if (a === "overwrite") overwrite(parseInt(action.dataset.version, 10));
      else if (a === "regenerate") { ev.preventDefault(); regenerate(); }
      else if (a === "submit") { ev.preventDefault(); submit(); }
      else if (a === "reload-theirs") return; // a plain link: reload the page
      return;
    }
    const label = ev.target.closest("[data-label]");
    if (label) { setLabel(parseInt(label.dataset.label, 10), false); return; }
    const step = ev.target.closest("#trace-steps .step");
    if (step && !ev.target.closest("a, summary")) setCurrent(steps.indexOf(step), { scroll: false });
    if (ev.target === $("shortcuts")) toggleHelp(false);
  });

  if (form) {
    form.addEventListener("input", (ev) => {
      if (ev.target.name === "first_error_step") paintFirstError();
      changed();
    });
    form.addEventListener("change", (ev) => {
      if (ev.target.type === "radio" || ev.target.type === "checkbox" || ev.target.tagName === "SELECT") changed();
    });
    form.addEventListener("submit", (ev) => {
      if (submitting) return;
      // "Save draft" with scripts on: save in place instead of reloading.
      ev.preventDefault();
      dirty = true;
      save({ force: true });
    });
    if (!editable) form.querySelectorAll("input, textarea, select, button").forEach((el) => { el.disabled = true; });
  }
  // For static/js/assist.js: save before accepting a suggestion into the draft.
  window.reflectlabWorkspace = {
    save: () => save({ force: true }),
    markSaved: () => { dirty = false; },
  };
  window.addEventListener("beforeunload", (ev) => {
    if (editable && (dirty || conflicted) && !submitting) { ev.preventDefault(); ev.returnValue = ""; }
  });
  document.body.addEventListener("htmx:afterSwap", () => observeMath($("branches")));
  // A branch panel stops polling once the worker is done: say so where "regenerating" was.
  // (afterSettle: during the swap htmx still holds the old, pending panel.)
  document.body.addEventListener("htmx:afterSettle", () => {
    if (!regenerating || $("branches").querySelector("article.state-pending")) return;
    regenerating = false;
    const failed = $("branches").querySelector("article.branch:last-child.state-failed");
    status(`Saved v${field("version").value} · ${failed ? "regeneration failed" : "branch ready"}`,
      failed ? "failed" : "saved");
  });

  // A fold's steps arrived (folds.js): the new elements take their placeholders' places.
  document.addEventListener("reflectlab:steps-loaded", (ev) => {
    const fresh = Array.from(document.querySelectorAll("#trace-steps .step"));
    if (!ev.detail.root.closest("#trace-steps") || fresh.length !== steps.length) return;
    steps.splice(0, steps.length, ...fresh);
    const first = firstErrorValue();
    ev.detail.root.querySelectorAll(".step").forEach((el) => {
      const i = steps.indexOf(el);
      paintLabel(i);
      el.classList.toggle("first-error", first === i);
      if (i === cur) { el.classList.add("current"); el.scrollIntoView({ block: "nearest" }); }
    });
    observeMath(ev.detail.root);
  });

  labelSummary();
  const fromHash = /^#s(\d+)$/.exec(location.hash);
  if (steps.length) setCurrent(fromHash ? parseInt(fromHash[1], 10) : 0, { scroll: !!fromHash });
  // A link to a step (#s12, e.g. a suggestion's first error) may point into a closed
  // fold whose steps are not loaded yet: make it current, which opens and loads it.
  window.addEventListener("hashchange", () => {
    const m = /^#s(\d+)$/.exec(location.hash);
    if (m) setCurrent(parseInt(m[1], 10));
  });
  // For steps.js (step edits, reasons, reflection quality, section mode).
  window.__workspace = {
    save, changed, flash, guardEditable, steps, labels,
    get cur() { return cur; },
    setCurrent,
    setLabelAt(i, value) { if (value === null) delete labels[String(i)]; else labels[String(i)] = value; paintLabel(i); writeLabels(); syncLabelButtons(); },
    get version() { return field("version") && field("version").value; },
  };
})();
