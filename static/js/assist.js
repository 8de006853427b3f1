// reflectlab workspace, model assistance: accept the top suggestion with g, and
// insert a remembered hint with Alt+1..5. Server-rendered, escaped partials only;
// this script reads data attributes and textContent, never builds markup.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const form = $("annotation-form");
  const csrf = form ? form.querySelector("[name=csrfmiddlewaretoken]").value : "";

  function typing(t) {
    return t && (t.tagName === "TEXTAREA" || t.tagName === "SELECT" ||
      (t.tagName === "INPUT" && !["checkbox", "radio", "button", "submit"].includes(t.type)));
  }
  function say(text) {
    const panel = $("assist-panel");
    if (!panel) return;
    let el = panel.querySelector(".assist-msg");
    if (!el) { el = document.createElement("p"); el.className = "assist-msg small error"; el.setAttribute("role", "alert"); panel.append(el); }
    el.textContent = text;
  }

  async function accept(button) {
    if (!form || button.disabled) return;
    button.disabled = true;
    try {
      // Save pending edits first, so the accept carries the current version.
      const ws = window.reflectlabWorkspace;
      if (ws && !(await ws.save())) { say("Your draft is not saved (see above); nothing accepted."); return; }
      const body = new FormData();
      body.append("version", form.elements.namedItem("version").value);
      const resp = await fetch(button.dataset.url, {
        method: "POST", body, credentials: "same-origin",
        headers: { "X-CSRFToken": csrf, Accept: "application/json" },
      }).catch(() => null);
      if (!resp) { say("Offline: not accepted."); return; }
      const data = await resp.json().catch(() => ({}));
      if (resp.ok) {
        form.elements.namedItem("version").value = String(data.annotation.version);
        if (ws && ws.markSaved) ws.markSaved();
        const item = button.closest("[data-suggestion]");
        const step = item && item.dataset.step;
        if (step) history.replaceState(null, "", `#s${step}`);
        location.reload(); // the draft as the server now has it, suggestion filled in
        return;
      }
      if (resp.status === 409) {
        const now = data.current ? ` (now v${data.current.version})` : "";
        say(`Someone saved this annotation first${now}; reload to see theirs.`);
        return;
      }
      const errors = data.errors || {};
      say(Object.values(errors).flat().join(" ") || `Not accepted (server answered ${resp.status}).`);
    } finally {
      button.disabled = false;
    }
  }

  function insertHint(index) {
    const item = document.querySelector(`#hint-memory [data-index="${index}"]`);
    const box = $("hint");
    if (!item || !box || box.disabled) return false;
    const text = item.closest("li").querySelector(".memory-hint").textContent.trim();
    box.value = box.value.trim() ? `${box.value.trim()} ${text}` : text;
    box.dispatchEvent(new Event("input", { bubbles: true })); // the workspace autosaves
    box.focus();
    return true;
  }

  function loadMemory() {
    const holder = $("hint-memory");
    if (!holder || !window.htmx || !holder.dataset.url) return;
    const stepInput = $("hint-step");
    const step = stepInput && stepInput.value !== "" ? stepInput.value : (holder.dataset.step || "");
    window.htmx.ajax("GET", `${holder.dataset.url}?step=${encodeURIComponent(step)}`,
      { target: "#hint-memory", swap: "innerHTML" });
  }

  document.addEventListener("keydown", (ev) => {
    if (ev.altKey && !ev.ctrlKey && !ev.metaKey && /^Digit[1-9]$/.test(ev.code)) {
      if (insertHint(ev.code.slice(5))) ev.preventDefault();
      return;
    }
    if (ev.ctrlKey || ev.metaKey || ev.altKey || typing(ev.target)) return;
    if (ev.key === "g") {
      const button = document.querySelector("#assist-panel [data-action=accept-suggestion][aria-keyshortcuts=g]");
      if (button) { ev.preventDefault(); accept(button); }
    }
  });
  document.addEventListener("click", (ev) => {
    const a = ev.target.closest("[data-action=accept-suggestion], [data-action=insert-hint]");
    if (!a) return;
    ev.preventDefault();
    if (a.dataset.action === "accept-suggestion") accept(a);
    else insertHint(a.dataset.index);
  });
  document.addEventListener("focusin", (ev) => { if (ev.target && ev.target.id === "hint") loadMemory(); });
  document.addEventListener("change", (ev) => { if (ev.target && ev.target.id === "hint-step") loadMemory(); });
})();
