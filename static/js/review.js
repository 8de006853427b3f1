// The review page: the workspace's steps read-only; "Edit" switches on the
// annotator's keyboard labelling (j/k, 1/2/3, e, N) into the review form.
// Model text is never turned into markup: this script only sets classes and
// the hidden step_labels value.
"use strict";
(function () {
  const edit = document.getElementById("review-edit");
  const steps = Array.from(document.querySelectorAll("#trace-steps .step"));
  const KATEX_OPTIONS = {
    delimiters: [
      { left: "$$", right: "$$", display: true },
      { left: "\\[", right: "\\]", display: true },
      { left: "\\(", right: "\\)", display: false },
    ],
    throwOnError: false, trust: false, strict: "ignore", maxExpand: 500, maxSize: 20,
  };
  window.addEventListener("load", () => {
    if (typeof window.renderMathInElement !== "function") return;
    document.querySelectorAll(".tx, .math").forEach((el) => {
      if (el.textContent.length > 200000) return;
      try { window.renderMathInElement(el, KATEX_OPTIONS); } catch (e) { /* plain text */ }
    });
  });
  // A fold's steps arrived (folds.js): the new elements take their placeholders' places.
  document.addEventListener("reflectlab:steps-loaded", (ev) => {
    const fresh = Array.from(document.querySelectorAll("#trace-steps .step"));
    if (!ev.detail.root.closest("#trace-steps") || fresh.length !== steps.length) return;
    steps.splice(0, steps.length, ...fresh);
    if (typeof window.renderMathInElement === "function") {
      ev.detail.root.querySelectorAll(".tx").forEach((el) => {
        try { window.renderMathInElement(el, KATEX_OPTIONS); } catch (e) { /* plain text */ }
      });
    }
    document.dispatchEvent(new CustomEvent("reflectlab:review-steps", { detail: ev.detail }));
  });
  if (!edit) return;
  const form = edit.closest("form");
  const labelsField = form.elements.namedItem("step_labels");
  const firstField = form.elements.namedItem("first_error_step");
  let labels = {};
  try { labels = JSON.parse(labelsField.value || "{}"); } catch (e) { labels = {}; }
  let cur = -1;
  const CSS = { "1": "lab-p", "0": "lab-z", "-1": "lab-n" };

  function paint(i) {
    const el = steps[i];
    el.classList.remove("lab-p", "lab-z", "lab-n");
    const v = labels[String(i)];
    if (v !== undefined) el.classList.add(CSS[String(v)]);
  }
  function setCurrent(i) {
    if (!steps.length) return;
    i = Math.max(0, Math.min(steps.length - 1, i));
    if (cur >= 0) steps[cur].classList.remove("current");
    cur = i;
    const fold = steps[i].closest("details.fold");
    if (fold) fold.open = true;
    steps[i].classList.add("current");
    steps[i].scrollIntoView({ block: "nearest" });
  }
  function setLabel(value) {
    if (!edit.open || cur < 0) return;
    const key = String(cur);
    if (labels[key] === value) delete labels[key]; else labels[key] = value;
    labelsField.value = JSON.stringify(labels);
    paint(cur);
    if (labels[key] !== undefined) setCurrent(cur + 1);
  }
  function paintFirstError() {
    const v = firstField.value === "" ? null : parseInt(firstField.value, 10);
    steps.forEach((el, i) => el.classList.toggle("first-error", v === i));
    const text = document.getElementById("first-error-text");
    if (text) {
      text.textContent = v === null || Number.isNaN(v) ? "Not set."
        : v === -1 ? "No error in this trace." : `First error at step ${v}.`;
    }
  }
  function setFirstError(i) {
    if (!edit.open) return;
    firstField.value = String(i);
    if (i >= 0) { labels[String(i)] = -1; labelsField.value = JSON.stringify(labels); paint(i); }
    paintFirstError();
  }
  const KEYS = { "1": 1, "+": 1, "2": 0, "0": 0, "3": -1, "-": -1 };
  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || !edit.open) return;
    const t = ev.target;
    if (t && (t.tagName === "TEXTAREA" || t.tagName === "SELECT" ||
      (t.tagName === "INPUT" && !["checkbox", "radio", "button", "submit"].includes(t.type)))) return;
    const k = ev.key;
    if (k === "j") setCurrent(cur + 1);
    else if (k === "k") setCurrent(cur - 1);
    else if (k in KEYS) setLabel(KEYS[k]);
    else if (k === "e") setFirstError(Math.max(cur, 0));
    else if (k === "N") setFirstError(-1);
    else return;
    ev.preventDefault();
  });
  document.addEventListener("click", (ev) => {
    const action = ev.target.closest("[data-action]");
    if (action && action.dataset.action === "mark-error") setFirstError(Math.max(cur, 0));
    else if (action && action.dataset.action === "no-error") setFirstError(-1);
    const label = ev.target.closest("[data-label]");
    if (label) { setLabel(parseInt(label.dataset.label, 10)); return; }
    const step = ev.target.closest("#trace-steps .step");
    if (step && edit.open && !ev.target.closest("a, summary")) setCurrent(steps.indexOf(step));
  });
  firstField.addEventListener("input", paintFirstError);
  document.addEventListener("reflectlab:review-steps", (ev) => {
    const first = firstField.value === "" ? null : parseInt(firstField.value, 10);
    ev.detail.root.querySelectorAll(".step").forEach((el) => {
      const i = steps.indexOf(el);
      paint(i);
      el.classList.toggle("first-error", first === i);
      if (i === cur) { el.classList.add("current"); el.scrollIntoView({ block: "nearest" }); }
    });
  });
  edit.addEventListener("toggle", () => { if (edit.open && cur < 0) setCurrent(0); });
})();
